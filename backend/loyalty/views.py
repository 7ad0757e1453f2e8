"""Read models of a member's assets (mini-program home, clerk's member card, export) and the hooks
that plug loyalty into the member services (registration reward, merge, export, summary).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from backend.loyalty import cards, order_stats, orders, tiers
from backend.loyalty import program as programs
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.models import CheckIn, Order, PointsEntry, TierChange, WalletEntry

EXPIRING_WINDOW = timedelta(days=30)
# Coupons add their part of the asset view here: async (member_id, db.Reader) -> dict.
ASSET_SECTIONS: list[Any] = []


def _tier_view(program: programs.Program, code: str | None, measure: int) -> dict[str, Any]:
    tier = program.tier(code)
    following = program.next_tier(tier.code)
    view: dict[str, Any] = {"code": tier.code, "name": tier.name, "discount_pct": tier.discount_pct,
                            "points_multiplier_pct": tier.points_multiplier_pct, "free_shipping": tier.free_shipping,
                            "birthday_multiplier_pct": tier.birthday_multiplier_pct,
                            "measure": program.tier_measure, "progress": measure, "next": None}
    if following is not None:
        view["next"] = {"code": following.code, "name": following.name, "threshold": following.threshold,
                        "remaining": max(following.threshold - measure, 0)}
    return view


# One statement: the member, the account and one row per lot expiring within the window (or one
# row without a lot).
ASSETS_SQL = """
SELECT m.status, a.points_balance, a.points_debt, a.principal_cents, a.bonus_cents, a.tier_code, a.tier_measure,
       l.remaining, l.expires_at, h.held_points, h.held_cents
  FROM members m
  LEFT JOIN (SELECT member_id, SUM(points) AS held_points, SUM(balance_cents) AS held_cents FROM checkout_sessions
              WHERE member_id = $1 AND status = 'open' AND expires_at > $3 GROUP BY member_id) h ON h.member_id = m.id
  LEFT JOIN loyalty_accounts a ON a.member_id = m.id
  LEFT JOIN points_lots l ON l.member_id = m.id AND l.remaining > 0 AND l.expires_at <= $2
 WHERE m.id = $1
 ORDER BY l.expires_at"""


async def assets(member_id: int, *, active_only: bool = False) -> dict[str, Any] | None:
    """The mini-program home: points with what expires in 30 days, stored value, tier and progress.

    The hottest read of the system: one row, the member's asset card (``backend.loyalty.cards``), when it
    is current; otherwise the reference computation (``compute_assets``), written back as the new card.
    The tier comes from the program in the process cache, so a program change needs no card change.
    None for an unknown member (or an inactive one, with ``active_only``).
    """
    program = await programs.load()
    content = await _content(member_id)
    if content is None or (active_only and content.status != "active"):
        return None
    return {**json.loads(content.view), "tier": _tier_view(program, content.tier_code, content.tier_measure)}


async def assets_json(member_id: int, *, active_only: bool = False) -> str | None:
    """``assets`` as JSON text, the card's spliced with the tier: the mini-program's answer without decoding
    and encoding the card again."""
    program = await programs.load()
    content = await _content(member_id)
    if content is None or (active_only and content.status != "active"):
        return None
    return f'{content.view[:-1]},"tier":{_tier_json(program, content.tier_code, content.tier_measure)}}}'


# The tier part of the answer by (tier code, measure), for one program object: the process cache hands out
# the same object until the program changes or its copy is refreshed, and rendering the tier cost more
# than reading the card.
_tier_texts: tuple[programs.Program | None, dict[tuple[str | None, int], str]] = (None, {})
TIER_TEXTS_MAX = 10_000


def _tier_json(program: programs.Program, tier_code: str | None, measure: int) -> str:
    global _tier_texts
    owner, texts = _tier_texts
    if owner is not program:
        texts = {}
        _tier_texts = (program, texts)
    text = texts.get((tier_code, measure))
    if text is None:
        if len(texts) >= TIER_TEXTS_MAX:
            texts.clear()
        text = texts[(tier_code, measure)] = json.dumps(_tier_view(program, tier_code, measure),
                                                        ensure_ascii=False, separators=(",", ":"))
    return text


async def _content(member_id: int) -> cards.Content | None:
    now = clock.now()  # before the card's version is read: fresh_until is counted from here
    # The card and, when it is not current, the view's inputs on one connection: a replica's (the member
    # changed nothing lately, ``backend.replica``) or the primary's. The inputs are then read at the card's
    # snapshot or later, never earlier, and the write-back at the card's version lands only if nothing
    # changed since: a view older than a committed change is never stored as current.
    async with db.reader(replica=True, member_id=member_id) as reader:
        card = await cards.get(member_id, now, reader)
        if card is not None and card.content is not None:
            return card.content
        gathered = await _gather(member_id, reader)
        if gathered is None:
            return None
        until = await cards.fresh_until(member_id, now, reader) if card is not None else None
    status, view, tier_code, measure = gathered
    content = cards.Content(status, json.dumps(view, ensure_ascii=False, separators=(",", ":")), tier_code, measure)
    if card is not None:
        async with db.reader() as primary:  # the primary's read pool: never behind the transactions' queue
            await cards.put(member_id, card.version, content, until, primary)
    return content


async def compute_assets(member_id: int, *, active_only: bool = False) -> dict[str, Any] | None:
    """The asset view computed from the ledgers' tables, bypassing the card: the reference ``assets`` must
    equal. Fixed statements, the program from the process cache, and the tier progress as stored at the
    member's last order or refund."""
    program = await programs.load()
    gathered = await _gather(member_id)
    if gathered is None or (active_only and gathered[0] != "active"):
        return None
    _, view, tier_code, measure = gathered
    return {**view, "tier": _tier_view(program, tier_code, measure)}


