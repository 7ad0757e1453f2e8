"""Touches and programs as the console and the scheduler use them: create, change state, run once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.errors import error
from backend.kv import KV
from jobs import lifecycle, runs, touches
from jobs.models import Touch
from notifications import templates

TouchNotFound = error("TOUCH_NOT_FOUND", 404, "触达不存在")
TouchState = error("TOUCH_STATE", 409, "触达当前状态不允许该操作")
ProgramNotFound = error("LIFECYCLE_PROGRAM_NOT_FOUND", 404, "生命周期计划不存在")
TouchInvalid = error("TOUCH_INVALID", 422, "触达设置不正确")

# action -> (states it may start from, state it leads to)
TRANSITIONS = {"schedule": (("draft",), "scheduled"), "pause": (("scheduled", "running"), "paused"),
               "resume": (("paused",), "scheduled"), "finish": (("draft", "scheduled", "running", "paused"), "finished")}


def touch_view(t: Touch) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": t.id, "name": t.name, "status": t.status, "audience": t.audience, "channels": t.channels,
            "template_key": t.template_key, "coupon_template_id": t.coupon_template_id, "schedule": t.schedule,
            "cap_behaviour": t.cap_behaviour, "attribution_days": t.attribution_days, "holdout_pct": t.holdout_pct,
            "expires_hours": t.expires_hours, "last_period": t.last_period, "created_at": iso(t.created_at),
            "updated_at": iso(t.updated_at), "started_at": iso(t.started_at), "finished_at": iso(t.finished_at)}


async def _check_references(*, template_key: str | None, coupon_template_id: int | None,
                            segment_id: int | None = None) -> None:
    """What a touch or a program names must exist: its message template, coupon template and segment."""
    if template_key and await templates.get(template_key, fresh=True) is None:
        raise TouchInvalid("消息模板不存在", details={"template_key": template_key})
    if coupon_template_id is not None and not await db.fetch_one(
            "SELECT id FROM coupon_templates WHERE id = $1", coupon_template_id):
        raise TouchInvalid("优惠券模板不存在", details={"coupon_template_id": coupon_template_id})
    if segment_id is not None and not await db.fetch_one("SELECT id FROM segments WHERE id = $1", segment_id):
        raise TouchInvalid("人群不存在", details={"segment_id": segment_id})


async def _check(doc: touches.TouchDoc) -> None:
    await _check_references(template_key=doc.template_key, coupon_template_id=doc.coupon_template_id,
                            segment_id=doc.audience.segment_id)


async def save_program(key: str, settings: lifecycle.ProgramSettings, actor: audit.Actor) -> None:
    """Change a lifecycle program's switch, timing, template and coupon (audited)."""
    if key not in lifecycle.DEFAULTS:
        raise ProgramNotFound(details={"key": key})
    await _check_references(template_key=settings.template_key, coupon_template_id=settings.coupon_template_id)
    before = (await lifecycle.load_all(fresh=True))[key]
    async with in_transaction() as conn:
        await lifecycle.save(key, settings, conn)
        await audit.record(actor=actor, action="lifecycle_program.update", target_type="lifecycle_program",
                           target_id=key, before=before.model_dump(mode="json"),
                           after=settings.model_dump(mode="json"), using_db=conn)


async def dry_run(touch_id: int, *, dispatcher: Any, tz: ZoneInfo) -> dict[str, Any]:
    """What a run of the touch now would do, sending nothing (see ``touches.dry_run``)."""
    touch = await get_touch(touch_id)
    template = await templates.get(touch.template_key, fresh=True)
    if template is None:
        raise TouchInvalid("消息模板不存在", details={"template_key": touch.template_key})
    return await touches.dry_run(touch_dict(touch), template, dispatcher=dispatcher, now=clock.now(), tz=tz)


async def touch_stats(touch_id: int) -> dict[str, Any]:
    return await touches.stats(touch_dict(await get_touch(touch_id)))


