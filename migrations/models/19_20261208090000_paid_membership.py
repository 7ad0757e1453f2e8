from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
ALTER TABLE "wechat_payments" ADD COLUMN IF NOT EXISTS "plan" JSONB;
CREATE TABLE IF NOT EXISTS "memberships" (
    "member_id" BIGINT NOT NULL PRIMARY KEY,
    "plan_code" VARCHAR(20),
    "ends_at" TIMESTAMPTZ,
    "expired_noted_for" TIMESTAMPTZ,
    "version" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_memberships_ends_at_4c1e9b" ON "memberships" ("ends_at");
COMMENT ON TABLE "memberships" IS 'A member''s paid membership: until when it runs; the row is the member''s membership lock.';
CREATE TABLE IF NOT EXISTS "membership_periods" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "plan_code" VARCHAR(20) NOT NULL,
    "plan_name" VARCHAR(20) NOT NULL,
    "period" VARCHAR(8) NOT NULL,
    "price_cents" BIGINT NOT NULL,
    "benefits" JSONB NOT NULL,
    "payment_ref" VARCHAR(64) NOT NULL UNIQUE,
    "payment_id" BIGINT,
    "starts_at" TIMESTAMPTZ NOT NULL,
    "ends_at" TIMESTAMPTZ NOT NULL,
    "status" VARCHAR(10) NOT NULL DEFAULT 'active',
    "created_at" TIMESTAMPTZ NOT NULL,
    "refunded_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_membership_member__7a2d51" ON "membership_periods" ("member_id", "ends_at");
COMMENT ON TABLE "membership_periods" IS 'Paid membership periods, one per payment, stacked end to end; refunded ones marked.';
CREATE TABLE IF NOT EXISTS "membership_packs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "month" VARCHAR(7) NOT NULL,
    "period_id" BIGINT NOT NULL,
    "coupon_ids" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_membership_member__3f8e20" UNIQUE ("member_id", "month")
);
CREATE INDEX IF NOT EXISTS "idx_membership_period__b51c7e" ON "membership_packs" ("period_id");
COMMENT ON TABLE "membership_packs" IS 'Monthly coupon packs of paid members: one per member and merchant month.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP TABLE IF EXISTS "membership_packs";
DROP TABLE IF EXISTS "membership_periods";
DROP TABLE IF EXISTS "memberships";
ALTER TABLE "wechat_payments" DROP COLUMN IF EXISTS "plan";"""
