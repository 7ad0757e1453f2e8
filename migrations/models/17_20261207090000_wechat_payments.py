from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
CREATE TABLE IF NOT EXISTS "wechat_payments" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "out_trade_no" VARCHAR(32) NOT NULL UNIQUE,
    "member_id" BIGINT NOT NULL,
    "kind" VARCHAR(12) NOT NULL,
    "amount_cents" BIGINT NOT NULL,
    "bonus_cents" BIGINT NOT NULL DEFAULT 0,
    "openid" VARCHAR(64) NOT NULL,
    "status" VARCHAR(12) NOT NULL DEFAULT 'pending',
    "prepay_id" VARCHAR(64),
    "transaction_id" VARCHAR(32) UNIQUE,
    "topup_id" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "paid_at" TIMESTAMPTZ,
    "closed_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_wechat_paym_member__5d1f0a" ON "wechat_payments" ("member_id");
CREATE INDEX IF NOT EXISTS "idx_wechat_paym_status_8c2e4b" ON "wechat_payments" ("status", "created_at");
COMMENT ON TABLE "wechat_payments" IS 'WeChat Pay (JSAPI) orders of the mini-program: pending, paid or closed; credited once per transaction id.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP TABLE IF EXISTS "wechat_payments";"""
