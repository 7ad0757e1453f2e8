"""Exact distinct-buyer and repeat-buyer counts over any window, as sums over per-day rows.

A member is a buyer in the window [a, b] when one of its orders that count (not refunded in full) was placed
in it, a repeat buyer when two were. Each member is counted once, by its first order in the window: the order
on day d whose previous order came before a, that is more than ``d - a`` days earlier; and its second order in
the window is the one whose previous order was within ``d - a`` days and whose second previous one was not.
So a day's orders, counted by those two gaps (``analytics_buyer_days``: ``firsts`` by the gap to the previous
order, ``seconds`` by the gap to the second previous), answer every window ending up to 366 days later:

    buyers         = Σ over the window's days d of firsts with gap > d - a
    repeat buyers  = Σ firsts with gap ≤ d - a  −  Σ seconds with gap ≤ d - a   (gap₁ ≤ gap₂ for every order)
    orders         = Σ firsts

A window's rows are at most 367 per day, a few hundred thousand for a year, instead of its orders. The gaps are
in merchant days, capped at 366 (none within the 365 days before: more than any window's ``d - a``). They are
counted per scope, so that a filter reads sequences of its own: all the member's orders (''), those at one store,
on one channel, or while at one tier (the tier at the time, as in the other daily figures). Two filters at once
have no rows of their own: they count the window's orders instead (``scan``).

An order placed late or refunded in full changes the gaps of the member's next two orders: ``build.due_days``
rebuilds the days of the member's later orders too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import db
from backend.analytics.facts import tier_at

TABLE = "analytics_buyer_days"
STARTS = "analytics_buyer_starts"
NO_GAP = 366  # no earlier order in the scope within the 365 days before
SCOPES = ("", "store", "channel", "tier")
DENSE = ("", "channel", "tier")  # scopes of a few values: their sums are kept per window start (STARTS)
COLUMNS = ("day", "scope", "value", "gap", "firsts", "seconds")
START_COLUMNS = ("day", "scope", "value", "start_day", "buyers", "repeat_buyers", "orders")
MEASURES = ("buyers", "repeat_buyers", "orders")

# The day's orders that count, and the earlier ones of the same members within the 365 days before ($3): what
# the gaps are measured to; and those members' tier changes (the tier at the time of each order).
_MEMBERS = ("SELECT d.member_id FROM orders d WHERE d.placed_at >= $1 AND d.placed_at < $2 "
            "AND d.member_id IS NOT NULL AND d.status <> 'refunded'")
_ORDERS = ("SELECT o.id, o.member_id, COALESCE(o.store_id, 0) AS store_id, o.channel, o.placed_at FROM orders o "
           f"WHERE o.member_id IN ({_MEMBERS}) AND o.placed_at >= $3 AND o.placed_at < $2 "
           "AND o.status <> 'refunded'")
# PostgreSQL: each member's orders through the (member_id, placed_at) index. Left to choose, at ten million
# orders the planner hashes the day's members and reads every order of the year (5 s a day instead of 0.1).
_ORDERS_PG = ("SELECT o.id, o.member_id, COALESCE(o.store_id, 0) AS store_id, o.channel, o.placed_at "
              f"FROM (SELECT DISTINCT x.member_id FROM ({_MEMBERS}) x) d CROSS JOIN LATERAL "
              "(SELECT o.id, o.member_id, o.store_id, o.channel, o.placed_at FROM orders o "
              "WHERE o.member_id = d.member_id AND o.placed_at >= $3 AND o.placed_at < $2 "
              "AND o.status <> 'refunded') o")
_TIERS = ("SELECT tc.id, tc.member_id, tc.to_code, tc.created_at FROM tier_changes tc "
          f"WHERE tc.member_id IN ({_MEMBERS}) AND tc.created_at < $2")


async def _fetch(sql: str, *args: Any, conn: BaseDBAsyncClient | None) -> Any:
    """Rows as the driver gives them: tens of thousands a day, which the ORM's conversion to dicts would take
    longer over than the query (asyncpg's records on PostgreSQL, the transaction's own connection in a rebuild)."""
    if conn is None:
        async with db.reader() as reader:
            return await reader.fetch(sql, *args)
    if conn.capabilities.dialect == "postgres":
        return await conn._connection.fetch(sql, *args)  # type: ignore[attr-defined]
    return await db.fetch(sql, *args, conn=conn)


def _moment(value: Any) -> datetime:
    moment = db.to_datetime(value)
    assert moment is not None
    return moment


async def day_counts(*, start: datetime, end: datetime, lowest: str, tz: ZoneInfo,
                     conn: BaseDBAsyncClient | None = None) -> dict[tuple[str, str, int], list[int]]:
    """(scope, value, gap) -> [firsts, seconds] for the orders that count placed in [start, end) (one merchant
    day, or today so far)."""
    day = start.astimezone(tz).date()
    first = day - timedelta(days=NO_GAP - 1)
    lookback = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    # Merchant days by the instants they start at (a bisection per order instead of a time-zone conversion).
    starts = [datetime.combine(first + timedelta(days=n), datetime.min.time(), tzinfo=tz).timestamp()
              for n in range(NO_GAP + 1)]
    changes: dict[int, list[tuple[datetime, int, str]]] = defaultdict(list)
    for row in await _fetch(_TIERS, start, end, conn=conn):
        changes[int(row["member_id"])].append((_moment(row["created_at"]), int(row["id"]), row["to_code"]))
    by_member: dict[int, list[tuple[datetime, int, str, str]]] = defaultdict(list)
    orders_sql = _ORDERS_PG if (conn.capabilities.dialect if conn else "postgres" if db.is_postgres() else "") \
        == "postgres" else _ORDERS
    for row in await _fetch(orders_sql, start, end, lookback, conn=conn):
        by_member[int(row["member_id"])].append((_moment(row["placed_at"]), int(row["id"]), str(row["store_id"]),
                                                 row["channel"]))
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for member_id, orders in by_member.items():
        orders.sort()
        tiers = sorted(changes.get(member_id, ()))
        last: dict[tuple[str, str], tuple[int, int | None]] = {}  # scope key -> (previous day, the one before)
        for placed, _, store, channel in orders:
            ordinal = bisect_right(starts, placed.timestamp()) - 1
            tier = lowest
            for at, _, code in tiers:  # the last change before the order (a member has a few)
                if at >= placed:
                    break
                tier = code
            for key in (("", ""), ("store", store), ("channel", channel), ("tier", tier)):
                previous, before = last.get(key, (None, None))
                if placed >= start:
                    counts[(*key, NO_GAP if previous is None else ordinal - previous)][0] += 1
                    counts[(*key, NO_GAP if before is None else ordinal - before)][1] += 1
                last[key] = (ordinal, previous)
    return counts


def _starts(day: date, counts: dict[tuple[str, str, int], list[int]]) -> list[tuple[Any, ...]]:
    """The day's part of every window that starts on it or up to 365 days before (dense scopes): a window that
    starts ``x`` days before counts the orders with a gap over ``x`` as buyers, and as repeat buyers the firsts
    minus the seconds with a gap of at most ``x``."""
    by_scope: dict[tuple[str, str], list[list[int]]] = defaultdict(lambda: [[0] * (NO_GAP + 1), [0] * (NO_GAP + 1)])
    for (scope, value, gap), (firsts, seconds) in counts.items():
        if scope in DENSE:
            histogram = by_scope[(scope, value)]
            histogram[0][gap] += firsts
            histogram[1][gap] += seconds
    rows = []
    for (scope, value), (firsts, seconds) in by_scope.items():
        orders = sum(firsts)
        within_firsts = within_seconds = 0  # orders with a gap of at most x
        for x in range(NO_GAP):
            within_firsts += firsts[x]
            within_seconds += seconds[x]
            rows.append((day, scope, value, day - timedelta(days=x), orders - within_firsts,
                         within_firsts - within_seconds, orders))
    return rows


async def rebuild(*, day: date, start: datetime, end: datetime, lowest: str, tz: ZoneInfo,
                  conn: BaseDBAsyncClient) -> int:
    """The day's rows deleted and written again (inside the day's rebuild, under its lock); how many."""
    sqlite = conn.capabilities.dialect == "sqlite"
    param: Any = day.isoformat() if sqlite else day
    await db.fetch(f"DELETE FROM {TABLE} WHERE day = $1", param, conn=conn)
    await db.fetch(f"DELETE FROM {STARTS} WHERE day = $1", param, conn=conn)
    counts = await day_counts(start=start, end=end, lowest=lowest, tz=tz, conn=conn)
    gaps = [(day, scope, value, gap, firsts, seconds) for (scope, value, gap), (firsts, seconds) in counts.items()
            if scope not in DENSE]
    starts = _starts(day, counts)
    if sqlite:
        gaps = [(day.isoformat(), *rest) for _, *rest in gaps]
        starts = [(day.isoformat(), scope, value, since.isoformat(), *rest)
                  for _, scope, value, since, *rest in starts]
    await db.copy_rows(TABLE, COLUMNS, gaps, conn)
    await db.copy_rows(STARTS, START_COLUMNS, starts, conn)
    return len(gaps) + len(starts)


def scope_of(*, store_id: int | None, channel: str | None, tier: str | None) -> tuple[str, str] | None:
    """The rows a filter reads: (scope, value); None when two or more filters are given (no rows of their own)."""
    given = [(scope, value) for scope, value in (("store", store_id), ("channel", channel), ("tier", tier))
             if value is not None]
    if not given:
        return "", ""
    if len(given) > 1:
        return None
    scope, value = given[0]
    return scope, str(value)


def _since(param: str) -> str:
    """``day - first`` in days, in the database's SQL."""
    if db.is_postgres():
        return f"(day - {param})"
    return f"CAST(julianday(day) - julianday({param}) AS INTEGER)"


