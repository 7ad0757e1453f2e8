"""Mini-program engagement routes under /api/v1/mp: daily check-in and its calendar."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import member_required
from backend.http.common import ok
from backend.http.docs import Out, endpoint
from backend.http.validation import parse_query
from backend.idempotency import idempotent
from backend.loyalty import checkin
from miniprogram_api.routes import current_member

bp = Blueprint("miniprogram_engagement", url_prefix="/api/v1/mp")
TAG = "shopper"


class CheckInQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str | None = Field(None, pattern=r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])$",
                              description="YYYY-MM, merchant time; absent: this month")


class CheckInDay(Out):
    day: date
    streak: int = Field(description="days in a row, this one included")
    points: int
    coupon_id: int | None
    coupon_name: str | None


class CheckInReward(Out):
    day: int = Field(description="the day of the cycle")
    points: int
    coupon_template_id: int | None
    coupon_name: str | None


class NextCheckInReward(CheckInReward):
    streak: int = Field(description="the streak the next check-in makes if no day is missed")


class CheckInCalendar(Out):
    enabled: bool
    today: date = Field(description="the merchant's date")
    checked_in_today: bool
    streak: int = Field(description="today's streak if checked in today, else yesterday's (0: none)")
    cycle_days: int
    daily_points: int
    next_reward: NextCheckInReward
    rewards: list[CheckInReward] = Field(description="one per day of the cycle")
    month: str
    days: list[CheckInDay] = Field(description="the month's check-ins, oldest first")


class CheckInResult(CheckInDay):
    created: bool = Field(description="false: already checked in today (this is that check-in)")
    points_balance: int


@bp.get("/check-ins")
@endpoint(query=CheckInQuery, summary="This month's check-ins, the streak and the reward table", tag=TAG,
          response=CheckInCalendar, errors=["UNAUTHENTICATED"], operation_id="getMyCheckIns")
@member_required
async def calendar(request: Request) -> HTTPResponse:
    query = parse_query(request, CheckInQuery)
    member = await current_member(request)
    return ok(await checkin.calendar(member.id, month=query.month, tz=request.app.ctx.settings.timezone))


@bp.post("/check-ins")
@endpoint(summary="Check in for today: once per merchant day, rewarded by the streak's day", tag=TAG,
          responses={201: CheckInResult, 200: CheckInResult}, idempotent=True,
          errors=["UNAUTHENTICATED", "CHECKIN_DISABLED"], operation_id="checkIn",
          description="201 for the day's first check-in; any later one that day (or a concurrent tap) answers "
                      "200 with that check-in and `created: false`, and rewards nothing. CHECKIN_DISABLED when "
                      "the program has check-in switched off.")
@member_required
@idempotent
async def check_in(request: Request) -> HTTPResponse:
    member = await current_member(request)
    answer, created = await checkin.check_in(member.id, tz=request.app.ctx.settings.timezone)
    return ok(answer, status=201 if created else 200)
