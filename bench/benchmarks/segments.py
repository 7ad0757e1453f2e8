"""``segments``: audiences at a million members and ten million orders — a segment preview with order
conditions, and the nightly recompute of the automatic tags.

Not an HTTP benchmark: it runs itself (``standalone_benchmark``). The members come from the ``fanout``
generator (``bench.winback.generate``); the orders beyond its own are written with ``COPY``, then the
members' order figures as the product keeps them (``backend.loyalty.order_stats``). See the bench README
text under "segments".
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from backend import clock
from bench import bearer, standalone_benchmark, winback
from bench.project import Project
from bench.runner import BenchFailure, out

TARGET_MEMBERS = 1_000_000
TARGET_ORDERS = 10_000_000
PREVIEW_TARGET_MS = 300.0
TAGS_TARGET_S = 60.0
PREVIEWS = 7  # timed previews of each rule; the median is the figure

# The preview the target is for: lifetime count and amount, and recency (the member's order figures).
PREVIEW_RULE = {"all": [{"field": "orders.count", "op": "gte", "value": 12},
                        {"field": "orders.amount_cents", "op": "gte", "value": 300_000},
                        {"field": "orders.last_order", "op": "within_days", "value": 60}]}
# For comparison: the same in a window of time, which only the orders answer (a scan of each member's orders).
WINDOWED_RULE = {"all": [{"field": "orders.count", "op": "gte", "value": 4, "within_days": 180},
                         {"field": "orders.amount_cents", "op": "gte", "value": 100_000, "within_days": 180},
                         {"field": "orders.last_order", "op": "within_days", "value": 60}]}

# The orders written with COPY, over the last three years: channels with their shares, refunds.
HISTORY_DAYS = 3 * 365
CHANNELS = (("pos", 50), ("miniprogram", 30), ("online", 20))
STORES = 50  # counter orders are at one of so many stores
FULL_REFUND_PCT = 4
PART_REFUND_PCT = 6
COPY_BATCH = 50_000
ORDER_COLUMNS = ("channel", "order_no", "member_id", "store_id", "request_hash", "amount_cents", "refunded_cents",
                 "status", "items", "receipt", "placed_at", "created_at")


def arguments(group: argparse._ArgumentGroup) -> None:
    try:
        group.add_argument("--members", type=int, default=TARGET_MEMBERS,
                           help=f"generated members ({TARGET_MEMBERS}; the targets are for so many)")
    except argparse.ArgumentError:  # ``fanout`` has it: the same option, the same default
        pass
    group.add_argument("--orders", type=int, default=TARGET_ORDERS,
                       help=f"segments: generated orders in all ({TARGET_ORDERS}; the targets are for so many)")


@dataclass(frozen=True)
class Orders:
    total: int
    copied: int
    refunded_in_full: int
    seconds: float


def _weights(rng: random.Random, members: int) -> list[float]:
    """How much each member orders: most a little, a few a lot (exponential), 15 % not at all."""
    return [0.0 if rng.random() < 0.15 else rng.expovariate(1.0) for _ in range(members)]


def _order_counts(rng: random.Random, members: int, orders: int) -> list[int]:
    """``orders`` shared out over ``members`` by their weights, to the order."""
    weights = _weights(rng, members)
    total = sum(weights) or 1.0
    counts = [int(orders * w / total) for w in weights]
    short = orders - sum(counts)
    ordering = [i for i, w in enumerate(weights) if w > 0] or list(range(members))
    for k in range(short):
        counts[ordering[k % len(ordering)]] += 1
    return counts


def _rows(first: int, counts: list[int], now: datetime, seed: int) -> Iterator[tuple[Any, ...]]:
    """The rows of the orders, member by member, each a function of the seed (runs are alike)."""
    rng = random.Random(seed)
    channels = [name for name, share in CHANNELS for _ in range(share)]
    for offset, count in enumerate(counts):
        member_id = first + offset
        for k in range(count):
            channel = channels[rng.randrange(100)]
            amount = 1_000 + rng.randrange(49_000)
            placed = now - timedelta(seconds=rng.randrange(HISTORY_DAYS * 86_400))
            refund = rng.randrange(100)
            if refund < FULL_REFUND_PCT:
                refunded, status = amount, "refunded"
            elif refund < FULL_REFUND_PCT + PART_REFUND_PCT:
                refunded, status = amount // 3, "partially_refunded"
            else:
                refunded, status = 0, "placed"
            yield (channel, f"S{member_id}-{k}", member_id, 1 + rng.randrange(STORES) if channel == "pos" else None,
                   "bench", amount, refunded, status, "[]", "{}", placed, placed)


async def add_orders(conn: asyncpg.Connection, *, first: int, last: int, orders: int, now: datetime,
                     seed: int = 7) -> tuple[int, int]:
    """``orders`` more orders for members ``first``…``last``, written with COPY in batches. Returns the
    orders written and those refunded in full."""
    counts = _order_counts(random.Random(seed), last - first + 1, orders)
    rows = _rows(first, counts, now, seed)
    written = 0
    # The plain indexes are built again afterwards (faster than growing them row by row): the same definitions.
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass)")
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    while True:
        batch = [row for _, row in zip(range(COPY_BATCH), rows, strict=False)]
        if not batch:
            break
        await conn.copy_records_to_table("orders", records=batch, columns=list(ORDER_COLUMNS))
        written += len(batch)
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for index in indexes:
        await conn.execute(index["indexdef"])
    await conn.execute("RESET maintenance_work_mem")
    refunded = int(await conn.fetchval("SELECT count(*) FROM orders WHERE order_no LIKE 'S%' "
                                       "AND status = 'refunded'"))
    return written, refunded


async def generate_orders(conn: asyncpg.Connection, data: winback.DataSet, *, orders: int,
                          now: datetime) -> Orders:
    """The orders beyond the win-back generator's, to ``orders`` in all, and every member's order figures
    computed again from them (the product's statement); then ``VACUUM ANALYZE``."""
    started = time.monotonic()
    copied, refunded = await add_orders(conn, first=data.first_id, last=data.last_id,
                                        orders=max(orders - data.orders, 0), now=now)
    await conn.execute("TRUNCATE member_order_stats")  # written once, as a long-lived table's rows would be
    await winback.fill_order_stats(conn, data.first_id, data.last_id)
    await conn.execute("VACUUM ANALYZE orders, member_order_stats")
    return Orders(total=data.orders + copied, copied=copied, refunded_in_full=data.refunded + refunded,
                  seconds=time.monotonic() - started)


# -- measuring ----------------------------------------------------------------------------------------

@standalone_benchmark(
    "segments", "a segment preview with order conditions (service and HTTP) and the automatic tags' recompute over "
    "generated members and orders, against their targets", arguments=arguments)
async def segments(args: argparse.Namespace) -> int:
    if args.members < 1 or args.orders < 0:
        raise BenchFailure("--members must be at least 1 and --orders not negative")
    out(f"# bench segments: {args.members} generated members and {args.orders} orders on PostgreSQL: a segment "
        "preview with order conditions (jobs.segments.preview, POST /api/v1/admin/segments/preview) and the "
        "automatic tags' recompute (jobs.tags.recompute_auto_tags)")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        async with Project.open(data_dir=Path(scratch) / "data") as project:
            met = await _run(project, args.members, args.orders, Path(scratch))
    if args.strict and met is False:
        print("error: a target was not met", file=sys.stderr)
        return 1
    return 0


def _ms(seconds: list[float]) -> str:
    return f"median={statistics.median(seconds) * 1000:7.1f}ms  max={max(seconds) * 1000:7.1f}ms"


async def _timed(work: Any, times: int) -> tuple[list[float], Any]:
    """``times`` timed runs of ``work()`` after one untimed (the plan and the pages it reads, as a console
    user previewing a rule a second time would find them)."""
    result = await work()
    seconds = []
    for _ in range(times):
        started = time.monotonic()
        result = await work()
        seconds.append(time.monotonic() - started)
    return seconds, result


async def _run(project: Project, members: int, orders: int, scratch: Path) -> bool | None:
    from backend import db
    from jobs import segments as audience
    from jobs import tags
    from jobs.segment_rules import compile_rule

    now = clock.now()
    conn = await asyncpg.connect(project.dsn, timeout=10)
    try:
        data = await winback.generate(conn, members=members, now=now)
        generated = await generate_orders(conn, data, orders=orders, now=now)
        stats_rows = int(await conn.fetchval("SELECT count(*) FROM member_order_stats"))
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('member_order_stats'))")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    out(f"# data set: {data.members} members (the fanout generator's: {winback.DELETED_PCT}% deleted, loyalty "
        f"accounts, SMS consents, {data.orders} orders) in {data.seconds:.1f}s; {generated.copied} more orders "
        f"with COPY over {HISTORY_DAYS} days ({CHANNELS[0][0]}/{CHANNELS[1][0]}/{CHANNELS[2][0]} "
        f"{CHANNELS[0][1]}/{CHANNELS[1][1]}/{CHANNELS[2][1]}%, {PART_REFUND_PCT}% partly and {FULL_REFUND_PCT}% "
        f"fully refunded), {generated.total} in all ({generated.refunded_in_full} refunded in full), and the "
        f"members' order figures ({stats_rows} rows, {size}) in {generated.seconds:.1f}s (not measured)")

    clock.install(clock.ManualClock(now))  # the rules' cut-offs are the data set's
    try:
        results = [await _previews(project, now, scratch, audience, compile_rule, db)]
        results.append(await _tags(tags, now))
    finally:
        clock.reset()
    if members != TARGET_MEMBERS or orders != TARGET_ORDERS:
        out(f"targets (preview <= {PREVIEW_TARGET_MS:g}ms, tags <= {TAGS_TARGET_S:g}s) are set for "
            f"{TARGET_MEMBERS} members and {TARGET_ORDERS} orders: not checked at {members} and {orders}")
        return None
    return all(results)


