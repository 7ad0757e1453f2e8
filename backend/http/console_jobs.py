"""Console API for the scheduler: lifecycle programs, touches (触达) and job runs, under /api/v1/admin."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import clock
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import parse_body, parse_query
from jobs import lifecycle, runs, service, touches
from jobs.models import Touch as TouchRow

bp = Blueprint("console_jobs", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
TOUCH = [*AUTH, "TOUCH_NOT_FOUND"]
Channel = Literal["wechat", "sms", "email"]


class LifecycleProgramSettings(lifecycle.ProgramSettings):
    """A program's switch, timing, template and coupon."""


class LifecycleProgram(Out):
    key: str
    name: str
    enabled: bool
    cron: str
    days: int
    template_key: str | None
    coupon_template_id: int | None
    channels: list[Channel] = Field(description="empty: the template's order")


class LifecycleProgramList(Out):
    items: list[LifecycleProgram]


class JobRunOutcome(Out):
    """What one run request did: ``already_done`` and ``running_elsewhere`` did nothing."""

    job: str = Field(description="program:<key> or touch:<id>")
    period: str | None = Field(None, description="the day (programs), the minute (cron touches), once or event")
    outcome: Literal["done", "resumed", "already_done", "running_elsewhere", "taken_over", "failed", "disabled",
                     "finished", "skipped_draft", "skipped_paused", "skipped_finished"]
    counts: dict[str, int] | None = Field(None, description="what the run did so far, by kind")
    error: str | None = Field(None, description="the kind of failure, for outcome failed")


class JobRunQuery(BaseModel):
    job: str | None = Field(None, min_length=1, max_length=60, description="program:birthday, touch:3, …")


class JobRun(Out):
    id: int
    job: str
    period: str
    status: Literal["running", "done", "failed"]
    cursor: int = Field(description="the last member id whose batch committed")
    counts: dict[str, int]
    error: str | None
    attempts: int
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None


class JobRunList(Out):
    items: list[JobRun] = Field(description="the newest 100")


class Touch(Out):
    id: int
    name: str
    status: Literal["draft", "scheduled", "running", "paused", "finished"]
    audience: touches.TouchAudience
    channels: list[Channel]
    template_key: str
    coupon_template_id: int | None
    schedule: touches.TouchSchedule
    cap_behaviour: Literal["drop", "defer"]
    attribution_days: int
    holdout_pct: int
    expires_hours: int | None
    last_period: str | None = Field(description="the last period a run finished")
    next_run_at: datetime | None = Field(description="when the scheduler runs it next (from the schedule); null "
                                                     "for a draft, paused or finished touch, a one-off already "
                                                     "run, and an event touch")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TouchPage(Page[Touch]):
    pass


class TouchWould(Out):
    sent: dict[str, int] = Field(description="messages per channel")
    no_consent: int
    failed: int = Field(description="no address on any channel")
    capped: int
    deferred: int = Field(description="over a cap, with cap_behaviour defer")
    quiet_hours: int


class TouchDryRun(Out):
    audience: int | None = Field(description="members the segment selects now; null for an event touch")
    note: str | None = Field(None, description="why there is nothing to show (event touches)")
    holdout: int | None = None
    treatment: int | None = None
    would: TouchWould | None = None


class TouchCoupons(Out):
    issued: int
    redeemed: int


class TouchGroupResult(Out):
    members: int
    converted: int = Field(description="members with an order within the attribution window")
    orders: int
    revenue_cents: int
    conversion_rate: float


class TouchConversions(Out):
    attribution_days: int
    treatment: TouchGroupResult | None
    holdout: TouchGroupResult | None
    lift: float | None = Field(description="treatment's conversion rate minus the hold-out's")


class TouchFunnel(Out):
    queued: int = Field(description="every message the touch created")
    sent: int = Field(description="sent or delivered")
    delivered: int
    converted: int = Field(description="treated members with an order within the attribution window")


class TouchStats(Out):
    touch_id: int
    funnel: TouchFunnel
    messages: dict[str, int] = Field(description="messages per state")
    by_channel: dict[str, dict[str, int]] = Field(description="messages per channel (none: not sent), then state")
    coupons: TouchCoupons
    conversions: TouchConversions


def _touch_view(request: Request, row: TouchRow) -> dict[str, Any]:
    view = service.touch_view(row)
    when = touches.next_run_at(view, now=clock.now(), tz=request.app.ctx.settings.tz)
    return {**view, "next_run_at": when.isoformat() if when else None}


def _program_view(key: str, settings: lifecycle.ProgramSettings) -> dict[str, Any]:
    return {"key": key, "name": lifecycle.NAMES[key], **settings.model_dump(mode="json")}


@bp.get("/lifecycle-programs")
@endpoint(summary="The built-in lifecycle programs with their settings", tag=TAG, response=LifecycleProgramList,
          errors=AUTH)
@staff_required(*CONSOLE)
async def list_lifecycle_programs(request: Request) -> HTTPResponse:
    programs = await lifecycle.load_all(fresh=True)
    return ok({"items": [_program_view(key, settings) for key, settings in programs.items()]})


