"""Segments: saved rule trees, and how many and which members one selects now (see ``segment_rules``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend import audit, clock, db
from backend.loyalty import program as programs
from jobs.audience_models import Segment
from jobs.errors import SegmentInUse, SegmentNotFound
from jobs.segment_rules import DEFAULT_TZ, Rule, compile_rule, count_sql, member_ids_sql, parse_rule

__all__ = ["Rule", "compile_rule", "count", "member_ids_sql", "parse_rule", "preview", "sample"]


async def saved_where(segment_id: int, *, now: datetime, tz: str, start: int = 1,
                      id_range: tuple[str, str] | None = None) -> tuple[str, list[Any]]:
    """The WHERE fragment (on ``members m``) of a saved segment, as of ``now``; SEGMENT_NOT_FOUND when gone.
    ``id_range``: the placeholders of the member-id range the statement keeps to (see ``compile_rule``)."""
    segment = await get_or_raise(segment_id=segment_id)
    return compile_rule(segment.rule, dialect="postgres" if db.is_postgres() else "sqlite", now=now, tz=tz,
                        start=start, id_range=id_range)


async def member_selected(conn: Any, segment_id: int, member_id: int, now: datetime, tz: str) -> bool:
    """Whether the saved segment selects the active member now (on the caller's transaction); a deleted
    segment selects nobody."""
    segment = await Segment.get_or_none(id=segment_id).using_db(conn)
    if segment is None:
        return False
    where, params = compile_rule(segment.rule, dialect="postgres" if db.is_postgres() else "sqlite", now=now,
                                 tz=tz, start=2)
    row = await db.fetch_one(f"SELECT 1 AS hit FROM members m WHERE m.id = $1 AND m.status = 'active' AND {where}",
                             member_id, *params, conn=conn)
    return row is not None


def install() -> None:
    """Let bonus-point campaigns limited to a segment ask it (once per process)."""
    from backend.loyalty import campaigns

    if member_selected not in campaigns.SEGMENT_MATCHERS:
        campaigns.SEGMENT_MATCHERS.append(member_selected)


def _where(rule: Rule | dict[str, Any], tz: str) -> tuple[str, list[Any]]:
    return compile_rule(rule, dialect="postgres" if db.is_postgres() else "sqlite", now=clock.now(), tz=tz)


async def count(rule: Rule | dict[str, Any], *, tz: str = DEFAULT_TZ, replica: bool = False) -> int:
    """How many active members match (``replica``: a preview, which may read the read replica)."""
    sql, params = count_sql(rule, dialect="postgres" if db.is_postgres() else "sqlite", now=clock.now(), tz=tz)
    async with db.reader(replica=replica) as reader:
        row = await reader.fetch_one(sql, *params)
    return int(row["n"]) if row else 0


async def sample(rule: Rule | dict[str, Any], limit: int = 20, *, tz: str = DEFAULT_TZ,
                 replica: bool = False) -> list[dict[str, Any]]:
    """Up to ``limit`` matching members, newest first, phones masked."""
    where, params = _where(rule, tz)
    program = await programs.load()
    async with db.reader(replica=replica) as reader:
        rows = await reader.fetch(
            "SELECT m.id, m.member_no, m.phone_prefix3, m.phone_last4, m.nickname, la.tier_code "
            "FROM members m LEFT JOIN loyalty_accounts la ON la.member_id = m.id "
            f"WHERE m.status = 'active' AND {where} ORDER BY m.id DESC LIMIT {max(1, min(int(limit), 100))}",
            *params)
    names = {tier.code: tier.name for tier in program.tiers}
    out = []
    for row in rows:
        tier = row["tier_code"] or program.tiers[0].code  # as the rule's tier condition reads it
        phone = f"{row['phone_prefix3']}****{row['phone_last4']}" if row["phone_last4"] else None
        out.append({"id": row["id"], "member_no": row["member_no"], "phone": phone, "nickname": row["nickname"],
                    "tier": tier, "tier_name": names.get(tier, tier)})
    return out


async def preview(rule: Rule | dict[str, Any], *, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """The count and 20 sample members, from the read replica when there is one (a preview tolerates lag)."""
    return {"count": await count(rule, tz=tz, replica=True), "sample": await sample(rule, tz=tz, replica=True)}


# --- saved segments ---------------------------------------------------------------------------


def render(segment: Segment) -> dict[str, Any]:
    return {"id": segment.id, "name": segment.name, "description": segment.description, "rule": segment.rule,
            "created_at": segment.created_at.isoformat(), "updated_at": segment.updated_at.isoformat()}


async def get_or_raise(*, segment_id: int) -> Segment:
    segment = await Segment.get_or_none(id=segment_id)
    if segment is None:
        raise SegmentNotFound(details={"segment_id": segment_id})
    return segment


async def create(*, name: str, rule: dict[str, Any], description: str = "", actor: audit.Actor) -> Segment:
    """Save a validated rule under a name."""
    parsed = parse_rule(rule)
    now = clock.now()
    segment = await Segment.create(name=name, rule=parsed.dump(), description=description, created_at=now,
                                   updated_at=now)
    await audit.record(actor=actor, action="segment.create", target_type="segment", target_id=segment.id,
                       after=render(segment))
    return segment


async def update(*, segment_id: int, actor: audit.Actor, name: str | None = None,
                 rule: dict[str, Any] | None = None, description: str | None = None) -> Segment:
    """Change a segment's name, description or rule (validated)."""
    segment = await get_or_raise(segment_id=segment_id)
    before = render(segment)
    if rule is not None:
        segment.rule = parse_rule(rule).dump()
    if name is not None:
        segment.name = name
    if description is not None:
        segment.description = description
    segment.updated_at = clock.now()
    await segment.save()
    await audit.record(actor=actor, action="segment.update", target_type="segment", target_id=segment_id,
                       before=before, after=render(segment))
    return segment


async def delete(*, segment_id: int, actor: audit.Actor) -> None:
    """Remove a saved segment, unless a touch that is not finished still selects its audience with it."""
    from jobs.models import Touch

    segment = await get_or_raise(segment_id=segment_id)
    from backend.loyalty.campaigns import status as campaign_status
    from backend.loyalty.models import PointsCampaign

    users = [t.id for t in await Touch.filter(status__in=["draft", "scheduled", "running", "paused"])
             if t.audience.get("segment_id") == segment_id]
    campaigns = [c.id for c in await PointsCampaign.filter(segment_id=segment_id) if campaign_status(c) != "ended"]
    if users or campaigns:
        raise SegmentInUse(details={"touch_ids": users, "campaign_ids": campaigns})
    await segment.delete()
    await audit.record(actor=actor, action="segment.delete", target_type="segment", target_id=segment_id,
                       before=render(segment))
