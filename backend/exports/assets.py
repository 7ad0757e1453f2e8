"""Balances at a moment and ledgers over a period, both read from the ledgers (points and stored value).

A balance at a moment is the sum of the member's ledger entries written before it: the same figure as the
entries' ``balance_after`` (a balance always equals the sum of its rows), and the one the analytics will add
up, so the totals row equals the sum of every ledger's deltas up to that moment. Points past their expiry
still count until ``expire-points`` writes their expiry entry, as in the ledger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from backend import clock, db
from backend.errors import field_errors
from backend.exports.errors import MAX_RANGE_DAYS, ExportRangeTooLong
from backend.exports.service import BATCH, Export, day_start, today
from backend.exports.writers import Column
from backend.loyalty.models import Order, PointsEntry, WalletEntry
from backend.members.models import Member
from backend.stores.models import Store

LedgerKind = Literal["points", "wallet"]
TOTAL = "合计"

BALANCE_COLUMNS = [Column("会员号", width=14), Column("状态", width=8), Column("积分", "int"),
                   Column("积分欠款", "int"), Column("储值本金", "money"), Column("储值赠送", "money"),
                   Column("储值合计", "money")]

POINTS_SQL = """
SELECT member_id, SUM(points) AS points, SUM(debt_delta) AS debt FROM points_entries
 WHERE member_id >= $1 AND member_id <= $2 AND created_at < $3 GROUP BY member_id"""
WALLET_SQL = """
SELECT member_id, SUM(principal_cents) AS principal, SUM(bonus_cents) AS bonus FROM wallet_entries
 WHERE member_id >= $1 AND member_id <= $2 AND created_at < $3 GROUP BY member_id"""


def balances(*, at: date | None, tz: ZoneInfo, batch: int = BATCH) -> Export:
    """Every member's balances at the end of the merchant-time day ``at`` (absent or today: now), from the
    entries written before it; members with nothing anywhere left out, and a last row 合计 with the sums."""
    now, current = clock.now(), today(tz)
    at = at or current
    if at > current:
        raise field_errors({"at": "不能晚于今天"})
    # Today's balances are those of this moment: entries written up to now count, later ones do not.
    before = min(day_start(at + timedelta(days=1), tz), now + timedelta(microseconds=1))
    return Export(kind="balances", title="资产余额", slug="balances", period=at.isoformat(), columns=BALANCE_COLUMNS,
                  filters={"at": at.isoformat(), "before": before.isoformat()},
                  batches=_balance_batches(before, batch))


async def _balance_batches(before: datetime, batch: int) -> AsyncIterator[list[list[Any]]]:
    totals = [0, 0, 0, 0]
    members = 0
    last = 0
    while True:
        # Every member (merged and erased ones keep their ledgers), a contiguous run of ids at a time, so the
        # ledgers are read by range on their (member_id, id) index.
        batch_rows = await Member.filter(id__gt=last).order_by("id").limit(batch).values_list("id", "member_no",
                                                                                               "status")
        if not batch_rows:
            break
        low, high = batch_rows[0][0], batch_rows[-1][0]
        points = {r["member_id"]: r for r in await db.fetch(POINTS_SQL, low, high, before)}
        wallet = {r["member_id"]: r for r in await db.fetch(WALLET_SQL, low, high, before)}
        rows = []
        for member_id, member_no, status in batch_rows:
            p, w = points.get(member_id) or {}, wallet.get(member_id) or {}
            # PostgreSQL sums bigints as numeric (Decimal): back to int, exactly.
            values = [int(p.get("points") or 0), int(p.get("debt") or 0), int(w.get("principal") or 0),
                      int(w.get("bonus") or 0)]
            if not any(values):
                continue
            members += 1
            totals = [total + value for total, value in zip(totals, values, strict=True)]
            rows.append([member_no, status, *values, values[2] + values[3]])
        if rows:
            yield rows
        if len(batch_rows) < batch:
            break
        last = high
    yield [[TOTAL, f"{members} 位会员", *totals, totals[2] + totals[3]]]


def ledger_columns(kind: LedgerKind) -> list[Column]:
    head = [Column("流水号", "int"), Column("会员号", width=14), Column("类型", width=14)]
    tail = [Column("原因", width=24), Column("渠道", width=12), Column("门店"), Column("订单号", width=20)]
    if kind == "points":
        return [*head, Column("积分变动", "int"), Column("变动后积分", "int"), Column("欠款变动", "int"),
                Column("来源", width=10), *tail, Column("关联号", width=24), Column("时间", "time")]
    return [*head, Column("本金变动", "money"), Column("赠送变动", "money"), Column("变动后本金", "money"),
            Column("变动后赠送", "money"), *tail, Column("支付流水号", width=20), Column("关联号", width=24),
            Column("时间", "time")]


def ledger(*, kind: LedgerKind, first: date, last: date, tz: ZoneInfo, batch: int = BATCH) -> Export:
    """The entries written from the start of the merchant-time day ``first`` to the end of ``last``, by id;
    at most MAX_RANGE_DAYS days (EXPORT_RANGE_TOO_LONG)."""
    if last < first:
        raise field_errors({"to": "应不早于 from"})
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise ExportRangeTooLong(details={"max_days": MAX_RANGE_DAYS, "days": days})
    start, end = day_start(first, tz), day_start(last + timedelta(days=1), tz)
    title = "积分流水" if kind == "points" else "储值流水"
    return Export(kind="ledgers", title=title, slug=f"{kind}-ledger", period=f"{first}_{last}",
                  columns=ledger_columns(kind), filters={"kind": kind, "from": first.isoformat(), "to": last.isoformat()},
                  batches=_ledger_batches(kind, start, end, batch))


async def _ledger_batches(kind: LedgerKind, start: datetime, end: datetime,
                          batch: int) -> AsyncIterator[list[list[Any]]]:
    model = PointsEntry if kind == "points" else WalletEntry
    stores = dict(await Store.all().values_list("id", "code"))
    last = 0
    while True:
        entries = await model.filter(created_at__gte=start, created_at__lt=end, id__gt=last).order_by("id").limit(batch)
        if not entries:
            return
        member_ids = {entry.member_id for entry in entries}
        numbers = dict(await Member.filter(id__in=member_ids).values_list("id", "member_no"))
        order_ids = {entry.order_id for entry in entries if entry.order_id is not None}
        orders = dict(await Order.filter(id__in=order_ids).values_list("id", "order_no")) if order_ids else {}
        rows = []
        for e in entries:
            head = [e.id, numbers.get(e.member_id), e.kind]
            tail = [e.reason, e.channel, stores.get(e.store_id), orders.get(e.order_id)]
            if isinstance(e, PointsEntry):
                rows.append([*head, e.points, e.balance_after, e.debt_delta, e.source, *tail, e.ref, e.created_at])
            else:
                rows.append([*head, e.principal_cents, e.bonus_cents, e.principal_after, e.bonus_after, *tail,
                             e.payment_ref, e.ref, e.created_at])
        yield rows
        if len(entries) < batch:
            return
        last = entries[-1].id
