"""Marketer touches (触达): an audience, channels, a template, maybe a coupon, a schedule, and a hold-out.

A segment touch runs at its time (once, or on a cron until an end): the members the segment selects
then are recorded as recipients, each in the treatment or the hold-out group (a stable hash of
member and touch, ``holdout_pct`` percent held out); the treatment gets the coupon and a queued
message, all set-based in member-id ranges, each range committed with the run's cursor. An event
touch reaches each member once, ``delay_hours`` after the event. The worker then applies consent,
quiet hours and caps to every message, as for any other.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from tortoise.backends.base.client import BaseDBAsyncClient

import notifications
from backend import db
from backend.coupons import service as coupons
from backend.coupons.errors import CouponLimitReached, CouponNotClaimable, CouponOutOfStock
from jobs import segments
from jobs.cron import crontab_trigger
from jobs.runs import Step

RANGE = 20_000  # member ids per committed step
EVENTS = {"registered": "registered", "first_order": "order_placed", "order_placed": "order_placed",
          "tier_changed": "tier_changed", "coupon_redeemed": "coupon_redeemed"}


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _within_calendar(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("时间应在 2000 年到 2100 年之间")
    return value


# A time a touch is planned for: with its offset, and on a calendar the scheduler can count to.
PlanTime = Annotated[AwareDatetime, AfterValidator(_within_calendar)]


class TouchAudience(Doc):
    segment_id: int | None = Field(None, ge=1, le=2**31 - 1, description="a saved segment")
    event: Literal["registered", "first_order", "order_placed", "tier_changed", "coupon_redeemed"] | None = None
    delay_hours: int = Field(0, ge=0, le=24 * 365, description="for an event: how long after it")

    @model_validator(mode="after")
    def one_kind(self) -> TouchAudience:
        if (self.segment_id is None) == (self.event is None):
            raise ValueError("受众须为人群（segment_id）或事件（event）之一")
        return self


class TouchSchedule(Doc):
    at: PlanTime | None = Field(None, description="once, at this time")
    cron: str | None = Field(None, max_length=100, description="repeatedly, merchant time, crontab syntax")
    until: PlanTime | None = Field(None, description="no run after this time")

    @field_validator("cron")
    @classmethod
    def valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                crontab_trigger(value)
            except ValueError as exc:
                raise ValueError(f"cron 表达式不正确：{exc}") from None
        return value

    @model_validator(mode="after")
    def one_way(self) -> TouchSchedule:
        if self.at is not None and self.cron is not None:
            raise ValueError("at 与 cron 只能选一个")
        return self


class TouchDoc(Doc):
    name: str = Field(min_length=1, max_length=64)
    audience: TouchAudience
    channels: list[Literal["wechat", "sms", "email"]] = Field(default_factory=list, max_length=3)
    template_key: str = Field(min_length=1, max_length=40)
    coupon_template_id: int | None = Field(None, ge=1, le=2**63 - 1)
    schedule: TouchSchedule = TouchSchedule()
    cap_behaviour: Literal["drop", "defer"] = "drop"
    attribution_days: int = Field(7, ge=1, le=90)
    holdout_pct: int = Field(0, ge=0, le=50)
    expires_hours: int | None = Field(None, ge=1, le=24 * 30, description="drop a message not out by then")

    @model_validator(mode="after")
    def schedule_fits(self) -> TouchDoc:
        if self.audience.segment_id is not None and self.schedule.at is None and self.schedule.cron is None:
            raise ValueError("人群触达须设置 schedule.at 或 schedule.cron")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("渠道顺序中不能重复")
        return self


def holdout_sql(member: str, touch: str, pct: str) -> str:
    """A stable pseudo-random split, the same on both databases: ``pct`` percent held out."""
    return f"CASE WHEN (({member} * 7919 + {touch} * 104729) % 100) < {pct} THEN 'holdout' ELSE 'treatment' END"


def in_holdout(member_id: int, touch_id: int, pct: int) -> bool:
    return (member_id * 7919 + touch_id * 104729) % 100 < pct


def period_for(touch: dict[str, Any], when: datetime, tz: ZoneInfo) -> str:
    if touch["audience"].get("event"):
        return "event"
    if touch["schedule"].get("cron"):
        return when.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    return "once"


def segment_step(touch: dict[str, Any], template: dict[str, Any], period: str, *, now: datetime,
                 tz: ZoneInfo, parallel: int = 1) -> Step:
    """Recipients, messages and coupons for one member-id range per step; ``parallel`` ranges at once on
    PostgreSQL (``TOUCH_PARALLEL``)."""
    touch_id = int(touch["id"])
    purpose, channels = template["purpose"], json.dumps(touch["channels"] or [])
    expires = now + timedelta(hours=touch["expires_hours"]) if touch.get("expires_hours") else None
    top: list[int] = []

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        if not top:
            row = await db.fetch_one("SELECT max(id) AS top FROM members", conn=conn)
            top.append(int(row["top"] or 0) if row else 0)
        low, high = cursor, cursor + RANGE
        pg = db.is_postgres()
        if pg:
            # Each step's statements are the same text with other values: after five runs PostgreSQL would
            # plan them once for any values, and such a plan read the messages' recipients through the
            # (touch, group) index, every treated member of the run so far at every step. Planned for this
            # step's range, each reads its range.
            await db.fetch("SET LOCAL plan_cache_mode = force_custom_plan", conn=conn)
        where, params = await segments.saved_where(int(touch["audience"]["segment_id"]), now=now, tz=str(tz),
                                                   start=7, id_range=("$5", "$6"))
        ts = "CAST($4 AS timestamptz)" if pg else "$4"
        insert = ("INSERT INTO touch_recipients (touch_id, member_id, period, grp, created_at) "
                  f"SELECT CAST($1 AS BIGINT), m.id, $2, "
                  f"{holdout_sql('m.id', 'CAST($1 AS BIGINT)', 'CAST($3 AS INTEGER)')}, {ts} FROM members m "
                  f"WHERE m.status = 'active' AND m.id > $5 AND m.id <= $6 AND ({where}) "
                  "ON CONFLICT (touch_id, member_id, period) DO NOTHING RETURNING member_id, grp")
        values = [touch_id, period, int(touch["holdout_pct"]), now, low, high, *params]
        coupon_template = int(touch["coupon_template_id"]) if touch.get("coupon_template_id") else None
        source_ref = f"touch:{touch_id}:{period}"
        plan: coupons.IssuePlan | dict[str, int] | None = None
        if pg:
            # One statement: the messages (and the coupons, when there is no stock to share out) come from the
            # recipients as they are written, never read back, and all are counted where they are written. A
            # range written before (a repeated step) wrote them in the same transaction, so the recipients
            # skipped here have theirs already.
            message_values = _message_values(touch, period, now=now, expires=expires, purpose=purpose,
                                             channels=channels)
            queued = _messages_insert("chosen r", start=len(values) + 1)
            if coupon_template is not None:
                plan = await coupons.issue_set_within(
                    conn, template_id=coupon_template, members_sql="SELECT member_id FROM chosen WHERE grp = 'treatment'",
                    source="touch", source_ref=source_ref, tz=str(tz), after=len(values) + len(message_values))
            fold = plan if isinstance(plan, coupons.IssuePlan) else None
            row = await db.fetch_one(
                f"WITH chosen AS ({insert}), queued AS ({queued})"
                f"{', ' + fold.with_timeline() if fold else ''} "
                "SELECT COUNT(*) AS audience, COUNT(*) FILTER (WHERE grp = 'holdout') AS holdout, "
                f"(SELECT COUNT(*) FROM queued) AS messages{', (SELECT COUNT(*) FROM issued) AS coupons' if fold else ''} "
                "FROM chosen", *values, *message_values, *(fold.values if fold else ()), conn=conn)
            assert row is not None
            counts = {"audience": int(row["audience"]), "holdout": int(row["holdout"])}
            messages = int(row["messages"])
            if fold:
                await coupons.count_issued(conn, int(touch["coupon_template_id"]), int(row["coupons"]))
                plan = {"issued": int(row["coupons"]), "refused": 0}
        else:
            chosen = await db.fetch(insert, *values, conn=conn)
            counts = {"audience": len(chosen), "holdout": sum(1 for r in chosen if r["grp"] == "holdout")}
            messages = await queue_messages(conn, touch, period, now=now, expires=expires, low=low, high=high,
                                            purpose=purpose, channels=channels)
        counts["treatment"] = counts["audience"] - counts["holdout"]
        counts["messages"] = messages
        treated = ("SELECT r.member_id FROM touch_recipients r WHERE r.touch_id = $6 AND r.period = $7 "
                   "AND r.grp = 'treatment' AND r.member_id > $8 AND r.member_id <= $9")
        if isinstance(plan, dict):  # written above, or nothing to issue
            counts["coupons"] = plan["issued"]
        elif coupon_template is not None:
            # Last: a coupon template with limited stock is locked from here to the commit, and the steps
            # running beside this one wait for it only that long.
            issued = await coupons.issue_set(conn, template_id=coupon_template, members_sql=treated,
                                             params=[touch_id, period, low, high], source="touch",
                                             source_ref=source_ref, tz=str(tz))
            counts["coupons"] = issued["issued"]
        return (high if high < top[0] else None), counts

    # Every write above skips what is already there and counts only what it wrote: safe to repeat, so the
    # run may take several ranges at once (jobs.runs, "parallel").
    step.parallel = max(1, parallel)  # type: ignore[attr-defined]
    step.span = RANGE  # type: ignore[attr-defined]
    return step


def _messages_insert(source: str, *, start: int, where: str = "") -> str:
    """The INSERT of a segment touch's messages for the treated recipients in ``source`` (aliased ``r``), with
    ``_message_values`` as its parameters from ``$start`` on; it counts what it wrote by RETURNING id."""
    pg = db.is_postgres()
    j, t = ("CAST(${} AS jsonb)", "CAST(${} AS timestamptz)") if pg else ("${}", "${}")
    n = start
    return (
        "INSERT INTO messages (member_id, template_key, purpose, channels, status, dedupe_key, touch_id, context, "
        "cap_behaviour, attempts, due_at, expires_at, created_at, updated_at) "
        f"SELECT r.member_id, ${n + 1}, ${n + 2}, {j.format(n + 3)}, 'queued', ${n + 4} || r.member_id, ${n}, "
        f"{j.format(n + 5)}, ${n + 6}, 0, {t.format(n + 7)}, {t.format(n + 8)}, {t.format(n + 7)}, "
        f"{t.format(n + 7)} FROM {source} WHERE r.grp = 'treatment'{where} "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")


def _message_values(touch: dict[str, Any], period: str, *, now: datetime, expires: datetime | None, purpose: str,
                    channels: str) -> list[Any]:
    context = json.dumps({"touch_id": touch["id"], "touch_name": touch["name"]}, ensure_ascii=False)
    return [int(touch["id"]), touch["template_key"], purpose, channels, f"touch:{touch['id']}:{period}:", context,
            touch["cap_behaviour"], now, expires]


async def queue_messages(conn: BaseDBAsyncClient, touch: dict[str, Any], period: str, *, now: datetime,
                         expires: datetime | None, low: int, high: int, purpose: str, channels: str) -> int:
    """The messages of the range's treated recipients, read back from their table (SQLite; PostgreSQL queues
    them in the recipients' own statement)."""
    insert = _messages_insert("touch_recipients r", start=5, where=" AND r.touch_id = $1 AND r.period = $2 "
                              "AND r.member_id > $3 AND r.member_id <= $4")
    values = [int(touch["id"]), period, low, high,
              *_message_values(touch, period, now=now, expires=expires, purpose=purpose, channels=channels)]
    return len(await db.fetch(insert, *values, conn=conn))


