"""Paid membership rows (``backend.membership.service``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Membership(Model):
    """A member's paid membership as of now: until when it runs (the end of the last period granted). Its row is
    the member's membership lock: every grant and refund of one member bumps ``version`` first and runs after the
    one before. ``expired_noted_for`` is the end the expiry job last wrote a ``membership_expired`` event for."""

    member_id = fields.BigIntField(primary_key=True, generated=False)
    plan_code = fields.CharField(max_length=20, null=True)  # of the last period granted
    ends_at = fields.DatetimeField(null=True, db_index=True)
    expired_noted_for = fields.DatetimeField(null=True)
    version = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "memberships"


class MembershipPeriod(Model):
    """One period bought (append-only; a refund marks it ``refunded`` and takes it off the member's time). Granted
    once per payment: ``payment_ref`` (``wxpay:<transaction_id>``) is unique. The plan's benefits are copied onto
    it when it is bought: a later edit of the plan never changes a period already paid for."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    plan_code = fields.CharField(max_length=20)
    plan_name = fields.CharField(max_length=20)
    period = fields.CharField(max_length=8)  # month | quarter | year
    price_cents = fields.BigIntField()
    benefits = fields.JSONField()
    payment_ref = fields.CharField(max_length=64, unique=True)
    payment_id = fields.BigIntField(null=True)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    status = fields.CharField(max_length=10, default="active")  # active | refunded
    created_at = fields.DatetimeField()
    refunded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "membership_periods"
        indexes = (("member_id", "ends_at"),)


class MembershipPack(Model):
    """A month's coupon pack issued to a paid member: at most one per member and merchant month (the unique key
    the job's insert stops on), written in the transaction that issues its coupons."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    month = fields.CharField(max_length=7)  # merchant-time YYYY-MM
    period_id = fields.BigIntField(db_index=True)
    coupon_ids = fields.JSONField(default=list)
    created_at = fields.DatetimeField()

    class Meta:
        table = "membership_packs"
        unique_together = (("member_id", "month"),)