@bp.put("/lifecycle-programs/<key:key>")
@endpoint(summary="Switch a program, set its timing, template and coupon (audited)", tag=TAG,
          body=LifecycleProgramSettings, response=LifecycleProgram,
          errors=[*AUTH, "LIFECYCLE_PROGRAM_NOT_FOUND", "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def put_lifecycle_program(request: Request, key: str) -> HTTPResponse:
    settings = parse_body(request, LifecycleProgramSettings)
    await service.save_program(key, settings, staff_actor(request))
    return ok(_program_view(key, settings))


@bp.post("/lifecycle-programs/<key:key>/run")
@endpoint(summary="Run a program now for today (once a day: a second run answers already_done)", tag=TAG,
          response=JobRunOutcome, errors=[*AUTH, "LIFECYCLE_PROGRAM_NOT_FOUND"])
@staff_required(*CONSOLE)
async def run_lifecycle_program(request: Request, key: str) -> HTTPResponse:
    if key not in lifecycle.DEFAULTS:
        raise service.ProgramNotFound(details={"key": key})
    settings = request.app.ctx.settings
    result = await service.run_program(key, kv=request.app.ctx.kv, owner=runs.new_owner(), tz=settings.tz,
                                       lease_s=settings.job_lease_s)
    return ok(result)


@bp.get("/job-runs")
@endpoint(summary="Job runs, newest first (filter with ?job=program:birthday or touch:3)", tag=TAG,
          query=JobRunQuery, response=JobRunList, errors=AUTH, operation_id="listJobRuns")
@staff_required(*CONSOLE)
async def list_runs(request: Request) -> HTTPResponse:
    params = parse_query(request, JobRunQuery)
    return ok({"items": await service.recent_runs(params.job)})


# -- touches -------------------------------------------------------------------------------------------

@bp.get("/touches")
@endpoint(query=PageQuery, summary="Touches, newest first", tag=TAG, response=TouchPage, errors=AUTH)
@staff_required(*CONSOLE)
async def list_touches(request: Request) -> HTTPResponse:
    return ok(await page(request, TouchRow.all(), lambda row: _touch_view(request, row)))


@bp.post("/touches")
@endpoint(summary="Create a touch (draft): audience, channels, template, coupon, schedule, hold-out", tag=TAG,
          body=touches.TouchDoc, response=Touch, status=201, errors=[*AUTH, "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def create_touch(request: Request) -> HTTPResponse:
    doc = parse_body(request, touches.TouchDoc)
    return ok(_touch_view(request, await service.create_touch(doc, staff_actor(request))), status=201)


@bp.get("/touches/<touch_id:id>")
@endpoint(summary="One touch", tag=TAG, response=Touch, errors=TOUCH)
@staff_required(*CONSOLE)
async def get_touch(request: Request, touch_id: int) -> HTTPResponse:
    return ok(_touch_view(request, await service.get_touch(touch_id)))


@bp.put("/touches/<touch_id:id>")
@endpoint(summary="Change a draft or paused touch", tag=TAG, body=touches.TouchDoc, response=Touch,
          errors=[*TOUCH, "TOUCH_STATE", "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def put_touch(request: Request, touch_id: int) -> HTTPResponse:
    doc = parse_body(request, touches.TouchDoc)
    return ok(_touch_view(request, await service.update_touch(touch_id, doc, staff_actor(request))))


def _transition(action: str, summary: str) -> None:
    @bp.post(f"/touches/<touch_id:id>/{action}", name=f"touch_{action}")
    @endpoint(summary=summary, tag=TAG, response=Touch, errors=[*TOUCH, "TOUCH_STATE"],
              operation_id=f"{action}Touch")
    @staff_required(*CONSOLE)
    async def handler(request: Request, touch_id: int) -> HTTPResponse:
        return ok(_touch_view(request, await service.change_state(touch_id, action, staff_actor(request))))


_transition("schedule", "Schedule a draft touch (draft → scheduled)")
_transition("pause", "Pause a touch: its runs are skipped (scheduled | running → paused)")
_transition("resume", "Resume a paused touch (paused → scheduled)")
_transition("finish", "End a touch for good (→ finished)")


@bp.post("/touches/<touch_id:id>/dry-run")
@endpoint(summary="What a run now would do, sending nothing: audience, and per channel sent, no consent, "
                  "capped, deferred by quiet hours", tag=TAG, response=TouchDryRun,
          errors=[*TOUCH, "TOUCH_INVALID", "SEGMENT_NOT_FOUND", "SEGMENT_RULE_INVALID"],
          description="SEGMENT_NOT_FOUND: a finished touch's segment was deleted since; SEGMENT_RULE_INVALID: "
                      "the segment's saved rule fails the current checks.",
          operation_id="dryRunTouch")
@staff_required(*CONSOLE)
async def dry_run(request: Request, touch_id: int) -> HTTPResponse:
    return ok(await service.dry_run(touch_id, dispatcher=request.app.ctx.dispatcher, tz=request.app.ctx.settings.tz))


@bp.post("/touches/<touch_id:id>/run")
@endpoint(summary="Run a scheduled touch now for the current period (once per period)", tag=TAG,
          response=JobRunOutcome, errors=[*TOUCH, "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def run_touch(request: Request, touch_id: int) -> HTTPResponse:
    settings = request.app.ctx.settings
    result = await service.run_touch(touch_id, kv=request.app.ctx.kv, owner=runs.new_owner(), tz=settings.tz,
                                     lease_s=settings.job_lease_s)
    return ok(result)


@bp.get("/touches/<touch_id:id>/stats")
@endpoint(summary="Sent / delivered / failed / no_consent / capped per channel, coupons, and conversions "
                  "against the hold-out group", tag=TAG, response=TouchStats, errors=TOUCH,
          operation_id="getTouchStats")
@staff_required(*CONSOLE)
async def stats(request: Request, touch_id: int) -> HTTPResponse:
    answer = await service.touch_stats(touch_id)
    return ok({**answer, "funnel": touches.funnel(answer)})