def event_step(touch: dict[str, Any], template: dict[str, Any], *, now: datetime, tz: ZoneInfo) -> Step:
    """New events since the touch's cursor: each member once, ``delay_hours`` after their event."""
    touch_id = int(touch["id"])
    event = touch["audience"]["event"]
    delay = timedelta(hours=int(touch["audience"].get("delay_hours") or 0))
    channels = json.dumps(touch["channels"] or [])
    first_only = event == "first_order"

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        row = await db.fetch_one("SELECT event_cursor FROM touches WHERE id = $1", touch_id, conn=conn)
        after = int(row["event_cursor"] or 0) if row else 0
        events = await db.fetch(
            "SELECT e.id, e.member_id, e.created_at, e.payload FROM member_events e WHERE e.type = $1 AND e.id > $2 "
            "ORDER BY e.id LIMIT 2000", EVENTS[event], after, conn=conn)
        counts = {"events": len(events), "audience": 0, "holdout": 0, "messages": 0}
        for e in events:
            member_id = int(e["member_id"])
            if first_only:
                payload = e["payload"] if isinstance(e["payload"], dict) else json.loads(e["payload"] or "{}")
                first = await db.fetch_one("SELECT min(id) AS first FROM orders WHERE member_id = $1", member_id,
                                           conn=conn)
                if not first or first["first"] != payload.get("order_id"):
                    continue
            grp = "holdout" if in_holdout(member_id, touch_id, int(touch["holdout_pct"])) else "treatment"
            added = await db.fetch(
                "INSERT INTO touch_recipients (touch_id, member_id, period, grp, created_at) "
                "VALUES ($1, $2, 'event', $3, $4) ON CONFLICT (touch_id, member_id, period) DO NOTHING RETURNING id",
                touch_id, member_id, grp, now, conn=conn)
            if not added:
                continue  # once per member
            counts["audience"] += 1
            if grp == "holdout":
                counts["holdout"] += 1
                continue
            if touch.get("coupon_template_id"):
                try:
                    async with conn._in_transaction() as inner:
                        await coupons.issue(inner, template_id=int(touch["coupon_template_id"]), member_id=member_id,
                                            source="touch", source_ref=f"touch:{touch_id}:event", tz=str(tz))
                except (CouponOutOfStock, CouponLimitReached, CouponNotClaimable):
                    counts["coupon_failures"] = counts.get("coupon_failures", 0) + 1
            at = db.to_datetime(e["created_at"])
            assert at is not None
            due = max(at + delay, now)
            expires = due + timedelta(hours=touch["expires_hours"]) if touch.get("expires_hours") else None
            queued = await notifications.enqueue(
                member_id=member_id, template_key=touch["template_key"], conn=conn,
                dedupe_key=f"touch:{touch_id}:event:{member_id}", touch_id=touch_id, due_at=due, expires_at=expires,
                channels=json.loads(channels) or None, cap_behaviour=touch["cap_behaviour"],
                context={"touch_id": touch_id, "touch_name": touch["name"]})
            counts["messages"] += int(queued is not None)
        if events:
            await db.fetch("UPDATE touches SET event_cursor = $2 WHERE id = $1", touch_id, int(events[-1]["id"]),
                           conn=conn)
        return (int(events[-1]["id"]) if len(events) == 2000 else None), counts

    return step


