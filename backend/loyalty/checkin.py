"""Daily check-in (签到): once per member per merchant day, a streak, and the reward of the streak's day.

The check-in row is inserted first in its transaction and (member, day) is unique: of twenty taps at
once one inserts and is rewarded, the others wait on the index, find the committed row and answer it
(created False). The reward goes through the points ledger (one entry per member and day,
``checkin:<day>``) and the coupon service (idempotent per template, member and the same ref).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import clock, db
from backend.loyalty import program as programs
from backend.loyalty import rewards
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.errors import CheckinDisabled
from backend.loyalty.models import CheckIn, LoyaltyAccount
from backend.members import events


def today(tz: str) -> date:
    return clock.now().astimezone(ZoneInfo(tz)).date()


def render(row: CheckIn) -> dict[str, Any]:
    return {"day": row.day.isoformat(), "streak": row.streak, "points": row.points, "coupon_id": row.coupon_id,
            "coupon_name": row.coupon_name}


async def check_in(member_id: int, *, tz: str) -> tuple[dict[str, Any], bool]:
    """Today's check-in for the member: (the answer, True) the first time today, (the same, False) after."""
    program = await programs.load()
    if not program.checkin.enabled:
        raise CheckinDisabled()
    day = today(tz)
    row = await CheckIn.get_or_none(member_id=member_id, day=day)
    created = row is None
    if row is None:
        try:
            row = await _check_in(member_id, day, program, tz)
        except IntegrityError:  # a concurrent tap inserted today's row first
            row = await CheckIn.get_or_none(member_id=member_id, day=day)
            if row is None:
                raise
            created = False
    account = await LoyaltyAccount.get_or_none(member_id=member_id)
    return {**render(row), "created": created, "points_balance": account.points_balance if account else 0}, created


@db.retry_conflicts
async def _check_in(member_id: int, day: date, program: programs.Program, tz: str) -> CheckIn:
    async with in_transaction() as conn:
        yesterday = await CheckIn.get_or_none(member_id=member_id, day=day - timedelta(days=1)).using_db(conn)
        streak = yesterday.streak + 1 if yesterday else 1
        reward = program.checkin.reward_for(streak)
        row = await CheckIn.create(member_id=member_id, day=day, streak=streak, points=reward.points,
                                   created_at=clock.now(), using_db=conn)
        if reward.points:
            assets = await Assets.open(conn, member_id)
            await assets.credit(reward.points, kind="bonus", ref=f"checkin:{day.isoformat()}",
                                ctx=Context(source="campaign", reason=f"签到第 {streak} 天", channel="miniprogram"),
                                expires_at=program.lot_expiry(clock.now(), tz))
            await assets.save()
        if reward.coupon_template_id:
            coupon = await rewards.coupon(conn, reward.coupon_template_id, member_id, f"checkin:{day.isoformat()}")
            if coupon is not None:
                row.coupon_id, row.coupon_name = coupon["id"], coupon["name"][:40]
                await CheckIn.filter(id=row.id).using_db(conn).update(coupon_id=row.coupon_id,
                                                                      coupon_name=row.coupon_name)
        await events.append(member_id=member_id, type="checked_in", channel="miniprogram", using_db=conn,
                            payload={"day": day.isoformat(), "streak": streak, "points": reward.points,
                                     "coupon_id": row.coupon_id})
    return row


async def calendar(member_id: int, *, month: str | None, tz: str) -> dict[str, Any]:
    """The month's check-ins, the current streak, and the reward table with what the next check-in gives."""
    program = await programs.load()
    rule = program.checkin
    now_day = today(tz)
    first = date.fromisoformat(f"{month}-01") if month else now_day.replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    rows = await CheckIn.filter(member_id=member_id, day__gte=first, day__lt=following).order_by("day")
    recent = await CheckIn.filter(member_id=member_id, day__gte=now_day - timedelta(days=1),
                                  day__lte=now_day).order_by("-day")
    today_row = next((r for r in recent if r.day == now_day), None)
    yesterday_row = next((r for r in recent if r.day == now_day - timedelta(days=1)), None)
    streak = today_row.streak if today_row else (yesterday_row.streak if yesterday_row else 0)
    next_streak = streak + 1  # today's if not done yet (continuing yesterday's), else tomorrow's
    names = await _coupon_names([r.coupon_template_id for r in rule.rewards if r.coupon_template_id])
    table = [_reward_json(rule.reward_for(day), names) for day in range(1, rule.cycle_days + 1)]
    return {"enabled": rule.enabled, "today": now_day.isoformat(), "checked_in_today": today_row is not None,
            "streak": streak, "cycle_days": rule.cycle_days, "daily_points": rule.daily_points,
            "next_reward": {**_reward_json(rule.reward_for(next_streak), names), "streak": next_streak},
            "rewards": table, "month": first.strftime("%Y-%m"), "days": [render(r) for r in rows]}


def _reward_json(reward: programs.CheckinReward, names: dict[int, str]) -> dict[str, Any]:
    return {"day": reward.day, "points": reward.points, "coupon_template_id": reward.coupon_template_id,
            "coupon_name": names.get(reward.coupon_template_id) if reward.coupon_template_id else None}


async def _coupon_names(template_ids: list[int]) -> dict[int, str]:
    if not template_ids:
        return {}
    placeholders = ", ".join(f"${i}" for i in range(1, len(template_ids) + 1))
    rows = await db.fetch(f"SELECT id, name FROM coupon_templates WHERE id IN ({placeholders})", *template_ids)
    return {int(r["id"]): str(r["name"]) for r in rows}
