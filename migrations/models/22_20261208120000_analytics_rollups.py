from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# Each fact's daily rows summed over every dimension and over all but one (backend.analytics.rollups): a window's
# totals, day series and groups by one dimension read a few rows a day instead of every combination (a year's
# overview summed hundreds of thousands of fact rows). Filled here from the days built so far; every rebuild of a
# day writes its rows again with the day's fact rows.


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
CREATE TABLE IF NOT EXISTS "analytics_rollups" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "day" DATE NOT NULL,
    "fact" VARCHAR(16) NOT NULL,
    "dim" VARCHAR(16) NOT NULL DEFAULT '',
    "value" VARCHAR(40) NOT NULL DEFAULT '',
    "m0" BIGINT NOT NULL DEFAULT 0,
    "m1" BIGINT NOT NULL DEFAULT 0,
    "m2" BIGINT NOT NULL DEFAULT 0,
    "m3" BIGINT NOT NULL DEFAULT 0,
    "m4" BIGINT NOT NULL DEFAULT 0,
    "m5" BIGINT NOT NULL DEFAULT 0,
    "m6" BIGINT NOT NULL DEFAULT 0,
    "m7" BIGINT NOT NULL DEFAULT 0,
    "m8" BIGINT NOT NULL DEFAULT 0,
    "m9" BIGINT NOT NULL DEFAULT 0,
    "m10" BIGINT NOT NULL DEFAULT 0,
    "m11" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "uid_analytics_rollups_fact" UNIQUE ("fact", "dim", "value", "day")
);
CREATE INDEX IF NOT EXISTS "idx_analytics_rollups_day" ON "analytics_rollups" ("day");
COMMENT ON TABLE "analytics_rollups" IS 'A fact''s rows of one day summed over every dimension (dim '''') or over all but dim, per value; measures in the fact''s order.';
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2)
SELECT day, 'members', '', '', SUM(new_members), SUM(upgrades), SUM(downgrades) FROM analytics_member_days GROUP BY day
UNION ALL
SELECT day, 'members', 'store_id', CAST(store_id AS VARCHAR(40)), SUM(new_members), SUM(upgrades), SUM(downgrades) FROM analytics_member_days GROUP BY day, store_id
UNION ALL
SELECT day, 'members', 'channel', CAST(channel AS VARCHAR(40)), SUM(new_members), SUM(upgrades), SUM(downgrades) FROM analytics_member_days GROUP BY day, channel
UNION ALL
SELECT day, 'members', 'tier', CAST(tier AS VARCHAR(40)), SUM(new_members), SUM(upgrades), SUM(downgrades) FROM analytics_member_days GROUP BY day, tier;
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11)
SELECT day, 'sales', '', '', SUM(orders), SUM(buyers), SUM(gmv_cents), SUM(discount_cents), SUM(points_orders), SUM(points_value_cents), SUM(balance_orders), SUM(balance_cents), SUM(coupon_orders), SUM(coupon_gmv_cents), SUM(refunds), SUM(refund_cents) FROM analytics_sales_days GROUP BY day
UNION ALL
SELECT day, 'sales', 'store_id', CAST(store_id AS VARCHAR(40)), SUM(orders), SUM(buyers), SUM(gmv_cents), SUM(discount_cents), SUM(points_orders), SUM(points_value_cents), SUM(balance_orders), SUM(balance_cents), SUM(coupon_orders), SUM(coupon_gmv_cents), SUM(refunds), SUM(refund_cents) FROM analytics_sales_days GROUP BY day, store_id
UNION ALL
SELECT day, 'sales', 'channel', CAST(channel AS VARCHAR(40)), SUM(orders), SUM(buyers), SUM(gmv_cents), SUM(discount_cents), SUM(points_orders), SUM(points_value_cents), SUM(balance_orders), SUM(balance_cents), SUM(coupon_orders), SUM(coupon_gmv_cents), SUM(refunds), SUM(refund_cents) FROM analytics_sales_days GROUP BY day, channel
UNION ALL
SELECT day, 'sales', 'tier', CAST(tier AS VARCHAR(40)), SUM(orders), SUM(buyers), SUM(gmv_cents), SUM(discount_cents), SUM(points_orders), SUM(points_value_cents), SUM(balance_orders), SUM(balance_cents), SUM(coupon_orders), SUM(coupon_gmv_cents), SUM(refunds), SUM(refund_cents) FROM analytics_sales_days GROUP BY day, tier;
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2, m3, m4, m5, m6)
SELECT day, 'points', '', '', SUM(issued), SUM(spent), SUM(expired), SUM(reversed), SUM(restored), SUM(adjusted_out), SUM(net) FROM analytics_points_days GROUP BY day
UNION ALL
SELECT day, 'points', 'store_id', CAST(store_id AS VARCHAR(40)), SUM(issued), SUM(spent), SUM(expired), SUM(reversed), SUM(restored), SUM(adjusted_out), SUM(net) FROM analytics_points_days GROUP BY day, store_id
UNION ALL
SELECT day, 'points', 'channel', CAST(channel AS VARCHAR(40)), SUM(issued), SUM(spent), SUM(expired), SUM(reversed), SUM(restored), SUM(adjusted_out), SUM(net) FROM analytics_points_days GROUP BY day, channel
UNION ALL
SELECT day, 'points', 'tier', CAST(tier AS VARCHAR(40)), SUM(issued), SUM(spent), SUM(expired), SUM(reversed), SUM(restored), SUM(adjusted_out), SUM(net) FROM analytics_points_days GROUP BY day, tier;
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2, m3, m4, m5, m6, m7, m8)
SELECT day, 'stored_value', '', '', SUM(topups), SUM(topup_principal_cents), SUM(topup_bonus_cents), SUM(spend_principal_cents), SUM(spend_bonus_cents), SUM(refund_principal_cents), SUM(refund_bonus_cents), SUM(net_principal_cents), SUM(net_bonus_cents) FROM analytics_wallet_days GROUP BY day
UNION ALL
SELECT day, 'stored_value', 'store_id', CAST(store_id AS VARCHAR(40)), SUM(topups), SUM(topup_principal_cents), SUM(topup_bonus_cents), SUM(spend_principal_cents), SUM(spend_bonus_cents), SUM(refund_principal_cents), SUM(refund_bonus_cents), SUM(net_principal_cents), SUM(net_bonus_cents) FROM analytics_wallet_days GROUP BY day, store_id
UNION ALL
SELECT day, 'stored_value', 'channel', CAST(channel AS VARCHAR(40)), SUM(topups), SUM(topup_principal_cents), SUM(topup_bonus_cents), SUM(spend_principal_cents), SUM(spend_bonus_cents), SUM(refund_principal_cents), SUM(refund_bonus_cents), SUM(net_principal_cents), SUM(net_bonus_cents) FROM analytics_wallet_days GROUP BY day, channel
UNION ALL
SELECT day, 'stored_value', 'tier', CAST(tier AS VARCHAR(40)), SUM(topups), SUM(topup_principal_cents), SUM(topup_bonus_cents), SUM(spend_principal_cents), SUM(spend_bonus_cents), SUM(refund_principal_cents), SUM(refund_bonus_cents), SUM(net_principal_cents), SUM(net_bonus_cents) FROM analytics_wallet_days GROUP BY day, tier;
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9)
SELECT day, 'coupons', '', '', SUM(issued), SUM(issued_claim), SUM(issued_admin), SUM(issued_mall), SUM(issued_reward), SUM(issued_other), SUM(redeemed), SUM(discount_cents), SUM(order_gmv_cents), SUM(expired) FROM analytics_coupon_days GROUP BY day
UNION ALL
SELECT day, 'coupons', 'template_id', CAST(template_id AS VARCHAR(40)), SUM(issued), SUM(issued_claim), SUM(issued_admin), SUM(issued_mall), SUM(issued_reward), SUM(issued_other), SUM(redeemed), SUM(discount_cents), SUM(order_gmv_cents), SUM(expired) FROM analytics_coupon_days GROUP BY day, template_id
UNION ALL
SELECT day, 'coupons', 'store_id', CAST(store_id AS VARCHAR(40)), SUM(issued), SUM(issued_claim), SUM(issued_admin), SUM(issued_mall), SUM(issued_reward), SUM(issued_other), SUM(redeemed), SUM(discount_cents), SUM(order_gmv_cents), SUM(expired) FROM analytics_coupon_days GROUP BY day, store_id
UNION ALL
SELECT day, 'coupons', 'channel', CAST(channel AS VARCHAR(40)), SUM(issued), SUM(issued_claim), SUM(issued_admin), SUM(issued_mall), SUM(issued_reward), SUM(issued_other), SUM(redeemed), SUM(discount_cents), SUM(order_gmv_cents), SUM(expired) FROM analytics_coupon_days GROUP BY day, channel
UNION ALL
SELECT day, 'coupons', 'tier', CAST(tier AS VARCHAR(40)), SUM(issued), SUM(issued_claim), SUM(issued_admin), SUM(issued_mall), SUM(issued_reward), SUM(issued_other), SUM(redeemed), SUM(discount_cents), SUM(order_gmv_cents), SUM(expired) FROM analytics_coupon_days GROUP BY day, tier;
INSERT INTO "analytics_rollups" (day, fact, dim, value, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10)
SELECT day, 'messages', '', '', SUM(queued), SUM(sent), SUM(delivered), SUM(failed), SUM(no_consent), SUM(capped), SUM(quiet_hours), SUM(expired), SUM(cancelled), SUM(pending), SUM(unsubscribes) FROM analytics_message_days GROUP BY day
UNION ALL
SELECT day, 'messages', 'channel', CAST(channel AS VARCHAR(40)), SUM(queued), SUM(sent), SUM(delivered), SUM(failed), SUM(no_consent), SUM(capped), SUM(quiet_hours), SUM(expired), SUM(cancelled), SUM(pending), SUM(unsubscribes) FROM analytics_message_days GROUP BY day, channel
UNION ALL
SELECT day, 'messages', 'purpose', CAST(purpose AS VARCHAR(40)), SUM(queued), SUM(sent), SUM(delivered), SUM(failed), SUM(no_consent), SUM(capped), SUM(quiet_hours), SUM(expired), SUM(cancelled), SUM(pending), SUM(unsubscribes) FROM analytics_message_days GROUP BY day, purpose;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP TABLE IF EXISTS "analytics_rollups";"""
