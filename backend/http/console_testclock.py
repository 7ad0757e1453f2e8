"""``/api/v1/admin/test-clock``: read and move the deployment's test clock (``TEST_CLOCK=1``, never in production)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import clock, testclock
from backend.errors import error
from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body

bp = Blueprint("console_testclock", url_prefix="/api/v1/admin")
TAG = "console"
TestClockDisabled = error("TEST_CLOCK_DISABLED", 409, "测试时钟未开启（仅测试与开发环境可设置 TEST_CLOCK=1）")


class TestClock(Out):
    enabled: bool
    now: datetime = Field(description="the deployment's current time (UTC)")
    offset_s: int = Field(description="how far the test clock is ahead of the real clock, in seconds")


class TestClockAdvance(Body):
    seconds: int = Field(ge=1, le=testclock.MAX_ADVANCE_S, description="how far to move time forward")


async def _view() -> dict[str, object]:
    offset = await testclock.refresh() if testclock.enabled() else 0
    return {"enabled": testclock.enabled(), "now": clock.now().isoformat(), "offset_s": offset}


@bp.get("/test-clock")
@endpoint(summary="The deployment's time and its test clock offset", tag=TAG, response=TestClock,
          errors=STAFF_AUTH_ERRORS, operation_id="getTestClock")
@staff_required(*ADMIN)
async def get_test_clock(request: Request) -> HTTPResponse:
    return ok(await _view())


@bp.post("/test-clock/advance")
@endpoint(summary="Move time forward for every process of the deployment (test and dev only; audited)",
          tag=TAG, body=TestClockAdvance, response=TestClock, operation_id="advanceTestClock",
          errors=[*STAFF_AUTH_ERRORS, "TEST_CLOCK_DISABLED"],
          description="Workers and schedulers pick the new time up within `TEST_CLOCK_POLL_S` (default 1 s). "
                      "Time never moves back.")
@staff_required(*ADMIN)
async def advance_test_clock(request: Request) -> HTTPResponse:
    body = parse_body(request, TestClockAdvance)
    if not testclock.enabled():
        raise TestClockDisabled()
    await testclock.advance(seconds=body.seconds, actor=staff_actor(request))
    return ok(await _view())