# -- reading back ------------------------------------------------------------------------------------

async def stats(touch: dict[str, Any]) -> dict[str, Any]:
    """Delivery per channel and state, coupons, and conversions against the hold-out group."""
    touch_id = int(touch["id"])
    by_state: dict[str, dict[str, int]] = {}
    for r in await db.fetch("SELECT coalesce(channel, 'none') AS channel, status, count(*) AS n FROM messages "
                            "WHERE touch_id = $1 GROUP BY coalesce(channel, 'none'), status", touch_id):
        by_state.setdefault(r["channel"], {})[r["status"]] = int(r["n"])
    totals: dict[str, int] = {}
    for states in by_state.values():
        for status, n in states.items():
            totals[status] = totals.get(status, 0) + n
    coupons = await db.fetch_one(
        "SELECT count(*) AS issued, sum(CASE WHEN status = 'redeemed' THEN 1 ELSE 0 END) AS redeemed FROM coupons "
        "WHERE source = 'touch' AND source_ref LIKE $1", f"touch:{touch_id}:%")
    days = int(touch["attribution_days"])
    if db.is_postgres():
        window = "o.placed_at >= r.created_at AND o.placed_at < r.created_at + make_interval(days => $2)"
    else:
        window = "julianday(o.placed_at) >= julianday(r.created_at) AND julianday(o.placed_at) < julianday(r.created_at) + $2"
    groups = {}
    for r in await db.fetch(
            "SELECT r.grp, count(DISTINCT r.member_id) AS members, count(DISTINCT o.member_id) AS converted, "
            "coalesce(sum(o.amount_cents - o.refunded_cents), 0) AS revenue_cents, count(o.id) AS orders "
            f"FROM touch_recipients r LEFT JOIN orders o ON o.member_id = r.member_id AND {window} "
            "WHERE r.touch_id = $1 GROUP BY r.grp", touch_id, days):
        members = int(r["members"])
        groups[r["grp"]] = {"members": members, "converted": int(r["converted"]), "orders": int(r["orders"]),
                            "revenue_cents": int(r["revenue_cents"]),
                            "conversion_rate": round(int(r["converted"]) / members, 4) if members else 0.0}
    treatment, holdout = groups.get("treatment"), groups.get("holdout")
    lift = None
    if treatment and holdout and holdout["members"]:
        lift = round(treatment["conversion_rate"] - holdout["conversion_rate"], 4)
    return {"touch_id": touch_id, "messages": totals, "by_channel": by_state,
            "coupons": {"issued": int(coupons["issued"] or 0) if coupons else 0,
                        "redeemed": int(coupons["redeemed"] or 0) if coupons else 0},
            "conversions": {"attribution_days": days, "treatment": treatment, "holdout": holdout,
                            "lift": lift}}


