"""Stores, staff accounts, integration app keys and the audit log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

ROLES = ("admin", "marketer", "clerk")
# What an app key may be allowed: the channels it writes for, and the kinds of call it makes.
APP_CHANNELS = ("online", "pos", "miniprogram", "third_party")
APP_ACTIONS = ("orders", "refunds", "members.lookup", "members.write")


def full_scope() -> dict[str, object]:
    """Every channel, every store, every action: keys made before scopes existed, and the CLI's."""
    return {"channels": list(APP_CHANNELS), "store_ids": None, "actions": list(APP_ACTIONS)}


class Store(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stores"


class StaffAccount(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=16)
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "models.Store", related_name="staff", null=True, on_delete=fields.RESTRICT
    )
    active = fields.BooleanField(default=True)
    # Bumped to revoke every token issued before (password change, deactivation).
    token_version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_accounts"


class AppKey(Model):
    """An integration caller (online mall, POS, ERP): signs requests with HMAC-SHA256."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    key_id = fields.CharField(max_length=40, unique=True)
    # The secret must be recoverable to verify signatures: stored encrypted with the PII key.
    secret_enc = fields.TextField()
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # {"channels": [...], "store_ids": [...] or null for every store, "actions": [...]}
    scopes = fields.JSONField(default=full_scope)
    # A rotation keeps the replaced secret working until previous_secret_until, so callers can switch over.
    previous_secret_enc = fields.TextField(null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    rotated_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "app_keys"


class AuditLog(Model):
    """Who did what to which member, with before/after; written in the change's transaction."""

    id = fields.BigIntField(primary_key=True)
    actor_type = fields.CharField(max_length=16)  # staff | member | app | system
    actor_id = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=64, db_index=True)
    member_id = fields.BigIntField(null=True, db_index=True)
    target_type = fields.CharField(max_length=32, null=True)
    target_id = fields.CharField(max_length=64, null=True)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "audit_log"
