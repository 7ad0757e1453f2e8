"""Bonus-point campaigns: time-boxed (or standing) extra points on top of the earn rule.

How an order's points are made up (README has the table):
- the earn rule gives ``base`` = paid × rule × channel bonus × store bonus × tier × birthday (orders.points_for);
- each running campaign the order matches adds its own bonus, computed on ``base`` and never on another
  campaign's bonus (several campaigns add up, they do not compound):
  - ``multiplier`` (e.g. 200 = double points): ``base × (multiplier_pct − 100) / 100`` rounded down, where a
    campaign limited to item categories counts only the base of those items (in proportion to their amounts);
  - ``fixed``: ``bonus_points`` per order paying at least ``min_paid_cents`` (with an item of the categories,
    when it is limited to some);
- limits: channels, stores, categories, tiers (the tier held when the order is placed), a saved segment (as it
  selects the member in the order's transaction); every limit left empty matches all;
- a budget: a campaign never grants more than ``budget_points`` in all. Each grant takes the campaign's row
  lock (FOR UPDATE on PostgreSQL; on SQLite the order's transaction is already the only writer) and gives
  ``min(bonus, budget − spent)``, so fifty concurrent orders never overspend it; the last one may get part.
  A refund takes the bonus back from the member in proportion, like the rest of the order's points; it does
  not give budget back.

Each campaign's bonus is its own ledger entry (``order:<id>:campaign:<campaign id>``), so the member's ledger
and the receipt say which campaign added what. A quote runs the same code and is rolled back.

A standing campaign (no end) limited to a segment is the earn rule for that segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend import audit, clock, db
from backend.loyalty.errors import CampaignNotFound
from backend.loyalty.models import PointsCampaign

# The audience service plugs in here: (conn, segment_id, member_id, now, tz) -> whether the segment selects
# the member. Without one, a campaign limited to a segment matches nobody.
SEGMENT_MATCHERS: list[Any] = []

FIELDS = ("name", "description", "enabled", "starts_at", "ends_at", "kind", "multiplier_pct", "bonus_points",
          "min_paid_cents", "channels", "store_ids", "categories", "tiers", "segment_id", "budget_points")

RUNNING_SQL = ("SELECT * FROM points_campaigns WHERE enabled AND starts_at <= $1 AND (ends_at IS NULL OR ends_at > $1) "
               "AND (budget_points IS NULL OR spent_points < budget_points) ORDER BY id")


@dataclass(frozen=True)
class Grant:
    campaign_id: int
    name: str
    points: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.campaign_id, "name": self.name, "points": self.points}


def status(row: PointsCampaign, now: datetime | None = None) -> str:
    now = now or clock.now()
    if row.ends_at is not None and row.ends_at <= now:
        return "ended"
    if row.budget_points is not None and row.spent_points >= row.budget_points:
        return "exhausted"
    if not row.enabled:
        return "paused"
    return "running" if row.starts_at <= now else "scheduled"


def render(row: PointsCampaign) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "enabled": row.enabled,
            "starts_at": row.starts_at.isoformat(), "ends_at": row.ends_at.isoformat() if row.ends_at else None,
            "kind": row.kind, "multiplier_pct": row.multiplier_pct, "bonus_points": row.bonus_points,
            "min_paid_cents": row.min_paid_cents, "channels": list(row.channels), "store_ids": list(row.store_ids),
            "categories": list(row.categories), "tiers": list(row.tiers), "segment_id": row.segment_id,
            "budget_points": row.budget_points, "spent_points": row.spent_points, "status": status(row),
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str | bytes):
        import json

        return list(json.loads(value))
    return list(value or [])


async def _matches(conn: Any, row: dict[str, Any], *, member_id: int, channel: str, store_id: int | None,
                   tier_code: str, paid_cents: int, items: list[Any], placed_at: datetime, tz: str) -> bool:
    channels, stores, tiers = _json_list(row["channels"]), _json_list(row["store_ids"]), _json_list(row["tiers"])
    if channels and channel not in channels:
        return False
    if stores and store_id not in stores:
        return False
    if tiers and tier_code not in tiers:
        return False
    if paid_cents < int(row["min_paid_cents"]) or paid_cents <= 0:
        return False
    categories = set(_json_list(row["categories"]))
    if categories and not any(item.category in categories for item in items):
        return False
    if row["segment_id"] is not None:
        if not SEGMENT_MATCHERS:
            return False
        return bool(await SEGMENT_MATCHERS[0](conn, int(row["segment_id"]), member_id, placed_at, tz))
    return True


def _bonus(row: dict[str, Any], *, base_points: int, base_for: Any, items: list[Any]) -> int:
    if row["kind"] == "fixed":
        return int(row["bonus_points"])
    categories = set(_json_list(row["categories"]))
    basis = base_points
    if categories:
        total = sum(item.amount_cents for item in items)
        chosen = [item for item in items if item.category in categories]
        basis = base_for(sum(item.amount_cents for item in chosen), total, chosen) if total > 0 else 0
    return basis * (int(row["multiplier_pct"]) - 100) // 100


async def grants(conn: Any, *, member_id: int, channel: str, store_id: int | None, tier_code: str, paid_cents: int,
                 items: list[Any], base_points: int, base_for: Any, placed_at: datetime, tz: str) -> list[Grant]:
    """The bonuses of every running campaign the order matches, each taken from its budget under its row lock.

    ``base_for(part_cents, items_total_cents, items)`` gives the earn rule's points for a part of the order
    (a campaign limited to categories)."""
    out: list[Grant] = []
    for row in await db.fetch(RUNNING_SQL, placed_at, conn=conn):
        if not await _matches(conn, row, member_id=member_id, channel=channel, store_id=store_id, tier_code=tier_code,
                              paid_cents=paid_cents, items=items, placed_at=placed_at, tz=tz):
            continue
        bonus = _bonus(row, base_points=base_points, base_for=base_for, items=items)
        if bonus <= 0:
            continue
        if row["budget_points"] is not None:
            lock = " FOR UPDATE" if db.is_postgres() else ""
            fresh = await db.fetch_one(f"SELECT spent_points, budget_points FROM points_campaigns WHERE id = $1{lock}",
                                       row["id"], conn=conn)
            assert fresh is not None
            bonus = min(bonus, int(fresh["budget_points"]) - int(fresh["spent_points"]))
            if bonus <= 0:
                continue
        await db.fetch("UPDATE points_campaigns SET spent_points = spent_points + $2 WHERE id = $1",
                       row["id"], bonus, conn=conn)
        out.append(Grant(int(row["id"]), str(row["name"]), bonus))
    return out


# --- admin ------------------------------------------------------------------------------------------


async def get_or_raise(campaign_id: int) -> PointsCampaign:
    row = await PointsCampaign.get_or_none(id=campaign_id)
    if row is None:
        raise CampaignNotFound(details={"campaign_id": campaign_id})
    return row


async def create(values: dict[str, Any], *, actor: audit.Actor) -> PointsCampaign:
    now = clock.now()
    row = await PointsCampaign.create(**{key: values[key] for key in FIELDS}, created_at=now, updated_at=now)
    await audit.record(actor=actor, action="campaign.create", target_type="points_campaign", target_id=row.id,
                       after=render(row))
    return row


async def update(campaign_id: int, values: dict[str, Any], *, actor: audit.Actor) -> PointsCampaign:
    row = await get_or_raise(campaign_id)
    before = render(row)
    await PointsCampaign.filter(id=campaign_id).update(**{key: values[key] for key in FIELDS},
                                                       updated_at=clock.now())
    row = await get_or_raise(campaign_id)
    await audit.record(actor=actor, action="campaign.update", target_type="points_campaign", target_id=row.id,
                       before=before, after=render(row))
    return row
