"""What each fact table holds, as one SELECT per table over the base tables for one span of time.

Every SELECT takes ``$1`` (the span's first instant, UTC), ``$2`` (its end, exclusive) and ``$3`` (the lowest
tier's code, for members without a tier change before the event) and returns one row per combination of the
table's dimensions. The rebuild of a closed day writes them (``INSERT … SELECT``); today's figures are the same
SELECT over today so far, read directly (``backend.analytics.read``). Plain SQL both databases speak: CASE, SUM,
COUNT(DISTINCT), UNION ALL in a derived table, a correlated subquery for the tier at the time.
"""

from __future__ import annotations

from dataclasses import dataclass


def tier_at(member: str, at: str) -> str:
    """The member's tier just before ``at``: its last tier change before then, else the lowest tier ($3)."""
    return (f"COALESCE((SELECT tc.to_code FROM tier_changes tc WHERE tc.member_id = {member} "
            f"AND tc.created_at < {at} ORDER BY tc.created_at DESC, tc.id DESC LIMIT 1), $3)")


@dataclass(frozen=True)
class Fact:
    name: str  # members | sales | points | stored_value | coupons | messages
    table: str
    dims: tuple[str, ...]
    measures: tuple[str, ...]
    select: str  # rows of dims + measures, in that order, for $1 <= time < $2

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.dims, *self.measures)


def _outer(dims: tuple[str, ...], measures: tuple[str, ...], inner: str) -> str:
    sums = ", ".join(f"COALESCE(SUM({m}), 0) AS {m}" for m in measures)
    return f"SELECT {', '.join(dims)}, {sums} FROM ({inner}) x GROUP BY {', '.join(dims)}"


DIMS = ("store_id", "channel", "tier")

MEMBERS = Fact("members", "analytics_member_days", DIMS, ("new_members", "upgrades", "downgrades"), _outer(
    DIMS, ("new_members", "upgrades", "downgrades"), f"""
SELECT COALESCE(m.registration_store_id, 0) AS store_id, m.registration_channel AS channel,
       {tier_at('m.id', 'm.registered_at')} AS tier, 1 AS new_members, 0 AS upgrades, 0 AS downgrades
  FROM members m WHERE m.registered_at >= $1 AND m.registered_at < $2 AND m.status <> 'merged'
UNION ALL
SELECT 0, '', tc.to_code, 0, CASE WHEN tc.reason = 'upgrade' THEN 1 ELSE 0 END,
       CASE WHEN tc.reason = 'downgrade' THEN 1 ELSE 0 END
  FROM tier_changes tc WHERE tc.created_at >= $1 AND tc.created_at < $2
   AND tc.reason IN ('upgrade', 'downgrade')"""))

_SALES_MEASURES = ("orders", "buyers", "gmv_cents", "discount_cents", "points_orders", "points_value_cents",
                   "balance_orders", "balance_cents", "coupon_orders", "coupon_gmv_cents", "refunds", "refund_cents")
# Orders and refunds apart (buyers are distinct per group: not a sum), then one row per group.
SALES = Fact("sales", "analytics_sales_days", DIMS, _SALES_MEASURES, f"""
SELECT store_id, channel, tier, SUM(orders) AS orders, SUM(buyers) AS buyers, SUM(gmv_cents) AS gmv_cents,
       SUM(discount_cents) AS discount_cents, SUM(points_orders) AS points_orders,
       SUM(points_value_cents) AS points_value_cents, SUM(balance_orders) AS balance_orders,
       SUM(balance_cents) AS balance_cents, SUM(coupon_orders) AS coupon_orders,
       SUM(coupon_gmv_cents) AS coupon_gmv_cents, SUM(refunds) AS refunds, SUM(refund_cents) AS refund_cents
  FROM (
SELECT store_id, channel, tier, COUNT(*) AS orders, COUNT(DISTINCT member_id) AS buyers,
       SUM(amount_cents) AS gmv_cents, SUM(discount_cents) AS discount_cents,
       SUM(CASE WHEN points_spent > 0 THEN 1 ELSE 0 END) AS points_orders,
       SUM(points_value_cents) AS points_value_cents,
       SUM(CASE WHEN principal_spent_cents + bonus_spent_cents > 0 THEN 1 ELSE 0 END) AS balance_orders,
       SUM(principal_spent_cents + bonus_spent_cents) AS balance_cents,
       SUM(CASE WHEN discount_cents > 0 THEN 1 ELSE 0 END) AS coupon_orders,
       SUM(CASE WHEN discount_cents > 0 THEN amount_cents ELSE 0 END) AS coupon_gmv_cents,
       0 AS refunds, 0 AS refund_cents
  FROM (SELECT COALESCE(o.store_id, 0) AS store_id, o.channel, {tier_at('o.member_id', 'o.placed_at')} AS tier,
               o.member_id, o.amount_cents, o.discount_cents, o.points_spent, o.points_value_cents,
               o.principal_spent_cents, o.bonus_spent_cents
          FROM orders o WHERE o.placed_at >= $1 AND o.placed_at < $2 AND o.member_id IS NOT NULL) placed
 GROUP BY store_id, channel, tier
UNION ALL
SELECT store_id, channel, tier, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, COUNT(*), SUM(amount_cents)
  FROM (SELECT COALESCE(o.store_id, 0) AS store_id, o.channel, {tier_at('o.member_id', 'r.created_at')} AS tier,
               r.amount_cents
          FROM order_refunds r JOIN orders o ON o.id = r.order_id
         WHERE r.created_at >= $1 AND r.created_at < $2 AND o.member_id IS NOT NULL) refunded
 GROUP BY store_id, channel, tier) x
 GROUP BY store_id, channel, tier""")

