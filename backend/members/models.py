"""Members, their identities, WeChat accounts, consents, custom fields, events and merges."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

IDENTITY_KINDS = ("phone", "openid", "unionid", "card", "email", "legacy")  # legacy: an imported old card number
CHANNELS = ("miniprogram", "pos", "online", "third_party", "console")
CONSENT_CHANNELS = ("sms", "email", "wechat")
CONSENT_PURPOSES = ("marketing", "service")


class Member(Model):
    id = fields.BigIntField(primary_key=True)
    member_no = fields.CharField(max_length=20, unique=True)  # the membership card number
    status = fields.CharField(max_length=12, default="active", db_index=True)  # active | merged | deleted
    merged_into_id = fields.BigIntField(null=True)
    phone_enc = fields.TextField(null=True)  # AES-GCM; lookups go through the phone identity's blind index
    phone_last4 = fields.CharField(max_length=4, null=True)
    phone_prefix3 = fields.CharField(max_length=3, null=True)
    nickname = fields.CharField(max_length=64, null=True)
    gender = fields.CharField(max_length=8, default="unknown")  # male | female | unknown
    birthday = fields.DateField(null=True)
    email = fields.CharField(max_length=254, null=True)
    custom_fields = fields.JSONField(default=dict)
    referral_code = fields.CharField(max_length=12, unique=True)
    referrer_id = fields.BigIntField(null=True, db_index=True)
    registration_channel = fields.CharField(max_length=16)
    registration_store_id = fields.IntField(null=True)
    registered_at = fields.DatetimeField()
    registration_rewarded_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "members"


class MemberIdentity(Model):
    """One way to recognise a member. Each (kind, app, value) belongs to at most one member."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="identities", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=12)
    app_id = fields.CharField(max_length=40, default="")  # openids are per WeChat app; others use ""
    value = fields.CharField(max_length=128)  # phones hold the blind index, never the number
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_identities"
        unique_together = (("kind", "app_id", "value"),)


class WeChatAccount(Model):
    """A WeChat user of our mini-program, known from code2session, with or without a member yet."""

    id = fields.BigIntField(primary_key=True)
    app_id = fields.CharField(max_length=40)
    openid = fields.CharField(max_length=64)
    unionid = fields.CharField(max_length=64, null=True)
    session_key_enc = fields.TextField(null=True)  # never leaves the server
    member_id = fields.BigIntField(null=True, db_index=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "wechat_accounts"
        unique_together = (("app_id", "openid"),)


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    subject = fields.CharField(max_length=40, db_index=True)  # "member:<id>" or "wechat:<account id>"
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "refresh_tokens"


class ConsentRecord(Model):
    """Append-only history of every grant and withdrawal (PIPL)."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField(db_index=True)
    channel = fields.CharField(max_length=8)
    purpose = fields.CharField(max_length=12)
    granted = fields.BooleanField()
    source = fields.CharField(max_length=32)  # miniprogram | pos | online | console | sms_reply | unsubscribe ...
    text_version = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "consent_records"


class MemberConsent(Model):
    """The current state per (member, channel, purpose), kept with the history in one transaction."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    channel = fields.CharField(max_length=8)
    purpose = fields.CharField(max_length=12)
    granted = fields.BooleanField()
    source = fields.CharField(max_length=32)
    text_version = fields.CharField(max_length=32, null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "member_consents"
        unique_together = (("member_id", "channel", "purpose"),)


class CustomFieldDef(Model):
    """An admin-defined profile field; values live in ``Member.custom_fields`` (no migration per field)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=40, unique=True)
    label = fields.CharField(max_length=64)
    type = fields.CharField(max_length=8)  # text | number | date | choice
    required = fields.BooleanField(default=False)
    choices = fields.JSONField(null=True)
    max_length = fields.IntField(null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "custom_field_defs"


class MemberEvent(Model):
    """The member timeline: every domain change appends one, in the change's transaction."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    type = fields.CharField(max_length=40)
    channel = fields.CharField(max_length=16, null=True)
    store_id = fields.IntField(null=True)
    payload = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_events"
        indexes = (("member_id", "id"), ("type", "created_at"))


class MemberMerge(Model):
    """An admin merge: ``merged`` folded into ``survivor``. Undone only by a new merge record."""

    id = fields.BigIntField(primary_key=True)
    survivor_id = fields.BigIntField(db_index=True)
    merged_id = fields.BigIntField(db_index=True)
    actor_id = fields.CharField(max_length=64, null=True)
    moved = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_merges"