async def _gather(member_id: int, reader: db.Reader | None = None) -> tuple[str, dict[str, Any], str | None, int] | None:
    """The member's status, the view without its tier, and what the tier is rendered from: the account's
    tier code and measure, read on ``reader`` (the primary's read pool when None). None for an unknown member."""
    if reader is None:
        async with db.reader() as own:
            return await _gather(member_id, own)
    now = clock.now()
    rows = await reader.fetch(ASSETS_SQL, member_id, now + EXPIRING_WINDOW, now)
    if not rows:
        return None
    account = rows[0]
    lots = [(row["remaining"], db.to_datetime(row["expires_at"])) for row in rows if row["remaining"]]
    sections = [await section(member_id, reader) for section in ASSET_SECTIONS]
    # Lots already due count as gone even before the expiry job has emptied them.
    due = sum(remaining for remaining, expires_at in lots if expires_at <= now)
    balance = (account["points_balance"] or 0) - due
    held_points, held_cents = int(account["held_points"] or 0), int(account["held_cents"] or 0)
    wallet = (account["principal_cents"] or 0) + (account["bonus_cents"] or 0)
    view = {
        "points": {"balance": balance, "debt": account["points_debt"] or 0,
                   "held": held_points, "available": max(0, balance - held_points),
                   "expiring": [{"points": remaining, "expires_at": expires_at.isoformat()}
                                for remaining, expires_at in lots if expires_at > now]},
        "balance_cents": wallet,
        "balance_held_cents": held_cents,
        "balance_available_cents": max(0, wallet - held_cents),
        "principal_cents": account["principal_cents"] or 0,
        "bonus_cents": account["bonus_cents"] or 0,
    }
    for section_view in sections:
        view.update(section_view)
    return account["status"], view, account["tier_code"], int(account["tier_measure"] or 0)


# When time alone next changes the loyalty part of the view: a lot in the window falls due, the next lot
# enters the window, an open checkout session's hold lapses.
HORIZON_SQL = """
SELECT l.lot_due, l.lot_entering, s.hold_lapses
  FROM (SELECT MIN(CASE WHEN expires_at <= $3 THEN expires_at END) AS lot_due,
               MIN(CASE WHEN expires_at > $3 THEN expires_at END) AS lot_entering
          FROM points_lots WHERE member_id = $1 AND remaining > 0 AND expires_at > $2) l,
       (SELECT MIN(expires_at) AS hold_lapses FROM checkout_sessions
         WHERE member_id = $1 AND status = 'open' AND expires_at > $2) s"""


async def horizon(member_id: int, now: datetime, reader: db.Reader) -> datetime | None:
    row = await reader.fetch_one(HORIZON_SQL, member_id, now, now + EXPIRING_WINDOW)
    assert row is not None
    entering = db.to_datetime(row["lot_entering"])
    instants = [db.to_datetime(row["lot_due"]), entering - EXPIRING_WINDOW if entering else None,
                db.to_datetime(row["hold_lapses"])]
    return min((instant for instant in instants if instant is not None), default=None)


cards.HORIZONS.append(horizon)


def render_points_entry(entry: PointsEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "points": entry.points, "debt_delta": entry.debt_delta,
            "balance_after": entry.balance_after, "reason": entry.reason, "source": entry.source,
            "channel": entry.channel, "store_id": entry.store_id, "order_id": entry.order_id,
            "created_at": entry.created_at.isoformat()}


def render_wallet_entry(entry: WalletEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "amount_cents": entry.principal_cents + entry.bonus_cents,
            "principal_cents": entry.principal_cents, "bonus_cents": entry.bonus_cents,
            "balance_after_cents": entry.principal_after + entry.bonus_after, "reason": entry.reason,
            "channel": entry.channel, "store_id": entry.store_id, "order_id": entry.order_id,
            "created_at": entry.created_at.isoformat()}


