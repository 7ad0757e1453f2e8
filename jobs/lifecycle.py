"""Built-in lifecycle programs: each switchable, with its own template, coupon and timing.

| program | who, when it runs |
|---|---|
| welcome_series | day 0: the welcome message (sent on registration); day ``days``: a 新手任务 coupon and message to members who registered ``days`` days ago and have not ordered yet |
| birthday | members whose birthday is ``days`` days from today (29 February on 28 February in other years): a coupon and greeting, once a year |
| winback | members whose last order is more than ``days`` days old: a coupon and message, once per dormancy (a new order starts a new one) |
| churn_warning | tags 流失预警 on members with no order for ``days`` days; an order removes it |
| points_expiry_reminder | members with points expiring within ``days`` days: one reminder per expiry date |
| points_expiry | expires the points lots that are due |
| coupon_expiry_reminder | coupons expiring within ``days`` days: one reminder per coupon |
| coupon_expiry | expires the coupons past their window |
| tier_downgrade_warning | members whose tier the review would lower within ``days`` days (retention over by then, and the orders still inside the window by then no longer reach the tier): a 保级提醒 with what is missing, once per tier held and year |
| membership_renewal_reminder | paid members whose membership ends within ``days`` days: a 续费提醒, once per end (a renewal moves the end, and the next end gets its own) |
| membership_expiry_notice | paid members whose membership ended within the last ``days`` days (at least one): a 到期通知, once per end |
| checkout_expiry | marks the checkout sessions past their TTL expired and releases their coupon holds (an expired session holds nothing even before) |
| tier_review | lowers tiers no longer earned, after their retention; with a template (default 等级调整通知) each lowered member is told |
| tags_recompute | recomputes the automatic tags (RFM, activity, preferred channel and store, spending band) |

Referral rewards (on the invitee's first order) and tier gift packs (on each upgrade) happen in the
order and the upgrade themselves; their settings are in the loyalty program.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.backends.base.client import BaseDBAsyncClient

import notifications
from backend import clock, db
from backend.coupons.errors import CouponLimitReached, CouponNotClaimable, CouponOutOfStock
from backend.members import events
from jobs.cron import crontab_trigger
from jobs.models import LifecycleProgramRow
from jobs.runs import Step, single

BATCH = 500


class ProgramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    cron: str = Field(max_length=100,
                      description="when it runs, merchant time, crontab syntax: minute hour day month weekday")
    days: int = Field(0, ge=0, le=3650, description="the program's distance in days (see the table)")
    template_key: str | None = Field(None, max_length=40)
    coupon_template_id: int | None = Field(None, ge=1, le=2**63 - 1)
    channels: list[Literal["wechat", "sms", "email"]] = Field(default_factory=list, max_length=3,
                                                               description="empty: the template's order")

    @field_validator("cron")
    @classmethod
    def valid_cron(cls, value: str) -> str:
        try:
            crontab_trigger(value)
        except ValueError as exc:
            raise ValueError(f"cron 表达式不正确：{exc}") from None
        return value


DEFAULTS: dict[str, ProgramSettings] = {
    "welcome_series": ProgramSettings(cron="0 10 * * *", days=3, template_key="newbie_task"),
    "birthday": ProgramSettings(cron="0 9 * * *", days=0, template_key="birthday"),
    "winback": ProgramSettings(cron="0 11 * * *", days=90, template_key="winback"),
    "churn_warning": ProgramSettings(cron="0 3 * * *", days=60),
    "points_expiry_reminder": ProgramSettings(cron="0 10 * * *", days=7, template_key="points_expiring"),
    "points_expiry": ProgramSettings(cron="5 0 * * *"),
    "coupon_expiry_reminder": ProgramSettings(cron="0 10 * * *", days=3, template_key="coupon_expiring"),
    "coupon_expiry": ProgramSettings(cron="10 0 * * *"),
    "tier_downgrade_warning": ProgramSettings(cron="0 10 * * *", days=14, template_key="tier_downgrade_warning"),
    "tier_review": ProgramSettings(cron="20 0 * * *", template_key="tier_downgraded"),
    "membership_renewal_reminder": ProgramSettings(cron="0 10 * * *", days=3, template_key="membership_renewal"),
    "membership_expiry_notice": ProgramSettings(cron="30 9 * * *", days=1, template_key="membership_expired"),
    "checkout_expiry": ProgramSettings(cron="*/5 * * * *"),
    "tags_recompute": ProgramSettings(cron="30 2 * * *"),
}
NAMES = {"welcome_series": "新人欢迎系列", "birthday": "生日关怀", "winback": "沉睡唤醒", "churn_warning": "流失预警标签",
         "points_expiry_reminder": "积分到期提醒", "points_expiry": "积分过期", "coupon_expiry_reminder": "优惠券到期提醒",
         "coupon_expiry": "优惠券过期", "tier_downgrade_warning": "保级提醒", "tier_review": "等级复核",
         "membership_renewal_reminder": "付费会员续费提醒", "membership_expiry_notice": "付费会员到期通知",
         "checkout_expiry": "结算会话过期", "tags_recompute": "自动标签计算"}
CHURN_TAG = "lifecycle:流失预警"
# Programs that run at every time their cron names (guarded once per minute), not once a day.
EACH_RUN = frozenset({"checkout_expiry"})

_cache: tuple[float, dict[str, ProgramSettings]] | None = None


async def load_all(*, fresh: bool = False) -> dict[str, ProgramSettings]:
    global _cache
    if not fresh and _cache is not None and time.monotonic() < _cache[0]:
        return _cache[1]
    saved = {r["key"]: r["data"] for r in await db.fetch("SELECT key, data FROM lifecycle_programs")}
    out = {}
    for key, default in DEFAULTS.items():
        data = saved.get(key)
        if isinstance(data, str | bytes):
            data = json.loads(data)
        out[key] = ProgramSettings.model_validate(data) if data else default
    _cache = (time.monotonic() + 5.0, out)
    return out


def forget() -> None:
    global _cache
    _cache = None


async def save(key: str, settings: ProgramSettings, conn: BaseDBAsyncClient | None = None) -> None:
    data = settings.model_dump(mode="json")
    updated = await LifecycleProgramRow.filter(key=key).using_db(conn).update(data=data, updated_at=clock.now())
    if not updated:
        await LifecycleProgramRow.create(key=key, data=data, updated_at=clock.now(), using_db=conn)
    forget()


def period_of(when: datetime, tz: ZoneInfo) -> str:
    """A daily program's period: the merchant-time date it runs for."""
    return when.astimezone(tz).date().isoformat()


