"""Scheduler tables: job runs (one per job and period), lifecycle program settings, touches and who they reached."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class JobRun(Model):
    """One run of one job for one period: the guard against running twice and the resume point."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=60)
    period = fields.CharField(max_length=40)  # e.g. the merchant-time date of a daily job
    status = fields.CharField(max_length=10, default="running")  # running | done | failed
    cursor = fields.BigIntField(default=0)  # the last member id whose batch committed
    counts = fields.JSONField(default=dict)
    error = fields.TextField(null=True)
    owner = fields.CharField(max_length=40)
    attempts = fields.IntField(default=1)
    heartbeat_at = fields.DatetimeField()
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_runs"
        unique_together = (("job", "period"),)


class LifecycleProgramRow(Model):
    """An admin's settings for one built-in lifecycle program (defaults in code until saved)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=40, unique=True)
    data = fields.JSONField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "lifecycle_programs"


class Touch(Model):
    """A marketer's touch (触达): who, through which channels, what, when, and how it is judged."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    status = fields.CharField(max_length=10, default="draft")  # draft | scheduled | running | paused | finished
    audience = fields.JSONField()  # {"segment_id": 3} or {"event": "registered", "delay_hours": 72}
    channels = fields.JSONField(default=list)
    template_key = fields.CharField(max_length=40)
    coupon_template_id = fields.BigIntField(null=True)
    schedule = fields.JSONField(default=dict)  # {"at": iso} or {"cron": "0 10 * * *", "until": iso}
    cap_behaviour = fields.CharField(max_length=8, default="drop")
    attribution_days = fields.IntField(default=7)
    holdout_pct = fields.IntField(default=0)
    expires_hours = fields.IntField(null=True)  # a message not out within this long is dropped as expired
    last_period = fields.CharField(max_length=40, null=True)
    event_cursor = fields.BigIntField(default=0)  # event touches: the last member event looked at
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "touches"


class TouchRecipient(Model):
    """A member a touch chose in one run: treated (a message, maybe a coupon) or held out for comparison."""

    id = fields.BigIntField(primary_key=True)
    touch_id = fields.BigIntField()
    member_id = fields.BigIntField()
    period = fields.CharField(max_length=40)
    grp = fields.CharField(max_length=10)  # treatment | holdout
    created_at = fields.DatetimeField()

    class Meta:
        table = "touch_recipients"
        unique_together = (("touch_id", "member_id", "period"),)  # serves every read by touch