def render_order(order: Order) -> dict[str, Any]:
    return {"id": order.id, "order_no": order.order_no, "channel": order.channel, "store_id": order.store_id,
            "amount_cents": order.amount_cents, "refunded_cents": order.refunded_cents,
            "points_earned": order.points_earned, "points_spent": order.points_spent, "status": order.status,
            "placed_at": order.placed_at.isoformat()}


async def summary_section(member: Any, store_id: int | None) -> dict[str, Any]:
    """The clerk's member card: balances, tier with the member discount for POS, recent orders."""
    view = await assets(member.id) or {}
    recent = await Order.filter(member_id=member.id).order_by("-id").limit(5)
    return {"points": view["points"], "balance_cents": view["balance_cents"], "tier": view["tier"],
            "recent_orders": [render_order(order) for order in recent]}


async def export_section(member_id: int) -> dict[str, Any]:
    return {
        "points_ledger": [render_points_entry(e) for e in await PointsEntry.filter(member_id=member_id).order_by("id")],
        "wallet_ledger": [render_wallet_entry(e) for e in await WalletEntry.filter(member_id=member_id).order_by("id")],
        "orders": [render_order(o) for o in await Order.filter(member_id=member_id).order_by("id")],
        "tier_history": [{"from": c.from_code, "to": c.to_code, "reason": c.reason, "at": c.created_at.isoformat()}
                         for c in await TierChange.filter(member_id=member_id).order_by("id")],
        "check_ins": [{"day": c.day.isoformat(), "streak": c.streak, "points": c.points, "coupon_id": c.coupon_id,
                       "at": c.created_at.isoformat()}
                      for c in await CheckIn.filter(member_id=member_id).order_by("id")],
    }


async def merge_hook(conn: BaseDBAsyncClient, survivor_id: int, merged_id: int) -> dict[str, Any]:
    """Points (with their lots and debt), stored value, orders and the higher tier move to the survivor.

    Both accounts are locked in member-id order; the merged member's ledgers keep their history and
    end with a transfer_out entry, the survivor's gain the matching transfer_in.
    """
    # Order rows before accounts, as a refund takes them (its order row, then the account).
    orders_moved = await Order.filter(member_id=merged_id).using_db(conn).update(member_id=survivor_id)
    # Check-ins: the survivor keeps its own days and gains the merged member's others (a day both checked in
    # stays one check-in, rewarded once); the next check-in continues from yesterday's row, whoever made it.
    await db.fetch("UPDATE check_ins SET member_id = $1 WHERE member_id = $2 "
                   "AND day NOT IN (SELECT day FROM check_ins WHERE member_id = $1)", survivor_id, merged_id, conn=conn)
    first, second = sorted((survivor_id, merged_id))
    opened = {first: await Assets.open(conn, first), second: await Assets.open(conn, second)}
    survivor, merged = opened[survivor_id], opened[merged_id]
    await order_stats.recompute(conn, [survivor_id, merged_id])  # their orders moved: under both account locks
    program = await programs.load(conn)
    moved = {"points": merged.account.points_balance, "points_debt": merged.account.points_debt,
             "principal_cents": merged.account.principal_cents, "bonus_cents": merged.account.bonus_cents,
             "orders": orders_moved}
    await merged.transfer_all_to(survivor, ctx=Context(source="system", reason=f"会员合并 {merged_id} → {survivor_id}"))
    survivor.account.tier_measure = await tiers.measure(conn, survivor_id, program)
    merged.account.tier_measure = 0
    if program.rank(merged.account.tier_code) > program.rank(survivor.account.tier_code):
        await TierChange.create(member_id=survivor_id, from_code=survivor.account.tier_code or program.tiers[0].code,
                                to_code=merged.account.tier_code, reason="merge", created_at=clock.now(),
                                using_db=conn)
        survivor.account.tier_code = merged.account.tier_code
        survivor.account.tier_since = merged.account.tier_since
        moved["tier"] = merged.account.tier_code
    await merged.save()
    await survivor.save()
    return {"loyalty": moved}


_installed: set[str] = set()


def install(timezone: str) -> None:
    """Plug loyalty into the member services (once per process)."""
    from backend.members import merge, privacy, scan, service

    if "hooks" in _installed:
        return
    _installed.add("hooks")

    async def registration_reward(conn: BaseDBAsyncClient, member_id: int, channel: str, store_id: int | None) -> None:
        await orders.grant_registration_points(conn, member_id, channel, store_id, timezone)

    service.REGISTRATION_REWARD_HOOKS.append(registration_reward)
    merge.MERGE_HOOKS.append(merge_hook)
    privacy.EXPORT_SECTIONS.append(export_section)
    scan.SUMMARY_SECTIONS.append(summary_section)
