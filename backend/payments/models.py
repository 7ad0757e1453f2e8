"""WeChat Pay orders of the mini-program (``backend.payments.service``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WeChatPayment(Model):
    """One JSAPI order: created when the shopper asks to pay, ``paid`` once WeChat Pay reports it (the
    notification or, failing that, a query), ``closed`` when its time limit passed unpaid. What it paid for
    is credited once, under the transaction's id (``wallet_topups.payment_ref = wxpay:<transaction_id>``)."""

    id = fields.BigIntField(primary_key=True)
    out_trade_no = fields.CharField(max_length=32, unique=True)
    member_id = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=12)  # topup | membership
    amount_cents = fields.BigIntField()
    bonus_cents = fields.BigIntField(default=0)  # the top-up bonus promised when the order was made
    openid = fields.CharField(max_length=64)
    status = fields.CharField(max_length=12, default="pending")  # pending | paid | closed
    prepay_id = fields.CharField(max_length=64, null=True)
    transaction_id = fields.CharField(max_length=32, null=True, unique=True)
    topup_id = fields.BigIntField(null=True)
    plan = fields.JSONField(null=True)  # membership: the plan as it was when the order was made
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    paid_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "wechat_payments"
        indexes = (("status", "created_at"),)


class WeChatRefund(Model):
    """A refund of a paid top-up's unspent principal through WeChat Pay. The wallet is debited when it is
    asked for (principal, and the bonus forfeited pro rata), so the money cannot be spent meanwhile;
    ``succeeded`` when WeChat Pay reports it, ``failed`` (and the debit credited back) when it refuses or
    closes it."""

    id = fields.BigIntField(primary_key=True)
    payment_id = fields.BigIntField(db_index=True)
    member_id = fields.BigIntField(db_index=True)
    out_refund_no = fields.CharField(max_length=64, unique=True)
    principal_cents = fields.BigIntField()
    bonus_cents = fields.BigIntField(default=0)  # the bonus taken back with it
    reason = fields.CharField(max_length=80)
    status = fields.CharField(max_length=12, default="processing")  # processing | succeeded | failed
    refund_id = fields.CharField(max_length=32, null=True)
    failure = fields.CharField(max_length=120, null=True)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "wechat_refunds"
        indexes = (("status", "created_at"),)