# -- the steps ----------------------------------------------------------------------------------------

def step_for(key: str, settings: ProgramSettings, *, now: datetime, tz: ZoneInfo) -> Step:
    if key == "points_expiry":
        from backend.loyalty.orders import expire_due_points

        return single(lambda: expire_due_points(now=now))
    if key == "coupon_expiry":
        from backend.coupons.service import expire_due_coupons

        async def coupons() -> dict[str, int]:
            return {"coupons": await expire_due_coupons(now=now)}

        return single(coupons)
    if key == "checkout_expiry":
        from backend.checkout.service import expire_due

        return single(lambda: expire_due(now=now))
    if key == "tier_review":
        from backend.loyalty import program, tiers

        async def review() -> dict[str, int]:
            return await tiers.review(await program.load(), now=now, downgrade_notice=settings.template_key,
                                      channels=list(settings.channels))

        return single(review)
    if key == "tags_recompute":
        from jobs import tags

        async def recompute() -> dict[str, int]:
            # The run's counts are integers: what each group added and removed, and the members tagged.
            result = await tags.recompute_auto_tags(now=now)
            return {"added": sum(g["added"] for g in result["groups"].values()),
                    "removed": sum(g["removed"] for g in result["groups"].values()),
                    "tagged": sum(result["tags"].values())}

        return single(recompute)
    if key == "churn_warning":
        return single(lambda: _churn_warning(settings, now))
    chooser = {"welcome_series": _welcome_members, "birthday": _birthday_members, "winback": _winback_members,
               "points_expiry_reminder": _expiring_points, "coupon_expiry_reminder": _expiring_coupons,
               "tier_downgrade_warning": _downgrade_risks, "membership_renewal_reminder": _membership_renewals,
               "membership_expiry_notice": _membership_expiries}[key]

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        rows = await chooser(cursor, settings, now, tz, conn)
        counts = {"members": 0, "messages": 0, "coupons": 0, "coupon_failures": 0}
        for row in rows:
            if not row.get("skip"):
                await _reach(key, row, settings, now, tz, conn, counts)
        return (int(rows[-1]["cursor"]) if len(rows) == BATCH else None), counts

    return step


