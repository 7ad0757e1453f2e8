"""Checkout sessions and the coupons they hold."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CheckoutSession(Model):
    """A web checkout in progress: what it holds until ``expires_at``, a completion or a cancel.

    Points and stored value are held by the row itself (``points``, ``balance_cents`` of every open,
    unexpired session count against the member's balances); coupons by ``CheckoutCouponHold``."""

    id = fields.BigIntField(primary_key=True)
    app_key_id = fields.IntField(null=True)  # the integration key that opened it; only it can see it
    member_id = fields.BigIntField()
    channel = fields.CharField(max_length=16)  # online | miniprogram
    store_id = fields.IntField(null=True)
    amount_cents = fields.BigIntField()
    items = fields.JSONField(default=list)
    coupon_ids = fields.JSONField(default=list)
    points = fields.BigIntField(default=0)
    balance_cents = fields.BigIntField(default=0)
    member_price_applied = fields.BooleanField(default=False)
    status = fields.CharField(max_length=12, default="open")  # open | completed | cancelled | expired
    expires_at = fields.DatetimeField()
    quote = fields.JSONField(default=dict)
    order_id = fields.BigIntField(null=True)
    order_no = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "checkout_sessions"
        indexes = (("member_id", "status"), ("status", "expires_at"))


class CheckoutCouponHold(Model):
    """One coupon held by one session: the unique coupon id is what two racing sessions collide on."""

    id = fields.BigIntField(primary_key=True)
    coupon_id = fields.BigIntField(unique=True)
    session_id = fields.BigIntField(db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "checkout_coupon_holds"
