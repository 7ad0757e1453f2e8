"""Daily aggregate tables: one row per merchant day and dimension values, rebuilt whole per day.

Each fact table holds what happened on one merchant-time day (``day``) for one combination of its dimensions:
the store (0: none, online), the channel ('' : none) and the member's tier at the time (the last tier change
before the event; the lowest tier when there was none). Money is in cents, points are integers. The rows of a
day are deleted and written again in one transaction by ``backend.analytics.build`` (which locks the day's
``analytics_days`` row first), so a rebuild is idempotent and two rebuilds of one day never double a row; the
unique (day, dimensions) index is the last guard.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from backend.analytics import rollups
from backend.analytics.facts import FACTS


class AnalyticsDay(Model):
    """A built day: when it was built and how many fact rows it holds. Also the day's lock."""

    day = fields.DateField(primary_key=True)
    built_at = fields.DatetimeField()
    rows = fields.IntField(default=0)

    class Meta:
        table = "analytics_days"


class MemberDay(Model):
    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    store_id = fields.IntField(default=0)
    channel = fields.CharField(max_length=16, default="")
    tier = fields.CharField(max_length=20, default="")
    new_members = fields.IntField(default=0)  # registered that day (merged-away duplicates not counted)
    upgrades = fields.IntField(default=0)  # tier changes into ``tier``
    downgrades = fields.IntField(default=0)

    class Meta:
        table = "analytics_member_days"
        unique_together = (("day", "store_id", "channel", "tier"),)


class SalesDay(Model):
    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    store_id = fields.IntField(default=0)
    channel = fields.CharField(max_length=16, default="")
    tier = fields.CharField(max_length=20, default="")
    orders = fields.IntField(default=0)  # member orders placed that day
    buyers = fields.IntField(default=0)  # distinct members among them (per day: not additive over days)
    gmv_cents = fields.BigIntField(default=0)  # their amounts before discounts
    discount_cents = fields.BigIntField(default=0)
    points_orders = fields.IntField(default=0)  # paid partly with points
    points_value_cents = fields.BigIntField(default=0)
    balance_orders = fields.IntField(default=0)  # paid partly with stored value
    balance_cents = fields.BigIntField(default=0)
    coupon_orders = fields.IntField(default=0)  # with a coupon discount
    coupon_gmv_cents = fields.BigIntField(default=0)
    refunds = fields.IntField(default=0)  # refunds made that day (of orders of any day)
    refund_cents = fields.BigIntField(default=0)

    class Meta:
        table = "analytics_sales_days"
        unique_together = (("day", "store_id", "channel", "tier"),)


class PointsDay(Model):
    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    store_id = fields.IntField(default=0)
    channel = fields.CharField(max_length=16, default="")
    tier = fields.CharField(max_length=20, default="")
    issued = fields.BigIntField(default=0)  # earn, bonus and positive adjustments
    spent = fields.BigIntField(default=0)
    expired = fields.BigIntField(default=0)
    reversed = fields.BigIntField(default=0)  # clawed back by refunds
    restored = fields.BigIntField(default=0)  # spent points given back by refunds
    adjusted_out = fields.BigIntField(default=0)  # negative adjustments and debt repayments
    net = fields.BigIntField(default=0)  # the sum of every entry's change (transfers included)

    class Meta:
        table = "analytics_points_days"
        unique_together = (("day", "store_id", "channel", "tier"),)


class WalletDay(Model):
    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    store_id = fields.IntField(default=0)
    channel = fields.CharField(max_length=16, default="")
    tier = fields.CharField(max_length=20, default="")
    topups = fields.IntField(default=0)
    topup_principal_cents = fields.BigIntField(default=0)
    topup_bonus_cents = fields.BigIntField(default=0)
    spend_principal_cents = fields.BigIntField(default=0)  # positive: what was spent
    spend_bonus_cents = fields.BigIntField(default=0)
    refund_principal_cents = fields.BigIntField(default=0)  # given back by order refunds
    refund_bonus_cents = fields.BigIntField(default=0)
    net_principal_cents = fields.BigIntField(default=0)  # the sum of every entry's change
    net_bonus_cents = fields.BigIntField(default=0)

    class Meta:
        table = "analytics_wallet_days"
        unique_together = (("day", "store_id", "channel", "tier"),)


class CouponDay(Model):
    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    template_id = fields.BigIntField()
    store_id = fields.IntField(default=0)  # the redeeming store (0 for issue and expiry)
    channel = fields.CharField(max_length=16, default="")
    tier = fields.CharField(max_length=20, default="")
    issued = fields.IntField(default=0)
    issued_claim = fields.IntField(default=0)
    issued_admin = fields.IntField(default=0)
    issued_mall = fields.IntField(default=0)
    issued_reward = fields.IntField(default=0)
    issued_other = fields.IntField(default=0)  # touches, check-ins, …
    redeemed = fields.IntField(default=0)  # redemptions that stand (not reversed)
    discount_cents = fields.BigIntField(default=0)
    order_gmv_cents = fields.BigIntField(default=0)  # amounts of the orders they were used on
    expired = fields.IntField(default=0)  # whose window ended that day unredeemed

    class Meta:
        table = "analytics_coupon_days"
        unique_together = (("day", "template_id", "store_id", "channel", "tier"),)


