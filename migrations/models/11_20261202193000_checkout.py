from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "checkout_sessions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "app_key_id" INT,
    "member_id" BIGINT NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "store_id" INT,
    "amount_cents" BIGINT NOT NULL,
    "items" JSONB NOT NULL,
    "coupon_ids" JSONB NOT NULL,
    "points" BIGINT NOT NULL DEFAULT 0,
    "balance_cents" BIGINT NOT NULL DEFAULT 0,
    "member_price_applied" BOOL NOT NULL DEFAULT False,
    "status" VARCHAR(12) NOT NULL DEFAULT 'open',
    "expires_at" TIMESTAMPTZ NOT NULL,
    "quote" JSONB NOT NULL,
    "order_id" BIGINT,
    "order_no" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL,
    "closed_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_checkout_se_member_status" ON "checkout_sessions" ("member_id", "status");
CREATE INDEX IF NOT EXISTS "idx_checkout_se_status_expires" ON "checkout_sessions" ("status", "expires_at");
COMMENT ON TABLE "checkout_sessions" IS 'A web checkout in progress: what it holds until expires_at, a completion or a cancel.';
        CREATE TABLE IF NOT EXISTS "checkout_coupon_holds" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "coupon_id" BIGINT NOT NULL UNIQUE,
    "session_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_checkout_co_session" ON "checkout_coupon_holds" ("session_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "checkout_coupon_holds";
        DROP TABLE IF EXISTS "checkout_sessions";"""