async def _previews(project: Project, now: datetime, scratch: Path, audience: Any, compile_rule: Any,
                    db: Any) -> bool:
    from backend import audit
    from backend.http.auth import STAFF_AUDIENCE
    from backend.security import tokens
    from backend.stores import service as stores
    from bench import servers

    service_s, preview = await _timed(lambda: audience.preview(PREVIEW_RULE), PREVIEWS)
    where, params = compile_rule(PREVIEW_RULE, dialect="postgres", now=now, exact=True)
    started = time.monotonic()
    exact = await db.fetch_one(f"SELECT COUNT(*) AS n FROM members m WHERE m.status = 'active' AND {where}", *params)
    exact_s = time.monotonic() - started
    if exact is None or int(exact["n"]) != preview["count"]:
        raise BenchFailure(f"segments: the preview counts {preview['count']} members, a scan of the orders "
                           f"{exact['n'] if exact else None}")
    windowed_s, windowed = await _timed(lambda: audience.preview(WINDOWED_RULE), 2)

    staff = await stores.create_staff(username="bench_marketer", password="bench-marketer-1", role="marketer",
                                      actor=audit.SYSTEM)
    token = tokens.issue(project.settings.secret_key, audience=STAFF_AUDIENCE, subject=str(staff.id),
                         ttl_s=project.settings.staff_token_ttl_s,
                         claims={"role": staff.role, "store_id": None, "ver": staff.token_version})
    async with servers.running(project.server("segments"), name="segments", log_dir=scratch) as base_url, \
            httpx.AsyncClient(base_url=base_url, timeout=60, headers=bearer(token)) as client:
        async def post() -> dict[str, Any]:
            response = await client.post("/api/v1/admin/segments/preview", json={"rule": PREVIEW_RULE})
            if response.status_code != 200:
                raise BenchFailure(f"segments: POST /api/v1/admin/segments/preview answered {response.status_code}: "
                                   f"{response.text[:300]}")
            return response.json()

        http_s, answer = await _timed(post, PREVIEWS)
    # The server counts as of its own clock, a minute or two after the data set's time, and the fanout
    # generator's orders are whole days before that time: the members whose last order is one of them, 60 days
    # back to the second, are out by then. Anything more is another answer.
    if abs(answer["count"] - preview["count"]) > max(10, preview["count"] // 100):
        raise BenchFailure(f"segments: the HTTP preview counts {answer['count']}, the service {preview['count']}")

    out(f"# preview rule: {_rule_text(PREVIEW_RULE)}: {preview['count']} active members; counted over the order "
        "figures, the 20 newest matching members read through them")
    out(f"preview:service        {_ms(service_s)}  count={preview['count']}  ({PREVIEWS} runs after one)")
    out(f"preview:http           {_ms(http_s)}  count={answer['count']}  (POST /api/v1/admin/segments/preview, "
        "one server process)")
    out(f"preview:exact-count    elapsed={exact_s * 1000:9.1f}ms  count={exact['n']}  (the same rule counted by "
        "scanning each member's orders: how previews ran before the figures)")
    out(f"# windowed rule: {_rule_text(WINDOWED_RULE)}: a count and an amount within 180 days scan the orders")
    out(f"preview:windowed       {_ms(windowed_s)}  count={windowed['count']}  (no target: see the README)")
    figure = statistics.median(http_s) * 1000
    met = figure <= PREVIEW_TARGET_MS
    out(f"target preview <= {PREVIEW_TARGET_MS:g}ms (HTTP, median): {'met' if met else 'NOT MET'} ({figure:.0f}ms)")
    return met


def _rule_text(rule: dict[str, Any]) -> str:
    parts = []
    for c in rule["all"]:
        window = f" within {c['within_days']} days" if c.get("within_days") else ""
        parts.append(f"{c['field']} {c['op']} {c['value']}{window}")
    return " AND ".join(parts)


async def _tags(tags: Any, now: datetime) -> bool:
    from backend import db

    started = time.monotonic()
    first = await tags.recompute_auto_tags(now)
    first_s = time.monotonic() - started
    started = time.monotonic()
    nightly = await tags.recompute_auto_tags(now + timedelta(days=1))
    nightly_s = time.monotonic() - started
    written = sum(group["added"] for group in first["groups"].values())
    changed = sum(group["added"] + group["removed"] for group in nightly["groups"].values())
    total = await db.fetch_one("SELECT count(*) AS n FROM member_tags")
    out(f"tags:first             elapsed={first_s:7.1f}s  member_tags written={written} (from none)")
    out(f"tags:nightly           elapsed={nightly_s:7.1f}s  changed={changed} (a day later; "
        f"{total['n'] if total else 0} member tags in all)")
    figure = max(first_s, nightly_s)
    met = figure <= TAGS_TARGET_S
    out(f"target tags <= {TAGS_TARGET_S:g}s (each run): {'met' if met else 'NOT MET'} ({figure:.1f}s)")
    return met