async def dry_run(touch: dict[str, Any], template: dict[str, Any], *, dispatcher: Any, now: datetime,
                  tz: ZoneInfo) -> dict[str, Any]:
    """What a run now would do, without doing it: the audience, and per message what the worker would
    decide — sent (per channel), no_consent, capped, deferred by quiet hours, failed (no address)."""
    from notifications import policy

    if touch["audience"].get("segment_id") is None:
        return {"audience": None, "note": "事件触达在事件发生时逐个触达，无法预演"}
    where, params = await segments.saved_where(int(touch["audience"]["segment_id"]), now=now, tz=str(tz))
    ids = [int(r["id"]) for r in await db.fetch(
        f"SELECT m.id FROM members m WHERE m.status = 'active' AND ({where}) ORDER BY m.id", *params)]
    rules = await policy.load()
    out: dict[str, Any] = {"audience": len(ids), "holdout": 0, "treatment": 0,
                           "would": {"sent": {}, "no_consent": 0, "failed": 0, "capped": 0, "deferred": 0,
                                     "quiet_hours": 0}}
    would = out["would"]
    channels = touch["channels"] or template["channels"]
    quiet = rules.quiet_hours.window_end(now, tz) if template["purpose"] == "marketing" else None
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        recipients = await dispatcher.recipients(set(batch))
        for member_id in batch:
            if in_holdout(member_id, int(touch["id"]), int(touch["holdout_pct"])):
                out["holdout"] += 1
                continue
            out["treatment"] += 1
            who = recipients.get(member_id)
            if who is None:
                continue
            channel, refusal = dispatcher.choose_channel(channels, template, who, template["purpose"])
            if channel is None:
                assert refusal is not None
                would[refusal[0]] += 1
            elif quiet is not None:
                would["quiet_hours"] += 1
            elif await dispatcher.would_cap(member_id, channel, template["purpose"], rules, now):
                would["deferred" if touch["cap_behaviour"] == "defer" else "capped"] += 1
            else:
                would["sent"][channel] = would["sent"].get(channel, 0) + 1
    return out


