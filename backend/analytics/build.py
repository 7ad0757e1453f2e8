"""Building the daily aggregates: one merchant day at a time, deleted and written again in one transaction.

``rebuild_day`` first takes the day's ``analytics_days`` row (an upsert: on PostgreSQL a row lock the next
rebuild of the same day waits on; its DELETE then sees this one's rows), so rebuilding a day twice, or twice
at once, leaves the same rows. ``due_days`` is the job's increment: days never built up to yesterday, yesterday
itself (messages change state after the day they were queued), and the days of late changes to closed days
since the last build (orders pushed with an earlier ``placed_at``, refunds, reversed redemptions, message
results; for a late or refunded order also the days of the member's later orders, whose gaps to their previous
ones it changes: ``backend.analytics.buyers``).
Today is never stored: its figures are read live from the base tables (``backend.analytics.read``).
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend import clock, db
from backend.analytics import buyers, rollups
from backend.analytics.facts import FACTS, Fact
from backend.loyalty import program as programs

log = logging.getLogger("backend.analytics")

LATE_LIMIT = 5000  # late changes read per source per run (more: the next run goes on)
MARGIN = timedelta(minutes=10)  # a transaction may commit rows a little older than the last build's start


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The merchant day's first instant and the next day's, in UTC."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def merchant_day(value: Any, tz: ZoneInfo) -> date:
    moment = db.to_datetime(value)
    assert moment is not None
    return moment.astimezone(tz).date()


def today(tz: ZoneInfo) -> date:
    return clock.now().astimezone(tz).date()


def _day_param(day: date, conn: BaseDBAsyncClient) -> Any:
    return day.isoformat() if conn.capabilities.dialect == "sqlite" else day


def _insert_sql(fact: Fact, conn: BaseDBAsyncClient) -> str:
    day = "$4" if conn.capabilities.dialect == "sqlite" else "$4::date"
    columns = ", ".join(fact.columns)
    return f"INSERT INTO {fact.table} (day, {columns}) SELECT {day}, {columns} FROM ({fact.select}) f"


async def lowest_tier(conn: BaseDBAsyncClient | None = None) -> str:
    return (await programs.load(conn)).tiers[0].code


async def _build(day: date, tz: ZoneInfo, conn: BaseDBAsyncClient) -> int:
    start, end = day_bounds(day, tz)
    lowest = await lowest_tier(conn)
    param = _day_param(day, conn)
    if conn.capabilities.dialect == "postgres":
        # A day's reads are small: compiling them (JIT, on for large estimates) costs more than it saves.
        await db.fetch("SET LOCAL jit = off", conn=conn)
    # The day's row first: the lock every rebuild of this day takes before it deletes.
    await db.fetch("INSERT INTO analytics_days (day, built_at, rows) VALUES ($1, $2, 0) "
                   "ON CONFLICT (day) DO UPDATE SET built_at = EXCLUDED.built_at", param, clock.now(), conn=conn)
    rows = 0
    await db.fetch(f"DELETE FROM {rollups.TABLE} WHERE day = $1", param, conn=conn)
    day_sql = "$1" if conn.capabilities.dialect == "sqlite" else "$1::date"
    for fact in FACTS.values():
        await db.fetch(f"DELETE FROM {fact.table} WHERE day = $1", param, conn=conn)
        await db.fetch(_insert_sql(fact, conn), start, end, lowest, param, conn=conn)
        await db.fetch(rollups.insert_sql(fact, day_sql), param, conn=conn)
        counted = await db.fetch_one(f"SELECT COUNT(*) AS n FROM {fact.table} WHERE day = $1", param, conn=conn)
        rows += int(counted["n"]) if counted else 0
    rows += await buyers.rebuild(day=day, start=start, end=end, lowest=lowest, tz=tz, conn=conn)
    await db.fetch("UPDATE analytics_days SET rows = $2 WHERE day = $1", param, rows, conn=conn)
    return rows


async def rebuild_day(*, day: date, tz: ZoneInfo, conn: BaseDBAsyncClient | None = None) -> int:
    """Recompute one closed merchant day's rows from the base tables; the number of rows it now has."""
    if day >= today(tz):
        raise ValueError(f"{day} is not over yet: today's figures are read live")
    if conn is not None:
        return await _build(day, tz, conn)
    async with in_transaction() as own:
        return await _build(day, tz, own)


