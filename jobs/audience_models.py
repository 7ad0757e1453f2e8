"""Tags on members (manual and nightly automatic), saved segments and the tag thresholds."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

TAG_KINDS = ("manual", "auto")


class Tag(Model):
    """A label on members: ``manual`` (staff apply it) or ``auto`` (the nightly recompute owns it)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)  # "rfm:重要价值", "store:3" for auto; free text for manual
    name = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=8)  # manual | auto
    group = fields.CharField(max_length=16, default="")  # rfm | value | activity | channel | store | spend | ""
    created_at = fields.DatetimeField()

    class Meta:
        table = "tags"


class MemberTag(Model):
    """One member carries one tag; an auto tag's rows are replaced by each recompute."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    tag_id = fields.IntField()
    source = fields.CharField(max_length=8)  # manual | auto
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_tags"
        unique_together = (("member_id", "tag_id"),)
        indexes = (("tag_id", "member_id"),)


class Segment(Model):
    """A saved audience: a rule tree compiled to one SQL query whenever it is counted or used."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    rule = fields.JSONField()
    description = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "segments"


class TagSettings(Model):
    """The automatic tags' thresholds as one validated document in one row (id 1)."""

    id = fields.IntField(primary_key=True, generated=False)
    data = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "tag_settings"