async def _reach(key: str, row: dict[str, Any], settings: ProgramSettings, now: datetime, tz: ZoneInfo,
                 conn: BaseDBAsyncClient, counts: dict[str, int]) -> None:
    """One member (or coupon): the program's coupon, then its message, both idempotent."""
    from backend.coupons import service as coupons

    member_id, ref, context = int(row["member_id"]), str(row["ref"]), dict(row.get("context") or {})
    counts["members"] += 1
    if settings.coupon_template_id:
        try:
            async with conn._in_transaction() as inner:  # a savepoint: a refused coupon leaves the rest
                coupon, created = await coupons.issue(inner, template_id=settings.coupon_template_id,
                                                      member_id=member_id, source="lifecycle",
                                                      source_ref=f"{key}:{ref}", tz=str(tz))
            counts["coupons"] += int(created)
            context.update({"coupon_name": coupon.name, "coupon_valid_until": coupon.valid_until.isoformat()})
        except (CouponOutOfStock, CouponLimitReached, CouponNotClaimable):
            counts["coupon_failures"] += 1
    if settings.template_key:
        queued = await notifications.enqueue(
            member_id=member_id, template_key=settings.template_key, dedupe_key=f"{key}:{member_id}:{ref}",
            context=context, channels=list(settings.channels) or None, conn=conn,
            expires_at=row.get("expires_at"), cap_behaviour="defer" if row.get("expires_at") else "drop")
        counts["messages"] += int(queued is not None)
        if key == "points_expiry_reminder" and queued is not None:
            # Once per member and expiry date (the reminder's dedupe key): points.will_expire for webhooks.
            await events.append(member_id=member_id, type="points_expiring", using_db=conn,
                                payload={"points": context.get("points"), "expires_on": context.get("expires_on")})


def _local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, start + timedelta(days=1)