async def rebuild_range(*, first: date, last: date, tz: ZoneInfo, jobs: int = 1) -> dict[str, Any]:
    """Rebuild every closed day from ``first`` to ``last`` (inclusive; days from today on are left out), each
    in its own transaction, ``jobs`` days at once (days are independent: each reads the base tables and writes its
    own rows; SQLite one at a time); what was done and how long it took."""
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    if not db.is_postgres():
        jobs = 1  # one writer at a time
    last = min(last, today(tz) - timedelta(days=1))
    started = monotonic.perf_counter()
    days = [first + timedelta(days=n) for n in range(max((last - first).days + 1, 0))]
    pending = iter(days)
    counted: list[int] = []

    async def worker() -> None:
        for day in pending:  # one iterator shared: each day taken once
            counted.append(await rebuild_day(day=day, tz=tz))

    await asyncio.gather(*(worker() for _ in range(min(jobs, len(days)) or 1)))
    return {"days": len(days), "rows": sum(counted), "seconds": round(monotonic.perf_counter() - started, 3)}


# Late changes to closed days: (the event time that names the day, the table, when the row changed).
_LATE = (
    ("placed_at", "orders", "created_at"),
    ("created_at", "messages", "updated_at"),
    ("created_at", "coupon_redemptions", "reversed_at"),
    ("registered_at", "members", "updated_at"),
    ("o.placed_at", "order_refunds r JOIN orders o ON o.id = r.order_id", "r.created_at"),
)
# An order placed late or refunded (in full) changes the gaps to it of the member's later orders
# (``backend.analytics.buyers``): their days are due too.
_LATER = """
SELECT l.placed_at AS at FROM orders l JOIN (
    SELECT o.member_id, MIN(o.placed_at) AS since FROM orders o WHERE o.created_at >= $1 AND o.placed_at < $2
       AND o.member_id IS NOT NULL GROUP BY o.member_id
    UNION ALL
    SELECT o.member_id, MIN(o.placed_at) FROM order_refunds r JOIN orders o ON o.id = r.order_id
     WHERE r.created_at >= $1 AND o.placed_at < $2 AND o.member_id IS NOT NULL GROUP BY o.member_id) c
    ON l.member_id = c.member_id AND l.placed_at > c.since AND l.placed_at < $2"""


async def due_days(*, tz: ZoneInfo) -> list[date]:
    """The closed days the job should (re)build now, oldest first."""
    current = today(tz)
    yesterday = current - timedelta(days=1)
    built = await db.fetch_one("SELECT MAX(day) AS last, MAX(built_at) AS built_at FROM analytics_days")
    last_built = db.to_date(built["last"]) if built else None
    due: set[date] = set()
    if last_built is None:
        first = await db.fetch_one("SELECT MIN(registered_at) AS first FROM members")
        start = merchant_day(first["first"], tz) if first and first["first"] else yesterday
    else:
        start = last_built + timedelta(days=1)
    day = start
    while day <= yesterday:
        due.add(day)
        day += timedelta(days=1)
    if last_built is not None:
        due.add(yesterday)
        since = db.to_datetime(built["built_at"]) - MARGIN
        before, _ = day_bounds(yesterday, tz)
        for event, table, changed in _LATE:
            for row in await db.fetch(f"SELECT {event} AS at FROM {table} WHERE {changed} >= $1 AND {event} < $2 "
                                      f"LIMIT {LATE_LIMIT}", since, before):
                due.add(merchant_day(row["at"], tz))
        for row in await db.fetch(f"{_LATER} LIMIT {LATE_LIMIT}", since, before):
            due.add(merchant_day(row["at"], tz))
    return sorted(day for day in due if day <= yesterday)


def job_step(days: list[date], tz: ZoneInfo) -> Any:
    """A ``jobs.runs`` step: the cursor is the ordinal of the last day built; each step builds the next one."""
    ordinals = [day.toordinal() for day in days]

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        following = [ordinal for ordinal in ordinals if ordinal > cursor]
        if not following:
            return None, {}
        day = date.fromordinal(following[0])
        rows = await rebuild_day(day=day, tz=tz, conn=conn)
        log.info("analytics day built", extra={"day": day.isoformat(), "rows": rows})
        return (following[0] if len(following) > 1 else None), {"days": 1, "rows": rows}

    return step
