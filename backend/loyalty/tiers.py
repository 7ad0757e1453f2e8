"""Tiers: the qualifying measure over a rolling window, upgrades in the qualifying transaction,
downgrades by a periodic review after the retention period, and gift packs once per tier per year.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

import notifications
from backend import clock, db
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.models import LoyaltyAccount, TierChange, TierGift
from backend.loyalty.program import Program
from backend.members import events

# Run after an upgrade inside its transaction: (conn, member_id, tier) -> granted items (coupons hook here).
GIFT_HOOKS: list[Any] = []


MEASURE_SQL = """
SELECT COALESCE(SUM(amount_cents - discount_cents - refunded_cents), 0) AS spend_cents,
       COALESCE(SUM(points_earned - points_reversed), 0) AS points,
       COALESCE(SUM(CASE WHEN status <> 'refunded' THEN 1 ELSE 0 END), 0) AS orders
  FROM orders WHERE member_id = $1 AND placed_at >= $2"""


async def measure(conn: BaseDBAsyncClient | None, member_id: int, program: Program,
                  now: datetime | None = None) -> int:
    """The member's qualifying value over the window: yuan paid net of refunds, points earned net
    of reversals, or orders not fully refunded (one aggregate row, whatever the order count)."""
    since = (now or clock.now()) - timedelta(days=program.tier_window_days)
    row = await db.fetch_one(MEASURE_SQL, member_id, since, conn=conn)
    assert row is not None
    if program.tier_measure == "orders":
        return int(row["orders"])
    if program.tier_measure == "points":
        return int(row["points"])
    return int(row["spend_cents"]) // 100


async def _change(assets: Assets, program: Program, *, to_code: str, reason: str, value: int,
                  downgrade_notice: str | None = None, channels: list[str] | None = None) -> dict[str, Any]:
    account, now = assets.account, clock.now()
    from_code = account.tier_code or program.tiers[0].code
    account.tier_code, account.tier_since = to_code, now
    change = await TierChange.create(member_id=account.member_id, from_code=from_code, to_code=to_code,
                                     reason=reason, measure=value, created_at=now, using_db=assets.conn)
    await events.append(member_id=account.member_id, type="tier_changed",
                        payload={"from": from_code, "to": to_code, "reason": reason, "measure": value},
                        using_db=assets.conn)
    if program.rank(to_code) > program.rank(from_code):
        await notifications.enqueue(
            member_id=account.member_id, template_key="tier_upgraded", conn=assets.conn,
            dedupe_key=f"tier_upgraded:{change.id}",
            context={"tier_code": to_code, "tier_name": program.tier(to_code).name,
                     "from_tier_name": program.tier(from_code).name})
    elif downgrade_notice and program.rank(to_code) < program.rank(from_code):
        await notifications.enqueue(
            member_id=account.member_id, template_key=downgrade_notice, conn=assets.conn,
            dedupe_key=f"tier_downgraded:{change.id}", channels=channels or None,
            context={"tier_code": to_code, "tier_name": program.tier(to_code).name,
                     "from_tier_name": program.tier(from_code).name, "measure": value})
    return {"from": from_code, "to": to_code, "reason": reason}


async def upgrade_if_qualified(assets: Assets, program: Program, *, tz: str, ctx: Context) -> dict[str, Any] | None:
    """In the qualifying event's transaction: move up to the highest tier the measure reaches."""
    value = await measure(assets.conn, assets.member_id, program)
    assets.account.tier_measure = value
    target = program.tier_for(value)
    if program.rank(target.code) <= program.rank(assets.account.tier_code):
        return None
    change = await _change(assets, program, to_code=target.code, reason="upgrade", value=value)
    change["gift"] = await _gift(assets, program, target.code, tz=tz, ctx=ctx)
    return change


async def _gift(assets: Assets, program: Program, code: str, *, tz: str, ctx: Context) -> dict[str, Any]:
    tier = program.tier(code)
    period = str(clock.now().astimezone(ZoneInfo(tz)).year)
    if await TierGift.filter(member_id=assets.member_id, tier_code=code, period=period).using_db(assets.conn).exists():
        return {}
    await TierGift.create(member_id=assets.member_id, tier_code=code, period=period, points=tier.gift_points,
                          created_at=clock.now(), using_db=assets.conn)
    granted: dict[str, Any] = {}
    if tier.gift_points:
        await assets.credit(tier.gift_points, kind="bonus", ref=f"tier_gift:{code}:{period}",
                            ctx=Context(source="system", reason=f"升级{tier.name}礼包", channel=ctx.channel,
                                        store_id=ctx.store_id),
                            expires_at=program.lot_expiry(clock.now(), tz))
        granted["points"] = tier.gift_points
    for hook in GIFT_HOOKS:
        granted.update(await hook(assets.conn, assets.member_id, tier))
    return granted


async def review(program: Program, *, now: datetime | None = None, batch: int = 500,
                 downgrade_notice: str | None = None, channels: list[str] | None = None) -> dict[str, int]:
    """Lower the tier of members whose measure no longer holds it, once their retention is over; with
    ``downgrade_notice`` (a template key) each lowered member is told, once per downgrade.

    Walks the accounts above the lowest tier in primary-key batches; each member in its own
    transaction under the account lock. Safe to run again: a member already lowered is skipped.
    """
    now = now or clock.now()
    lowest = program.tiers[0].code
    counts = {"reviewed": 0, "downgraded": 0}
    last = 0
    while True:
        ids = await LoyaltyAccount.filter(member_id__gt=last, tier_code__isnull=False).exclude(
            tier_code=lowest).order_by("member_id").limit(batch).values_list("member_id", flat=True)
        if not ids:
            return counts
        for member_id in ids:
            counts["reviewed"] += 1
            async with in_transaction() as conn:
                assets = await Assets.open(conn, member_id)
                account = assets.account
                if account.tier_since and account.tier_since + timedelta(days=program.tier_retention_days) > now:
                    continue
                value = await measure(conn, member_id, program, now)
                account.tier_measure = value
                target = program.tier_for(value)
                if program.rank(target.code) < program.rank(account.tier_code):
                    await _change(assets, program, to_code=target.code, reason="downgrade", value=value,
                                  downgrade_notice=downgrade_notice, channels=channels)
                    counts["downgraded"] += 1
                await assets.save()
        last = ids[-1]
