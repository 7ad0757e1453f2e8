"""Each member's order figures (``member_order_stats``): how many orders, for how much, first and last placed.

Kept by every writer of orders in its own transaction, under the member's account lock
(``accounts.Assets.open``), so concurrent orders of one member queue on it and none is lost: an order adds
itself (``order_placed``), a refund takes off what it refunded and, when it refunds the order in full, the
order itself (``order_refunded``), a merge recomputes both members from their orders (``recompute``).
Orders refunded in full do not count; amounts are net of refunds: the figures equal what ``FIGURES_SQL``
computes from the orders at any time (the tests check it after every step). Imports write no orders;
an erasure leaves the orders, and so the figures, under the member's id.

Segment rules (``jobs.segment_rules``) and the automatic tags (``jobs.tags``) read them for what is about
all of a member's orders (how many, how much, how recent the last); what is about a window of time ("in
the last 30 days") still reads the orders. Every writer of the row holds the member's account lock when
it writes it, so the row's own lock is never waited for by a holder of another (lock order: after the
loyalty accounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import db

COLUMNS = "member_id, order_count, amount_cents, first_order_at, last_order_at"

PLACED_SQL = (
    f"INSERT INTO member_order_stats ({COLUMNS}) VALUES ($1, 1, $2, $3, $3) ON CONFLICT (member_id) DO UPDATE "
    "SET order_count = member_order_stats.order_count + 1, "
    "amount_cents = member_order_stats.amount_cents + excluded.amount_cents, "
    "first_order_at = CASE WHEN member_order_stats.first_order_at IS NULL "
    "OR excluded.first_order_at < member_order_stats.first_order_at THEN excluded.first_order_at "
    "ELSE member_order_stats.first_order_at END, "
    "last_order_at = CASE WHEN member_order_stats.last_order_at IS NULL "
    "OR excluded.last_order_at > member_order_stats.last_order_at THEN excluded.last_order_at "
    "ELSE member_order_stats.last_order_at END")
REFUNDED_SQL = "UPDATE member_order_stats SET amount_cents = amount_cents + $2 WHERE member_id = $1"
# An order that no longer counts may have been the first or the last: both read again from the orders
# that do (an index range of the member's orders by placed_at, first and last row that counts).
DROPPED_SQL = (
    "UPDATE member_order_stats SET order_count = order_count - 1, amount_cents = amount_cents + $2, "
    "first_order_at = (SELECT MIN(o.placed_at) FROM orders o WHERE o.member_id = $1 AND o.status <> 'refunded'), "
    "last_order_at = (SELECT MAX(o.placed_at) FROM orders o WHERE o.member_id = $1 AND o.status <> 'refunded') "
    "WHERE member_id = $1")

# The figures from the orders themselves, per member with an order whose id satisfies ``{ids}``: the
# definition the kept figures must equal, and what the migration's backfill, a merge and a repair write.
# A member has a row once it has had an order, as when its first order wrote it.
_COUNTS = "o.status <> 'refunded'"
FIGURES_SQL = (
    f"SELECT o.member_id, SUM(CASE WHEN {_COUNTS} THEN 1 ELSE 0 END) AS order_count, "
    f"CAST(COALESCE(SUM(CASE WHEN {_COUNTS} THEN o.amount_cents - o.refunded_cents END), 0) AS BIGINT) "
    f"AS amount_cents, MIN(CASE WHEN {_COUNTS} THEN o.placed_at END) AS first_order_at, "
    f"MAX(CASE WHEN {_COUNTS} THEN o.placed_at END) AS last_order_at "
    "FROM orders o WHERE {ids} GROUP BY o.member_id")
_UPSERT = (f"INSERT INTO member_order_stats ({COLUMNS}) {{figures}} "
           "ON CONFLICT (member_id) DO UPDATE SET order_count = excluded.order_count, "
           "amount_cents = excluded.amount_cents, first_order_at = excluded.first_order_at, "
           "last_order_at = excluded.last_order_at")
# A member whose orders all went to another (a merge) keeps its row, with nothing in it.
_EMPTIED = ("UPDATE member_order_stats SET order_count = 0, amount_cents = 0, first_order_at = NULL, "
            "last_order_at = NULL WHERE {ids} AND order_count <> 0 "
            "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = member_order_stats.member_id)")


def statements(ids: str) -> tuple[str, str]:
    """The upsert and the emptying of the figures of the members whose id satisfies ``ids`` (a condition on
    ``{col}``, the member id, with its own placeholders): what makes their rows equal ``FIGURES_SQL``."""
    return (_UPSERT.format(figures=FIGURES_SQL.format(ids=ids.format(col="o.member_id"))),
            _EMPTIED.format(ids=ids.format(col="member_order_stats.member_id")))


_RANGE = statements("{col} > $1 AND {col} <= $2")


async def order_placed(conn: BaseDBAsyncClient, *, member_id: int, amount_cents: int, placed_at: datetime) -> None:
    """A new order of the member counts, with its whole amount."""
    await db.fetch(PLACED_SQL, member_id, amount_cents, placed_at, conn=conn)


async def order_refunded(conn: BaseDBAsyncClient, *, member_id: int, counted_before: bool, counted_after: bool,
                         net_before: int, net_after: int) -> None:
    """A refund changed an order of the member: it counted (or not) with ``net_before`` cents before and
    counts (or not) with ``net_after`` now. Call it once the order row holds its new status."""
    delta = (net_after if counted_after else 0) - (net_before if counted_before else 0)
    if counted_before and not counted_after:
        await db.fetch(DROPPED_SQL, member_id, delta, conn=conn)
    elif counted_before != counted_after:  # a refund never makes an order count again
        raise ValueError("an order refunded in full cannot count again")
    elif delta:
        await db.fetch(REFUNDED_SQL, member_id, delta, conn=conn)


async def recompute(conn: BaseDBAsyncClient, member_ids: Sequence[int]) -> None:
    """The members' figures computed again from their orders (a merge moved orders between them)."""
    ids = sorted(set(member_ids))
    if ids:
        marks = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
        for sql in statements(f"{{col}} IN ({marks})"):
            await db.fetch(sql, *ids, conn=conn)


async def rebuild(*, batch: int = 20_000) -> int:
    """Recompute every member's figures from the orders, in ranges of ``batch`` member ids, each under the
    accounts' locks (a concurrent order waits, or is waited for): a repair, and what generated data sets
    use. Returns the members written."""
    from tortoise.transactions import in_transaction

    row = await db.fetch_one("SELECT MAX(id) AS top FROM members")
    top = int(row["top"] or 0) if row else 0
    for low in range(0, top, batch):
        async with in_transaction() as conn:
            await _lock_accounts(conn, low, low + batch)
            for sql in _RANGE:
                await db.fetch(sql, low, low + batch, conn=conn)
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM member_order_stats")
    return int(row["n"]) if row else 0


async def _lock_accounts(conn: BaseDBAsyncClient, low: int, high: int) -> None:
    """The loyalty accounts' row locks of a member-id range, in id order: the lock every writer of a member's
    orders holds (SQLite has one writer at a time anyway)."""
    if db.is_postgres():
        await db.fetch("SELECT member_id FROM loyalty_accounts WHERE member_id > $1 AND member_id <= $2 "
                       "ORDER BY member_id FOR UPDATE", low, high, conn=conn)