def next_run_at(touch: dict[str, Any], *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When the scheduler runs the touch next: its time for a scheduled one-off touch (now if that
    has passed), the cron's next fire time before ``until`` for a repeating one; None for a draft,
    paused or finished touch, a one-off already run, and an event touch (it polls every minute)."""
    if touch["status"] not in ("scheduled", "running") or touch["audience"].get("event"):
        return None
    schedule = touch["schedule"] or {}
    if schedule.get("at"):
        return max(datetime.fromisoformat(schedule["at"]), now) if touch["status"] == "scheduled" else None
    if schedule.get("cron"):
        fire = crontab_trigger(schedule["cron"], timezone=tz).get_next_fire_time(None, now)
        until = schedule.get("until")
        if fire is None or (until and fire > datetime.fromisoformat(until)):
            return None
        return fire
    return None


def funnel(stats: dict[str, Any]) -> dict[str, int]:
    """queued (every message the touch created) → sent (sent or delivered) → delivered → converted
    (treated members with an order in the attribution window)."""
    messages = stats["messages"]
    treatment = stats["conversions"]["treatment"]
    return {"queued": sum(messages.values()),
            "sent": messages.get("sent", 0) + messages.get("delivered", 0),
            "delivered": messages.get("delivered", 0),
            "converted": treatment["converted"] if treatment else 0}
