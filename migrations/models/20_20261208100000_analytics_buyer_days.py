from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# The day's member orders that count, by the gap in days to the member's previous and second previous such order
# in a scope (backend.analytics.buyers): exact buyer and repeat-buyer counts of any window are sums over them
# instead of a pass over the window's orders; for the scopes of a few values (all orders, a channel, a tier)
# also summed per window start, so that a window reads one row per day. The DELETE of a day's rows uses the
# day indexes; the members per tier count the accounts above and below the lowest tier from the tier index
# (a few seconds to build at a million accounts). The buyer tables start empty: rebuild the days (python -m
# backend analytics-rebuild, or the job after ``DELETE FROM analytics_days``) to fill them for the days built.


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
CREATE TABLE IF NOT EXISTS "analytics_buyer_days" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "day" DATE NOT NULL,
    "scope" VARCHAR(8) NOT NULL DEFAULT '',
    "value" VARCHAR(20) NOT NULL DEFAULT '',
    "gap" SMALLINT NOT NULL,
    "firsts" INT NOT NULL DEFAULT 0,
    "seconds" INT NOT NULL DEFAULT 0,
    CONSTRAINT "uid_analytics_buyer_days_scope" UNIQUE ("scope", "value", "day", "gap")
);
CREATE TABLE IF NOT EXISTS "analytics_buyer_starts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "day" DATE NOT NULL,
    "scope" VARCHAR(8) NOT NULL DEFAULT '',
    "value" VARCHAR(20) NOT NULL DEFAULT '',
    "start_day" DATE NOT NULL,
    "buyers" INT NOT NULL DEFAULT 0,
    "repeat_buyers" INT NOT NULL DEFAULT 0,
    "orders" INT NOT NULL DEFAULT 0,
    CONSTRAINT "uid_analytics_buyer_starts_scope" UNIQUE ("scope", "value", "start_day", "day")
);
CREATE INDEX IF NOT EXISTS "idx_analytics_buyer_starts_day" ON "analytics_buyer_starts" ("day");
CREATE INDEX IF NOT EXISTS "idx_analytics_buyer_days_day" ON "analytics_buyer_days" ("day");
CREATE INDEX IF NOT EXISTS "idx_loyalty_accounts_tier_code" ON "loyalty_accounts" ("tier_code");
COMMENT ON TABLE "analytics_buyer_starts" IS 'For the scopes of a few values: a day''s buyers, repeat buyers and orders in a window starting on start_day.';
COMMENT ON TABLE "analytics_buyer_days" IS 'A day''s member orders that count, by the days since the member''s previous (firsts) and second previous (seconds) one in the scope.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP INDEX IF EXISTS "idx_loyalty_accounts_tier_code";
DROP TABLE IF EXISTS "analytics_buyer_starts";
DROP TABLE IF EXISTS "analytics_buyer_days";"""