class MessageDay(Model):
    """Messages by the day they were queued, in the state they are in now; withdrawals of consent by day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    channel = fields.CharField(max_length=8, default="")  # sms | email | wechat; '' : never sent on one
    purpose = fields.CharField(max_length=12, default="")
    queued = fields.IntField(default=0)
    sent = fields.IntField(default=0)  # sent or delivered
    delivered = fields.IntField(default=0)
    failed = fields.IntField(default=0)  # failed, or unknown after a lost worker
    no_consent = fields.IntField(default=0)
    capped = fields.IntField(default=0)
    quiet_hours = fields.IntField(default=0)  # expired while waiting for quiet hours to end
    expired = fields.IntField(default=0)  # expired for another reason
    cancelled = fields.IntField(default=0)  # member gone, template removed
    pending = fields.IntField(default=0)  # not final yet
    unsubscribes = fields.IntField(default=0)  # consent withdrawals on the channel for the purpose

    class Meta:
        table = "analytics_message_days"
        unique_together = (("day", "channel", "purpose"),)


class Rollup(Model):
    """A fact's rows of one day summed over every dimension (``dim`` and ``value`` '') or over all but ``dim``, for
    each of its values (``backend.analytics.rollups``): the measures in the fact's order as m0 … m11."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(db_index=True)
    fact = fields.CharField(max_length=16)
    dim = fields.CharField(max_length=16, default="")
    value = fields.CharField(max_length=40, default="")
    m0 = fields.BigIntField(default=0)
    m1 = fields.BigIntField(default=0)
    m2 = fields.BigIntField(default=0)
    m3 = fields.BigIntField(default=0)
    m4 = fields.BigIntField(default=0)
    m5 = fields.BigIntField(default=0)
    m6 = fields.BigIntField(default=0)
    m7 = fields.BigIntField(default=0)
    m8 = fields.BigIntField(default=0)
    m9 = fields.BigIntField(default=0)
    m10 = fields.BigIntField(default=0)
    m11 = fields.BigIntField(default=0)

    class Meta:
        table = "analytics_rollups"
        unique_together = (("fact", "dim", "value", "day"),)


class BuyerDay(Model):
    """Orders that count (member orders not refunded in full) of a day, by how many days before each one the
    member's previous and second previous such order in the scope was: what exact distinct-buyer and repeat-buyer
    counts over any window of up to 366 days are sums of (``backend.analytics.buyers``).

    ``scope`` is '' (all of the member's orders), 'store', 'channel' or 'tier' (the member's tier at the time),
    ``value`` the store id, channel or tier code ('' for the whole). ``firsts``: the day's orders whose previous
    order in the scope was ``gap`` days earlier; ``seconds``: those whose second previous one was. ``gap`` 366:
    none within the 365 days before.
    """

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    scope = fields.CharField(max_length=8, default="")
    value = fields.CharField(max_length=20, default="")
    gap = fields.SmallIntField()
    firsts = fields.IntField(default=0)
    seconds = fields.IntField(default=0)

    class Meta:
        table = "analytics_buyer_days"
        unique_together = (("scope", "value", "day", "gap"),)


class BuyerStart(Model):
    """For the scopes of a few values ('', 'channel', 'tier'), the same counts summed for every window start:
    the day's buyers, repeat buyers and orders in a window that starts on ``start_day`` (the day itself or up
    to 365 days before). A window's figures are then one row per day of it (``backend.analytics.buyers``)."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    scope = fields.CharField(max_length=8, default="")
    value = fields.CharField(max_length=20, default="")
    start_day = fields.DateField()
    buyers = fields.IntField(default=0)  # the day's orders that are the member's first in the window
    repeat_buyers = fields.IntField(default=0)  # … its second
    orders = fields.IntField(default=0)

    class Meta:
        table = "analytics_buyer_starts"
        unique_together = (("scope", "value", "start_day", "day"),)


# Indexes on the base tables the per-day rebuild reads by time (SQLite; PostgreSQL's are in migration 16).
BASE_INDEXES = (
    ("idx_orders_placed_at", "orders", "placed_at"),
    ("idx_orders_created_at", "orders", "created_at"),
    ("idx_refunds_created_at", "order_refunds", "created_at"),
    ("idx_points_entries_created_at", "points_entries", "created_at"),
    ("idx_wallet_entries_created_at", "wallet_entries", "created_at"),
    ("idx_coupons_issued_at", "coupons", "issued_at"),
    ("idx_redemptions_created_at", "coupon_redemptions", "created_at"),
    ("idx_redemptions_reversed_at", "coupon_redemptions", "reversed_at"),
    ("idx_messages_created_at", "messages", "created_at"),
    ("idx_messages_updated_at", "messages", "updated_at"),
    ("idx_members_registered_at", "members", "registered_at"),
    ("idx_tier_changes_member_at", "tier_changes", "member_id, created_at"),
    ("idx_tier_changes_created_at", "tier_changes", "created_at"),
    ("idx_consent_records_created_at", "consent_records", "created_at"),
)

# The buyer tables' rows of a day, deleted at each rebuild of it, and the accounts by tier, counted for the
# members per tier (SQLite; PostgreSQL's in migration 20).
DAY_INDEXES = (
    ("idx_analytics_buyer_days_day", "analytics_buyer_days", "day"),
    ("idx_analytics_buyer_starts_day", "analytics_buyer_starts", "day"),
    ("idx_loyalty_accounts_tier_code", "loyalty_accounts", "tier_code"),
)

SQLITE_SCHEMA = "\n".join([*(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns});"
                            for name, table, columns in (*BASE_INDEXES, *DAY_INDEXES)),
                          *(rollups.backfill_sql(fact) for fact in FACTS.values())])
