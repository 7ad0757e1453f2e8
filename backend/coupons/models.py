"""Coupon templates, issued coupons (each with a snapshot of its terms), redemptions, points mall."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CouponTemplate(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=40)
    description = fields.CharField(max_length=200, default="")
    status = fields.CharField(max_length=10, default="draft", db_index=True)  # draft | active | paused | ended
    terms = fields.JSONField()  # kind, amounts, validity, scope, stacking: see coupons.terms.Terms
    total_stock = fields.IntField(null=True)  # null: unlimited
    issued_count = fields.IntField(default=0)  # the stock guard and the template's row lock
    per_member_limit = fields.IntField(null=True)
    per_member_daily_limit = fields.IntField(null=True)
    claimable = fields.BooleanField(default=False)  # shown in the coupon center
    claim_tiers = fields.JSONField(default=list)  # tiers allowed to claim; empty: all
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "coupon_templates"


class Coupon(Model):
    id = fields.BigIntField(primary_key=True)
    template_id = fields.BigIntField()  # indexed first in the indexes below
    member_id = fields.BigIntField()
    status = fields.CharField(max_length=10, default="available")  # available | redeemed | expired
    terms = fields.JSONField()  # the template's terms when issued: later edits never change them
    name = fields.CharField(max_length=40)
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField(db_index=True)
    source = fields.CharField(max_length=12)  # admin | claim | mall | reward
    source_ref = fields.CharField(max_length=80)  # batch id, claim sequence, order of a mall exchange…
    issued_at = fields.DatetimeField()
    issued_day = fields.CharField(max_length=10)  # merchant-time date, for per-day limits
    redeemed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupons"
        unique_together = (("template_id", "member_id", "source_ref"),)
        indexes = (("member_id", "status"), ("template_id", "member_id", "issued_day"))


class Redemption(Model):
    id = fields.BigIntField(primary_key=True)
    coupon_id = fields.BigIntField(db_index=True)
    member_id = fields.BigIntField(db_index=True)
    store_id = fields.IntField(null=True)
    channel = fields.CharField(max_length=16)
    order_id = fields.BigIntField(null=True, db_index=True)
    order_amount_cents = fields.BigIntField(null=True)
    discount_cents = fields.BigIntField(default=0)
    staff_id = fields.IntField(null=True)
    status = fields.CharField(max_length=10, default="done")  # done | reversed | returned
    reason = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()
    reversed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupon_redemptions"


class PointsMallItem(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=40)
    template_id = fields.BigIntField()
    points_price = fields.IntField()
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_mall_items"
