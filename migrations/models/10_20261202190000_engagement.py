from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "check_ins" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "day" DATE NOT NULL,
    "streak" INT NOT NULL,
    "points" BIGINT NOT NULL DEFAULT 0,
    "coupon_id" BIGINT,
    "coupon_name" VARCHAR(40),
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_check_ins_member__engage1" UNIQUE ("member_id", "day")
);
COMMENT ON TABLE "check_ins" IS 'A member''s daily check-in: one row per member and merchant day (the unique pair is the guard).';
        CREATE TABLE IF NOT EXISTS "points_campaigns" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(40) NOT NULL,
    "description" VARCHAR(200) NOT NULL DEFAULT '',
    "enabled" BOOL NOT NULL DEFAULT True,
    "starts_at" TIMESTAMPTZ NOT NULL,
    "ends_at" TIMESTAMPTZ,
    "kind" VARCHAR(12) NOT NULL,
    "multiplier_pct" INT NOT NULL DEFAULT 100,
    "bonus_points" BIGINT NOT NULL DEFAULT 0,
    "min_paid_cents" BIGINT NOT NULL DEFAULT 0,
    "channels" JSONB NOT NULL,
    "store_ids" JSONB NOT NULL,
    "categories" JSONB NOT NULL,
    "tiers" JSONB NOT NULL,
    "segment_id" INT,
    "budget_points" BIGINT,
    "spent_points" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "points_campaigns" IS 'A bonus-point campaign: extra points on top of the earn rule for orders it matches.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "check_ins";
        DROP TABLE IF EXISTS "points_campaigns";"""
