"""Notification tables: message templates, the outbox, WeChat subscribe grants and the policy row."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# Where a message can end. On the way it is queued, deferred, claimed (by a worker) or sending.
FINAL = ("sent", "delivered", "failed", "capped", "no_consent", "unknown", "expired", "cancelled")


class MessageTemplate(Model):
    """What one kind of message says on each channel, and in which order the channels are tried."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=40, unique=True)  # welcome, coupon_redeemed, ... or a marketer's own
    name = fields.CharField(max_length=64)
    purpose = fields.CharField(max_length=12)  # service | marketing
    enabled = fields.BooleanField(default=True)
    builtin = fields.BooleanField(default=False)  # sent by a domain event; can be edited or switched off
    channels = fields.JSONField(default=list)  # priority order, e.g. ["wechat", "sms", "email"]
    content = fields.JSONField(default=dict)  # {"sms": {...}, "email": {...}, "wechat": {...}}
    version = fields.IntField(default=1)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "message_templates"


class Message(Model):
    """One message to one member: an outbox row, written in the transaction of what caused it."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    template_key = fields.CharField(max_length=40)
    purpose = fields.CharField(max_length=12)
    channels = fields.JSONField(default=list)  # priority order at enqueue; empty: the template's
    channel = fields.CharField(max_length=8, null=True)  # the one chosen when it was sent
    status = fields.CharField(max_length=12, default="queued")
    dedupe_key = fields.CharField(max_length=200, unique=True)
    touch_id = fields.BigIntField(null=True)
    context = fields.JSONField(default=dict)  # the event's values for the template
    cap_behaviour = fields.CharField(max_length=8, default="drop")  # drop | defer
    attempts = fields.IntField(default=0)
    due_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    lease_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=40, null=True)
    provider = fields.CharField(max_length=16, null=True)
    provider_message_id = fields.CharField(max_length=128, null=True)
    recipient = fields.CharField(max_length=64, null=True)  # masked
    rendered = fields.JSONField(null=True)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "messages"
        # On PostgreSQL the (provider, provider_message_id) index holds only messages with a provider id
        # (migration 23): queued messages do not enter it.
        indexes = (("status", "due_at"), ("member_id", "id"), ("touch_id", "status"),
                   ("provider", "provider_message_id"))


class SubscribeGrant(Model):
    """One-time WeChat subscribe-message credits: each accept grants one send of that template."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    template_id = fields.CharField(max_length=64)
    credits = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "wechat_subscribe_grants"
        unique_together = (("member_id", "template_id"),)


class NotificationPolicy(Model):
    """Caps, quiet hours, retries and reply keywords: one validated document in one row."""

    id = fields.IntField(primary_key=True)
    data = fields.JSONField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "notification_policy"