async def create_touch(doc: touches.TouchDoc, actor: audit.Actor) -> Touch:
    await _check(doc)
    now = clock.now()
    async with in_transaction() as conn:
        touch = await Touch.create(**_fields(doc), status="draft", created_at=now, updated_at=now, using_db=conn)
        await audit.record(actor=actor, action="touch.create", target_type="touch", target_id=touch.id,
                           after=doc.model_dump(mode="json"), using_db=conn)
    return touch


def _fields(doc: touches.TouchDoc) -> dict[str, Any]:
    return {"name": doc.name, "audience": doc.audience.model_dump(mode="json"), "channels": list(doc.channels),
            "template_key": doc.template_key, "coupon_template_id": doc.coupon_template_id,
            "schedule": doc.schedule.model_dump(mode="json", exclude_none=True), "cap_behaviour": doc.cap_behaviour,
            "attribution_days": doc.attribution_days, "holdout_pct": doc.holdout_pct,
            "expires_hours": doc.expires_hours}


async def get_touch(touch_id: int) -> Touch:
    touch = await Touch.get_or_none(id=touch_id)
    if touch is None:
        raise TouchNotFound(details={"touch_id": touch_id})
    return touch


async def update_touch(touch_id: int, doc: touches.TouchDoc, actor: audit.Actor) -> Touch:
    await _check(doc)
    async with in_transaction() as conn:
        updated = await Touch.filter(id=touch_id, status__in=["draft", "paused"]).using_db(conn).update(
            **_fields(doc), updated_at=clock.now())
        if not updated:
            await get_touch(touch_id)
            raise TouchState("只有草稿或已暂停的触达可以修改")
        await audit.record(actor=actor, action="touch.update", target_type="touch", target_id=touch_id,
                           after=doc.model_dump(mode="json"), using_db=conn)
    return await get_touch(touch_id)


async def change_state(touch_id: int, action: str, actor: audit.Actor) -> Touch:
    sources, target = TRANSITIONS[action]
    now = clock.now()
    changes: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "finished":
        changes["finished_at"] = now
    async with in_transaction() as conn:
        touch = await get_touch(touch_id)
        if target == "scheduled" and touch.started_at is None:
            changes["started_at"] = now
            if touch.audience.get("event"):  # an event touch reaches events from here on
                row = await db.fetch_one("SELECT max(id) AS top FROM member_events", conn=conn)
                changes["event_cursor"] = int(row["top"] or 0) if row else 0
        moved = await Touch.filter(id=touch_id, status__in=list(sources)).using_db(conn).update(**changes)
        if not moved:
            raise TouchState(details={"status": touch.status, "action": action})
        await audit.record(actor=actor, action=f"touch.{action}", target_type="touch", target_id=touch_id,
                           before={"status": touch.status}, after={"status": target}, using_db=conn)
    return await get_touch(touch_id)


def touch_dict(touch: Touch) -> dict[str, Any]:
    return {"id": touch.id, "name": touch.name, "audience": touch.audience, "channels": touch.channels,
            "template_key": touch.template_key, "coupon_template_id": touch.coupon_template_id,
            "schedule": touch.schedule, "cap_behaviour": touch.cap_behaviour, "holdout_pct": touch.holdout_pct,
            "attribution_days": touch.attribution_days, "expires_hours": touch.expires_hours,
            "started_at": touch.started_at, "status": touch.status}