async def _welcome_members(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                           conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    start, end = _local_day_bounds(now.astimezone(tz).date() - timedelta(days=s.days), tz)
    rows = await db.fetch(
        "SELECT m.id AS member_id, m.id AS cursor FROM members m WHERE m.status = 'active' AND m.id > $1 "
        "AND m.registered_at >= $2 AND m.registered_at < $3 "
        "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id) ORDER BY m.id LIMIT $4",
        cursor, start, end, BATCH, conn=conn)
    return [{**r, "ref": f"day{s.days}"} for r in rows]


async def _birthday_members(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                            conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    target = now.astimezone(tz).date() + timedelta(days=s.days)
    days = [target.day]
    if target.month == 2 and target.day == 28 and not _leap(target.year):
        days.append(29)  # 29 February birthdays are celebrated on the 28th in other years
    if db.is_postgres():
        month_day = "EXTRACT(MONTH FROM m.birthday) = $2 AND EXTRACT(DAY FROM m.birthday) IN ($3, $4)"
    else:
        month_day = ("CAST(strftime('%m', m.birthday) AS INTEGER) = $2 "
                     "AND CAST(strftime('%d', m.birthday) AS INTEGER) IN ($3, $4)")
    rows = await db.fetch(
        f"SELECT m.id AS member_id, m.id AS cursor FROM members m WHERE m.status = 'active' AND m.id > $1 "
        f"AND m.birthday IS NOT NULL AND {month_day} ORDER BY m.id LIMIT $5",
        cursor, target.month, days[0], days[-1], BATCH, conn=conn)
    return [{**r, "ref": str(target.year), "context": {"birthday": target.isoformat()}} for r in rows]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


async def _winback_members(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                           conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT m.id AS member_id, m.id AS cursor, "
        "(SELECT max(o.id) FROM orders o WHERE o.member_id = m.id) AS last_order_id FROM members m "
        "WHERE m.status = 'active' AND m.id > $1 AND EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id) "
        "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.placed_at >= $2) "
        "ORDER BY m.id LIMIT $3", cursor, now - timedelta(days=s.days), BATCH, conn=conn)
    # Once per dormancy: the reference is the last order before it.
    return [{**r, "ref": f"after-order-{r['last_order_id']}", "context": {"dormant_days": s.days}} for r in rows]


async def _expiring_points(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                           conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT member_id, member_id AS cursor, sum(remaining) AS points, min(expires_at) AS first_expiry "
        "FROM points_lots WHERE remaining > 0 AND expires_at > $2 AND expires_at <= $3 AND member_id > $1 "
        "GROUP BY member_id ORDER BY member_id LIMIT $4", cursor, now, now + timedelta(days=s.days), BATCH,
        conn=conn)
    out = []
    for r in rows:
        expiry = db.to_datetime(r["first_expiry"])
        assert expiry is not None
        local = expiry.astimezone(tz)
        # The lot expires at local midnight: its last usable day is the day before.
        last_day = (local - timedelta(microseconds=1)).date()
        out.append({**r, "ref": last_day.isoformat(), "expires_at": expiry,
                    "context": {"points": int(r["points"]), "expires_on": last_day.isoformat()}})
    return out


async def _expiring_coupons(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                            conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT c.id AS cursor, c.id AS coupon_id, c.member_id, c.name, c.valid_until FROM coupons c "
        "WHERE c.status = 'available' AND c.valid_until > $2 AND c.valid_until <= $3 AND c.id > $1 "
        "ORDER BY c.id LIMIT $4", cursor, now, now + timedelta(days=s.days), BATCH, conn=conn)
    out = []
    for r in rows:
        until = db.to_datetime(r["valid_until"])
        assert until is not None
        out.append({**r, "ref": f"coupon-{r['coupon_id']}", "expires_at": until,
                    "context": {"coupon_name": r["name"], "valid_until": until.isoformat(),
                                "coupon_id": int(r["coupon_id"])}})
    return out


async def _downgrade_risks(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                           conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    """Members above the lowest tier whose retention is over ``days`` days from now and whose measure then,
    counting only the orders already placed that will still be inside the window, falls below their tier.
    Rows not at risk come back marked ``skip`` (the batch keeps its length, so the cursor walks on)."""
    from backend.loyalty import program as programs
    from backend.loyalty import tiers

    program = await programs.load(conn)
    at = now + timedelta(days=s.days)
    rows = await db.fetch(
        "SELECT la.member_id, la.member_id AS cursor, la.tier_code, la.tier_since FROM loyalty_accounts la "
        "JOIN members m ON m.id = la.member_id WHERE m.status = 'active' AND la.member_id > $1 "
        "AND la.tier_code IS NOT NULL AND la.tier_code <> $2 AND (la.tier_since IS NULL OR la.tier_since <= $3) "
        "ORDER BY la.member_id LIMIT $4", cursor, program.tiers[0].code,
        at - timedelta(days=program.tier_retention_days), BATCH, conn=conn)
    unit = {"spend": "元", "points": "积分", "orders": "笔订单"}[program.tier_measure]
    out = []
    for r in rows:
        tier = program.tier(r["tier_code"])
        value = await tiers.measure(conn, int(r["member_id"]), program, at)
        target = program.tier_for(value)
        if program.rank(target.code) >= program.rank(tier.code):
            out.append({**r, "skip": True})
            continue
        since = db.to_datetime(r["tier_since"])
        review_on = at.astimezone(tz).date()
        out.append({**r, "ref": f"{tier.code}:{since.date().isoformat() if since else 'none'}:{review_on.year}",
                    "context": {"tier_code": tier.code, "tier_name": tier.name, "to_tier_name": target.name,
                                "measure": value, "threshold": tier.threshold, "missing": tier.threshold - value,
                                "unit": unit, "review_on": review_on.isoformat()}})
    return out


MEMBERSHIP_ENDS_SQL = (
    "SELECT ms.member_id, ms.member_id AS cursor, ms.ends_at, (SELECT p.plan_name FROM membership_periods p "
    "WHERE p.member_id = ms.member_id AND p.status = 'active' AND p.ends_at = ms.ends_at LIMIT 1) AS plan_name "
    "FROM memberships ms JOIN members m ON m.id = ms.member_id WHERE m.status = 'active' AND ms.member_id > $1 "
    "AND ms.ends_at > $2 AND ms.ends_at <= $3 ORDER BY ms.member_id LIMIT $4")


def _membership_rows(rows: list[dict[str, Any]], tz: ZoneInfo, prefix: str, *,
                     expiring: bool) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        ends_at = db.to_datetime(r["ends_at"])
        assert ends_at is not None
        # A period ends at merchant midnight: its last day is the day before.
        last_day = (ends_at.astimezone(tz) - timedelta(microseconds=1)).date()
        out.append({**r, "ref": f"{prefix}-{last_day.isoformat()}", "expires_at": ends_at if expiring else None,
                    "context": {"plan_name": r["plan_name"] or "付费会员", "ends_on": last_day.isoformat()}})
    return out


async def _membership_renewals(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                               conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    rows = await db.fetch(MEMBERSHIP_ENDS_SQL, cursor, now, now + timedelta(days=s.days), BATCH, conn=conn)
    return _membership_rows(rows, tz, "ends", expiring=True)


async def _membership_expiries(cursor: int, s: ProgramSettings, now: datetime, tz: ZoneInfo,
                               conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    rows = await db.fetch(MEMBERSHIP_ENDS_SQL, cursor, now - timedelta(days=max(s.days, 1)), now, BATCH, conn=conn)
    return _membership_rows(rows, tz, "ended", expiring=False)


async def _churn_warning(s: ProgramSettings, now: datetime) -> dict[str, int]:
    from jobs import tags

    return await tags.set_auto_tag(
        CHURN_TAG, name="流失预警", group="lifecycle",
        member_sql="SELECT m.id FROM members m WHERE m.status = 'active' "
                   "AND EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id) "
                   "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.placed_at >= $1)",
        params=[now - timedelta(days=s.days)], now=now)