async def closed(*, scope: tuple[str, str], first: date, last: date) -> dict[str, int]:
    """Buyers, repeat buyers and orders of the window [first, last] from the built days in it (its first day is
    the window's start even when ``last`` stops before the window's end)."""
    pg = db.is_postgres()
    first_param: Any = first if pg else first.isoformat()
    last_param: Any = last if pg else last.isoformat()
    if scope[0] in DENSE:  # a row per day of the window
        row = await db.fetch_one(
            f"SELECT SUM(buyers) AS buyers, SUM(repeat_buyers) AS repeat_buyers, SUM(orders) AS orders FROM {STARTS} "
            "WHERE scope = $1 AND value = $2 AND start_day = $3 AND day >= $3 AND day <= $4",
            scope[0], scope[1], first_param, last_param)
        return {m: int((row or {}).get(m) or 0) for m in MEASURES}
    since = _since("$3")
    row = await db.fetch_one(
        f"SELECT SUM(firsts) AS orders, SUM(CASE WHEN gap > {since} THEN firsts ELSE 0 END) AS buyers, "
        f"SUM(CASE WHEN gap <= {since} THEN firsts - seconds ELSE 0 END) AS repeat_buyers FROM {TABLE} "
        "WHERE scope = $1 AND value = $2 AND day >= $3 AND day <= $4",
        scope[0], scope[1], first_param, last_param)
    return {m: int((row or {}).get(m) or 0) for m in MEASURES}