async def run_touch(touch_id: int, *, kv: KV, owner: str, tz: ZoneInfo, now: datetime | None = None,
                    lease_s: int = 120, parallel: int = 1) -> dict[str, Any]:
    """One run of the touch for the current period (guarded: once per period, resumable); a segment
    touch takes ``parallel`` member-id ranges at once on PostgreSQL (``TOUCH_PARALLEL``)."""
    now = now or clock.now()
    touch = await get_touch(touch_id)
    if touch.status not in ("scheduled", "running"):
        return {"job": f"touch:{touch_id}", "outcome": f"skipped_{touch.status}"}
    until = touch.schedule.get("until")
    if until and now > datetime.fromisoformat(until):
        await Touch.filter(id=touch_id).update(status="finished", finished_at=now, updated_at=now)
        return {"job": f"touch:{touch_id}", "outcome": "finished"}
    template = await templates.get(touch.template_key, fresh=True)
    if template is None:
        raise TouchInvalid("消息模板不存在", details={"template_key": touch.template_key})
    data = touch_dict(touch)
    period = touches.period_for(data, now, tz)
    if data["audience"].get("event"):
        step = touches.event_step(data, template, now=now, tz=tz)
        period = now.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    else:
        if parallel > 1 and data["coupon_template_id"] and await db.fetch_one(
                "SELECT 1 FROM coupon_templates WHERE id = $1 AND total_stock IS NOT NULL", data["coupon_template_id"]):
            parallel = 1  # limited stock goes to the oldest member ids first: one range after another
        step = touches.segment_step(data, template, period, now=now, tz=tz, parallel=parallel)
    await Touch.filter(id=touch_id, status="scheduled").update(status="running", updated_at=now)
    result = await runs.run(f"touch:{touch_id}", period, step, kv=kv, owner=owner, lease_s=lease_s)
    if result["outcome"] in ("done", "resumed"):
        finished = data["schedule"].get("at") is not None
        await Touch.filter(id=touch_id, status="running").update(
            last_period=period, updated_at=clock.now(),
            **({"status": "finished", "finished_at": clock.now()} if finished else {}))
    return result


async def run_program(key: str, *, kv: KV, owner: str, tz: ZoneInfo, now: datetime | None = None,
                      lease_s: int = 120) -> dict[str, Any]:
    """One run of a lifecycle program for today (merchant time): once a day, resumable; the programs in
    ``lifecycle.EACH_RUN`` once per scheduled minute instead."""
    now = now or clock.now()
    settings = (await lifecycle.load_all(fresh=True)).get(key)
    if settings is None:
        raise ProgramNotFound(details={"key": key})
    if not settings.enabled:
        return {"job": f"program:{key}", "outcome": "disabled"}
    step = lifecycle.step_for(key, settings, now=now, tz=tz)
    period = now.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if key in lifecycle.EACH_RUN \
        else lifecycle.period_of(now, tz)
    return await runs.run(f"program:{key}", period, step, kv=kv, owner=owner, lease_s=lease_s)


async def recent_runs(job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs, of one job (``program:birthday``, ``touch:3``) or of all."""
    rows = await db.fetch("SELECT * FROM job_runs WHERE ($1 = '' OR job = $1) ORDER BY id DESC LIMIT $2",
                          job or "", limit)
    return [run_view(r) for r in rows]


def run_view(row: dict[str, Any]) -> dict[str, Any]:
    counts = row["counts"]
    if isinstance(counts, str):
        counts = json.loads(counts)

    def iso(name: str) -> str | None:
        value = db.to_datetime(row[name])
        return value.isoformat() if value else None

    return {"id": row["id"], "job": row["job"], "period": row["period"], "status": row["status"],
            "cursor": row["cursor"], "counts": counts, "error": row["error"], "attempts": row["attempts"],
            "started_at": iso("started_at"), "heartbeat_at": iso("heartbeat_at"),
            "finished_at": iso("finished_at")}


async def issue_coupons_to_segment(*, template_id: int, segment_id: int, batch_id: str, actor: audit.Actor,
                                   tz: str) -> dict[str, Any]:
    """Everyone the segment selects now gets one coupon, set-based in one transaction; idempotent per batch_id."""
    from backend.coupons import service as coupons
    from backend.coupons.errors import CouponNotClaimable
    from jobs import segments

    where, params = await segments.saved_where(segment_id, now=clock.now(), tz=tz, start=6)
    async with in_transaction() as conn:
        result = await coupons.issue_set(
            conn, template_id=template_id, params=params, source="admin", source_ref=f"batch:{batch_id}", tz=tz,
            members_sql=f"SELECT m.id AS member_id FROM members m WHERE m.status = 'active' AND {where}")
        if result["refused"]:
            raise CouponNotClaimable(details={"template_id": template_id})
        await audit.record(actor=actor, action="coupon_template.issue", target_type="coupon_template",
                           target_id=template_id, using_db=conn,
                           after={"batch_id": batch_id, "segment_id": segment_id, "issued": result["issued"]})
    return {"issued": result["issued"], "segment_id": segment_id, "batch_id": batch_id}
