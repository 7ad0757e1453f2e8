from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# Indexes a marketer's touch paid for on every row it writes and no read needs (a million-member touch writes
# about 200 000 recipients, coupons and messages at once):
# - touch_recipients (touch_id, grp): every read of a touch's recipients is served by the unique
#   (touch_id, member_id, period) index, which also reads one member-id range per step.
# - coupons (template_id): the first column of (template_id, member_id, issued_day) and of the unique
#   (template_id, member_id, source_ref).
# - messages (provider, provider_message_id): only messages a provider accepted have an id to look up by
#   (delivery receipts and inbound replies); the queued ones no longer enter that index.


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP INDEX IF EXISTS "idx_touch_recip_touch_i_8d16a8";
DROP INDEX IF EXISTS "idx_coupons_templat_6289ac";
DROP INDEX IF EXISTS "idx_messages_provide_1edf49";
CREATE INDEX IF NOT EXISTS "idx_messages_provider_id" ON "messages" ("provider", "provider_message_id")
    WHERE "provider_message_id" IS NOT NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP INDEX IF EXISTS "idx_messages_provider_id";
CREATE INDEX IF NOT EXISTS "idx_messages_provide_1edf49" ON "messages" ("provider", "provider_message_id");
CREATE INDEX IF NOT EXISTS "idx_coupons_templat_6289ac" ON "coupons" ("template_id");
CREATE INDEX IF NOT EXISTS "idx_touch_recip_touch_i_8d16a8" ON "touch_recipients" ("touch_id", "grp");"""