_POINTS_MEASURES = ("issued", "spent", "expired", "reversed", "restored", "adjusted_out", "net")
POINTS = Fact("points", "analytics_points_days", DIMS, _POINTS_MEASURES, _outer(DIMS, _POINTS_MEASURES, f"""
SELECT COALESCE(e.store_id, 0) AS store_id, COALESCE(e.channel, '') AS channel,
       {tier_at('e.member_id', 'e.created_at')} AS tier,
       CASE WHEN e.kind IN ('earn', 'bonus', 'adjust') AND e.points > 0 THEN e.points ELSE 0 END AS issued,
       CASE WHEN e.kind = 'spend' THEN -e.points ELSE 0 END AS spent,
       CASE WHEN e.kind = 'expire' THEN -e.points ELSE 0 END AS expired,
       CASE WHEN e.kind = 'refund_reversal' THEN -e.points ELSE 0 END AS reversed,
       CASE WHEN e.kind = 'refund_restore' THEN e.points ELSE 0 END AS restored,
       CASE WHEN e.kind IN ('adjust', 'debt_repay') AND e.points < 0 THEN -e.points ELSE 0 END AS adjusted_out,
       e.points AS net
  FROM points_entries e WHERE e.created_at >= $1 AND e.created_at < $2"""))

_WALLET_MEASURES = ("topups", "topup_principal_cents", "topup_bonus_cents", "spend_principal_cents",
                    "spend_bonus_cents", "refund_principal_cents", "refund_bonus_cents", "net_principal_cents",
                    "net_bonus_cents")
STORED_VALUE = Fact("stored_value", "analytics_wallet_days", DIMS, _WALLET_MEASURES, _outer(
    DIMS, _WALLET_MEASURES, f"""
SELECT COALESCE(w.store_id, 0) AS store_id, COALESCE(w.channel, '') AS channel,
       {tier_at('w.member_id', 'w.created_at')} AS tier,
       CASE WHEN w.kind = 'topup' THEN 1 ELSE 0 END AS topups,
       CASE WHEN w.kind = 'topup' THEN w.principal_cents ELSE 0 END AS topup_principal_cents,
       CASE WHEN w.kind = 'topup' THEN w.bonus_cents ELSE 0 END AS topup_bonus_cents,
       CASE WHEN w.kind = 'spend' THEN -w.principal_cents ELSE 0 END AS spend_principal_cents,
       CASE WHEN w.kind = 'spend' THEN -w.bonus_cents ELSE 0 END AS spend_bonus_cents,
       CASE WHEN w.kind = 'refund' THEN w.principal_cents ELSE 0 END AS refund_principal_cents,
       CASE WHEN w.kind = 'refund' THEN w.bonus_cents ELSE 0 END AS refund_bonus_cents,
       w.principal_cents AS net_principal_cents, w.bonus_cents AS net_bonus_cents
  FROM wallet_entries w WHERE w.created_at >= $1 AND w.created_at < $2"""))

