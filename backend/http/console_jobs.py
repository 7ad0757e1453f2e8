"""Console API for the scheduler: lifecycle programs, touches (触达) and job runs, under /api/v1/admin."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import endpoint
from backend.http.pagination import PageQuery, page
from backend.http.validation import parse_body
from jobs import lifecycle, runs, service, touches
from jobs.models import Touch

bp = Blueprint("console_jobs", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
TOUCH = [*AUTH, "TOUCH_NOT_FOUND"]


def _program_view(key: str, settings: lifecycle.ProgramSettings) -> dict[str, Any]:
    return {"key": key, "name": lifecycle.NAMES[key], **settings.model_dump(mode="json")}


@bp.get("/lifecycle-programs")
@endpoint(summary="The built-in lifecycle programs with their settings", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_lifecycle_programs(request: Request) -> HTTPResponse:
    programs = await lifecycle.load_all(fresh=True)
    return ok({"items": [_program_view(key, settings) for key, settings in programs.items()]})


@bp.put("/lifecycle-programs/<key:key>")
@endpoint(summary="Switch a program, set its timing, template and coupon (audited)", tag=TAG,
          body=lifecycle.ProgramSettings, errors=[*AUTH, "LIFECYCLE_PROGRAM_NOT_FOUND", "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def put_lifecycle_program(request: Request, key: str) -> HTTPResponse:
    settings = parse_body(request, lifecycle.ProgramSettings)
    await service.save_program(key, settings, staff_actor(request))
    return ok(_program_view(key, settings))


@bp.post("/lifecycle-programs/<key:key>/run")
@endpoint(summary="Run a program now for today (once a day: a second run answers already_done)", tag=TAG,
          errors=[*AUTH, "LIFECYCLE_PROGRAM_NOT_FOUND"])
@staff_required(*CONSOLE)
async def run_lifecycle_program(request: Request, key: str) -> HTTPResponse:
    if key not in lifecycle.DEFAULTS:
        raise service.ProgramNotFound(details={"key": key})
    settings = request.app.ctx.settings
    result = await service.run_program(key, kv=request.app.ctx.kv, owner=runs.new_owner(), tz=settings.tz,
                                       lease_s=settings.job_lease_s)
    return ok(result)


@bp.get("/job-runs")
@endpoint(summary="Job runs, newest first (filter with ?job=program:birthday or touch:3)", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_runs(request: Request) -> HTTPResponse:
    return ok({"items": await service.recent_runs(request.args.get("job"))})


# -- touches -------------------------------------------------------------------------------------------

@bp.get("/touches")
@endpoint(query=PageQuery, summary="Touches, newest first", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_touches(request: Request) -> HTTPResponse:
    return ok(await page(request, Touch.all(), service.touch_view))


@bp.post("/touches")
@endpoint(summary="Create a touch (draft): audience, channels, template, coupon, schedule, hold-out", tag=TAG,
          body=touches.TouchDoc, errors=[*AUTH, "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def create_touch(request: Request) -> HTTPResponse:
    doc = parse_body(request, touches.TouchDoc)
    return ok(service.touch_view(await service.create_touch(doc, staff_actor(request))), status=201)


@bp.get("/touches/<touch_id:id>")
@endpoint(summary="One touch", tag=TAG, errors=TOUCH)
@staff_required(*CONSOLE)
async def get_touch(request: Request, touch_id: int) -> HTTPResponse:
    return ok(service.touch_view(await service.get_touch(touch_id)))


@bp.put("/touches/<touch_id:id>")
@endpoint(summary="Change a draft or paused touch", tag=TAG, body=touches.TouchDoc,
          errors=[*TOUCH, "TOUCH_STATE", "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def put_touch(request: Request, touch_id: int) -> HTTPResponse:
    doc = parse_body(request, touches.TouchDoc)
    return ok(service.touch_view(await service.update_touch(touch_id, doc, staff_actor(request))))


def _transition(action: str, summary: str) -> None:
    @bp.post(f"/touches/<touch_id:id>/{action}", name=f"touch_{action}")
    @endpoint(summary=summary, tag=TAG, errors=[*TOUCH, "TOUCH_STATE"], operation_id=f"{action}Touch")
    @staff_required(*CONSOLE)
    async def handler(request: Request, touch_id: int) -> HTTPResponse:
        return ok(service.touch_view(await service.change_state(touch_id, action, staff_actor(request))))


_transition("schedule", "Schedule a draft touch (draft → scheduled)")
_transition("pause", "Pause a touch: its runs are skipped (scheduled | running → paused)")
_transition("resume", "Resume a paused touch (paused → scheduled)")
_transition("finish", "End a touch for good (→ finished)")


@bp.post("/touches/<touch_id:id>/dry-run")
@endpoint(summary="What a run now would do, sending nothing: audience, and per channel sent, no consent, "
                  "capped, deferred by quiet hours", tag=TAG, errors=[*TOUCH, "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def dry_run(request: Request, touch_id: int) -> HTTPResponse:
    return ok(await service.dry_run(touch_id, dispatcher=request.app.ctx.dispatcher, tz=request.app.ctx.settings.tz))


@bp.post("/touches/<touch_id:id>/run")
@endpoint(summary="Run a scheduled touch now for the current period (once per period)", tag=TAG,
          errors=[*TOUCH, "TOUCH_INVALID"])
@staff_required(*CONSOLE)
async def run_touch(request: Request, touch_id: int) -> HTTPResponse:
    settings = request.app.ctx.settings
    result = await service.run_touch(touch_id, kv=request.app.ctx.kv, owner=runs.new_owner(), tz=settings.tz,
                                     lease_s=settings.job_lease_s)
    return ok(result)


@bp.get("/touches/<touch_id:id>/stats")
@endpoint(summary="Sent / delivered / failed / no_consent / capped per channel, coupons, and conversions "
                  "against the hold-out group", tag=TAG, errors=TOUCH)
@staff_required(*CONSOLE)
async def stats(request: Request, touch_id: int) -> HTTPResponse:
    return ok(await service.touch_stats(touch_id))