def live(counts: dict[tuple[str, str, int], list[int]], *, scope: tuple[str, str], since: int) -> dict[str, int]:
    """Today's part of a window that began ``since`` days before today, from today's counts."""
    out = dict.fromkeys(MEASURES, 0)
    for (s, value, gap), (firsts, seconds) in counts.items():
        if (s, value) != scope:
            continue
        out["orders"] += firsts
        if gap > since:
            out["buyers"] += firsts
        else:
            out["repeat_buyers"] += firsts - seconds
    return out


async def scan(*, start: datetime, end: datetime, store_id: int | None, channel: str | None, tier: str | None,
               lowest: str) -> dict[str, int]:
    """Buyers, repeat buyers and orders of [start, end) counted from the orders themselves (filters combined)."""
    args: list[Any] = [start, end, lowest]
    where = ""
    if store_id is not None:
        args.append(store_id)
        where += f" AND COALESCE(o.store_id, 0) = ${len(args)}"
    if channel is not None:
        args.append(channel)
        where += f" AND o.channel = ${len(args)}"
    if tier is not None:
        args.append(tier)
        where += f" AND {tier_at('o.member_id', 'o.placed_at')} = ${len(args)}"
    else:
        where += " AND CAST($3 AS VARCHAR(20)) IS NOT NULL"  # typed for PostgreSQL all the same
    row = await db.fetch_one(
        "SELECT COUNT(*) AS buyers, SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeat_buyers, SUM(n) AS orders "
        "FROM (SELECT o.member_id, COUNT(*) AS n FROM orders o WHERE o.placed_at >= $1 AND o.placed_at < $2 "
        f"AND o.member_id IS NOT NULL AND o.status <> 'refunded'{where} GROUP BY o.member_id) x", *args)
    return {m: int((row or {}).get(m) or 0) for m in MEASURES}