COUPON_DIMS = ("template_id", "store_id", "channel", "tier")
_COUPON_MEASURES = ("issued", "issued_claim", "issued_admin", "issued_mall", "issued_reward", "issued_other",
                    "redeemed", "discount_cents", "order_gmv_cents", "expired")
COUPONS = Fact("coupons", "analytics_coupon_days", COUPON_DIMS, _COUPON_MEASURES, _outer(
    COUPON_DIMS, _COUPON_MEASURES, f"""
SELECT c.template_id, 0 AS store_id, '' AS channel, {tier_at('c.member_id', 'c.issued_at')} AS tier,
       1 AS issued, CASE WHEN c.source = 'claim' THEN 1 ELSE 0 END AS issued_claim,
       CASE WHEN c.source = 'admin' THEN 1 ELSE 0 END AS issued_admin,
       CASE WHEN c.source = 'mall' THEN 1 ELSE 0 END AS issued_mall,
       CASE WHEN c.source = 'reward' THEN 1 ELSE 0 END AS issued_reward,
       CASE WHEN c.source NOT IN ('claim', 'admin', 'mall', 'reward') THEN 1 ELSE 0 END AS issued_other,
       0 AS redeemed, 0 AS discount_cents, 0 AS order_gmv_cents, 0 AS expired
  FROM coupons c WHERE c.issued_at >= $1 AND c.issued_at < $2
UNION ALL
SELECT c.template_id, COALESCE(r.store_id, 0), r.channel, {tier_at('r.member_id', 'r.created_at')},
       0, 0, 0, 0, 0, 0, 1, r.discount_cents, COALESCE(o.amount_cents, 0), 0
  FROM coupon_redemptions r JOIN coupons c ON c.id = r.coupon_id LEFT JOIN orders o ON o.id = r.order_id
 WHERE r.created_at >= $1 AND r.created_at < $2 AND r.status = 'done'
UNION ALL
SELECT c.template_id, 0, '', {tier_at('c.member_id', 'c.valid_until')}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
  FROM coupons c WHERE c.valid_until >= $1 AND c.valid_until < $2 AND c.status <> 'redeemed'"""))

MESSAGE_DIMS = ("channel", "purpose")
_MESSAGE_MEASURES = ("queued", "sent", "delivered", "failed", "no_consent", "capped", "quiet_hours", "expired",
                     "cancelled", "pending", "unsubscribes")
MESSAGES = Fact("messages", "analytics_message_days", MESSAGE_DIMS, _MESSAGE_MEASURES, _outer(
    MESSAGE_DIMS, _MESSAGE_MEASURES, """
SELECT COALESCE(m.channel, '') AS channel, m.purpose, 1 AS queued,
       CASE WHEN m.status IN ('sent', 'delivered') THEN 1 ELSE 0 END AS sent,
       CASE WHEN m.status = 'delivered' THEN 1 ELSE 0 END AS delivered,
       CASE WHEN m.status IN ('failed', 'unknown') THEN 1 ELSE 0 END AS failed,
       CASE WHEN m.status = 'no_consent' THEN 1 ELSE 0 END AS no_consent,
       CASE WHEN m.status = 'capped' THEN 1 ELSE 0 END AS capped,
       CASE WHEN m.status = 'expired' AND m.reason LIKE 'quiet_hours%' THEN 1 ELSE 0 END AS quiet_hours,
       CASE WHEN m.status = 'expired' AND (m.reason IS NULL OR m.reason NOT LIKE 'quiet_hours%') THEN 1 ELSE 0 END
           AS expired,
       CASE WHEN m.status = 'cancelled' THEN 1 ELSE 0 END AS cancelled,
       CASE WHEN m.status IN ('queued', 'deferred', 'claimed', 'sending') THEN 1 ELSE 0 END AS pending,
       0 AS unsubscribes
  FROM messages m WHERE m.created_at >= $1 AND m.created_at < $2
   AND CAST($3 AS VARCHAR(20)) IS NOT NULL -- no tiers here; typed for PostgreSQL all the same
UNION ALL
SELECT r.channel, r.purpose, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
  FROM consent_records r WHERE r.created_at >= $1 AND r.created_at < $2 AND r.granted = FALSE"""))

FACTS: dict[str, Fact] = {fact.name: fact for fact in (MEMBERS, SALES, POINTS, STORED_VALUE, COUPONS, MESSAGES)}
