from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
CREATE TABLE IF NOT EXISTS "wechat_refunds" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "payment_id" BIGINT NOT NULL,
    "member_id" BIGINT NOT NULL,
    "out_refund_no" VARCHAR(64) NOT NULL UNIQUE,
    "principal_cents" BIGINT NOT NULL,
    "bonus_cents" BIGINT NOT NULL DEFAULT 0,
    "reason" VARCHAR(80) NOT NULL,
    "status" VARCHAR(12) NOT NULL DEFAULT 'processing',
    "refund_id" VARCHAR(32),
    "failure" VARCHAR(120),
    "created_by" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "settled_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_wechat_refu_payment_3b7c1d" ON "wechat_refunds" ("payment_id");
CREATE INDEX IF NOT EXISTS "idx_wechat_refu_member__9e4f2a" ON "wechat_refunds" ("member_id");
CREATE INDEX IF NOT EXISTS "idx_wechat_refu_status_6a0d8e" ON "wechat_refunds" ("status", "created_at");
COMMENT ON TABLE "wechat_refunds" IS 'Refunds of paid top-ups through WeChat Pay: the wallet debited when asked, credited back if refused.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP TABLE IF EXISTS "wechat_refunds";"""
