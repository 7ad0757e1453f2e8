"""``capacity``: what one member, one order and one message cost the database, measured through the
project's own services, for the capacity model (docs/capacity.md).

Not an HTTP benchmark and not a ratio: it prints rows and bytes per unit by table, and the statements and
rows one order writes. Three phases on a fresh database, each measured as the difference of every table's
exact row count and total size (heap, indexes, TOAST) before and after:

1. ``--capacity-members`` members registered at a counter (phone, consents, the welcome message, the account);
2. ``--capacity-orders`` earning counter orders spread over them (points earned in a lot, the tier measure, the
   timeline), of which the statements are counted with asyncpg's query logger on one connection;
3. ``--capacity-messages`` service messages queued through the notification outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import standalone_benchmark
from bench.project import Project
from bench.runner import BenchFailure, out

SIZES_SQL = """
SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname <> 'aerich'"""


def arguments(group: argparse._ArgumentGroup) -> None:
    # Options are shared by every benchmark's command line: --members and --messages are fanout's and dispatch's.
    group.add_argument("--capacity-members", type=int, default=20_000, help="members registered (20 000)")
    group.add_argument("--capacity-orders", type=int, default=40_000, help="earning orders over them (40 000)")
    group.add_argument("--capacity-messages", type=int, default=20_000, help="service messages queued (20 000)")


@dataclass
class Snapshot:
    rows: dict[str, int]
    bytes: dict[str, int]

    def minus(self, before: Snapshot) -> tuple[dict[str, int], dict[str, int]]:
        rows = {t: self.rows[t] - before.rows.get(t, 0) for t in self.rows if self.rows[t] != before.rows.get(t, 0)}
        size = {t: self.bytes[t] - before.bytes.get(t, 0) for t in self.bytes}
        return rows, size


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    await conn.execute("CHECKPOINT")
    sizes = {row["name"]: int(row["bytes"]) for row in await conn.fetch(SIZES_SQL)}
    rows = {name: int(await conn.fetchval(f'SELECT count(*) FROM "{name}"')) for name in sizes}
    return Snapshot(rows, sizes)


def report(unit: str, count: int, before: Snapshot, after: Snapshot) -> None:
    rows, size = after.minus(before)
    total_rows, total_bytes = sum(rows.values()), sum(size.values())
    out(f"{unit:<8} x{count}: {total_rows / count:6.2f} rows and {total_bytes / count:7.0f} bytes each "
        f"(tables, indexes and TOAST)")
    for table in sorted(rows, key=lambda t: -size.get(t, 0)):
        out(f"#   {table:<28} rows {rows[table] / count:6.2f}  bytes {size.get(table, 0) / count:7.0f}")


@standalone_benchmark(
    "capacity", "rows and bytes per member, per order and per message, and the statements one order runs, "
    "through the project's services on PostgreSQL (for docs/capacity.md)", arguments=arguments)
async def capacity(args: argparse.Namespace) -> int:
    args.members, args.orders, args.messages = args.capacity_members, args.capacity_orders, args.capacity_messages
    if min(args.members, args.orders, args.messages) < 1:
        raise BenchFailure("--capacity-members, --capacity-orders and --capacity-messages must be at least 1")
    out(f"# bench capacity: {args.members} members, {args.orders} orders, {args.messages} messages through the "
        "project's services on a fresh PostgreSQL database; differences of exact row counts and "
        "pg_total_relation_size per table")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        async with Project.open(data_dir=Path(scratch) / "data") as project:
            await _run(project, args)
    return 0


async def _run(project: Project, args: argparse.Namespace) -> None:
    from backend.loyalty import orders
    from bench import seed
    from notifications import outbox

    conn = await asyncpg.connect(project.dsn, timeout=10)
    try:
        store = await seed.bench_store()
        tz = project.settings.timezone
        base = await snapshot(conn)
        started = time.perf_counter()
        member_ids = await seed.members(project, args.members)
        out(f"# registered {len(member_ids)} members in {time.perf_counter() - started:.1f}s")
        registered = await snapshot(conn)
        report("member", args.members, base, registered)

        def order(n: int) -> orders.OrderInput:
            return orders.OrderInput(channel="pos", order_no=f"C{n}", amount_cents=8_800 + n % 50 * 100,
                                     member_id=member_ids[n % len(member_ids)], store_id=store.id)

        statements = await _count_statements(project, lambda n: orders.place_order(order(n), tz=tz),
                                             first=0, count=min(200, args.orders))
        gate = asyncio.Semaphore(8)

        async def place(n: int) -> None:
            async with gate:
                await orders.place_order(order(n), tz=tz)

        started = time.perf_counter()
        await asyncio.gather(*(place(n) for n in range(min(200, args.orders), args.orders)))
        out(f"# placed {args.orders} orders in {time.perf_counter() - started:.1f}s (8 at a time)")
        ordered = await snapshot(conn)
        report("order", args.orders, registered, ordered)
        per = min(200, args.orders)
        kinds = Counter({kind: n / per for kind, n in statements.items()})
        writes = sum(v for k, v in kinds.items() if k in ("INSERT", "UPDATE", "DELETE"))
        out(f"order statements: {sum(kinds.values()):.1f} each, {writes:.1f} of them writes ("
            + ", ".join(f"{k} {v:.1f}" for k, v in kinds.most_common()) + f"; counted over {per} orders)")

        started = time.perf_counter()
        for n in range(args.messages):
            queued = await outbox.enqueue(member_id=member_ids[n % len(member_ids)], template_key="points_expiring",
                                          dedupe_key=f"capacity:{n}", conn=None,
                                          context={"points": 300, "expires_on": "2026-12-31"})
            if queued is None:
                raise BenchFailure("the points_expiring template is switched off: no message was queued")
        out(f"# queued {args.messages} messages in {time.perf_counter() - started:.1f}s")
        report("message", args.messages, ordered, await snapshot(conn))
    finally:
        await conn.close()


async def _count_statements(project: Project, run: Any, *, first: int, count: int) -> Counter[str]:
    """The statements ``run(n)`` sends for n in [first, first + count), one at a time, by their first word:
    a pool of one connection, so every statement passes the logger."""
    from tortoise import connections

    from backend.db import close_db, init_db, init_tortoise, tortoise_config

    seen: Counter[str] = Counter()
    one: list[str] = []  # the statements of the first call, shown in the output

    def logged(record: Any) -> None:
        text = " ".join(record.query.split())
        seen[(text.split(None, 1) or ["?"])[0].upper()] += 1
        if len(one) < 40 and not done:
            one.append(text[:110])

    await close_db()
    await init_tortoise(tortoise_config(project.settings.database_url, pool_size=1))
    try:
        async with connections.get("default").acquire_connection() as raw:
            raw.add_query_logger(logged)  # the pool's only connection: it keeps the logger
        done = False
        for n in range(first, first + count):
            await run(n)
            if not done:
                done = True
                out("# the statements of one order:")
                for text in one:
                    out(f"#   {text}")
    finally:
        await close_db()
        await init_db(project.settings.database_url, generate_sqlite_schema=False)
    return seen
