"""Webhook endpoints, the outbox of public events, and one delivery row per (endpoint, event)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WebhookEndpoint(Model):
    """A receiver: its URL, the event types it takes (empty: all) and its signing secrets (encrypted)."""

    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=200, default="")
    event_types = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=300, null=True)
    disabled_at = fields.DatetimeField(null=True)
    secret_enc = fields.TextField()
    previous_secret_enc = fields.TextField(null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoints"


class WebhookEvent(Model):
    """One public event, written in the transaction of the change it reports."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=40, unique=True)
    type = fields.CharField(max_length=40)
    occurred_at = fields.DatetimeField()
    member_id = fields.BigIntField(null=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "webhook_events"
        indexes = (("member_id", "id"),)


class WebhookDelivery(Model):
    """An event on its way to one endpoint: pending → succeeded, or failed (retrying) → dead."""

    id = fields.BigIntField(primary_key=True)
    endpoint_id = fields.IntField()
    event_pk = fields.BigIntField()
    member_id = fields.BigIntField(null=True)
    status = fields.CharField(max_length=10, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    lease_token = fields.CharField(max_length=32, null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    last_response_ms = fields.IntField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_deliveries"
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "member_id", "event_pk"), ("event_pk",),
                   ("endpoint_id", "id"))
