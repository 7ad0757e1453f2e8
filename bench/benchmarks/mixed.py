"""``mixed``: the mini-program's home screen while the tills post orders for the same members.

Half asset views (``GET /api/v1/mp/me/assets``), half earning orders (``POST /api/v1/store/orders``), on the
same 32 members, against one project server with two workers; the asset view's p99 under the mix is
compared with its p99 alone, on the same server in the same run. It runs itself (``standalone_benchmark``):
one server, several loads, the Python generator's per-request histograms. See bench/README.md, "mixed".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from backend.members import scan
from bench import Request, Served, Target, bearer, seed, servers, standalone_benchmark
from bench.generator import Run
from bench.load import TIMEOUT_S, PythonGenerator
from bench.project import Project
from bench.runner import LIFETIME_MARGIN_S, BenchFailure, Options, check, check_failures, latencies, out

MEMBERS = 32
WORKERS = 2  # python -m backend serve --workers 2
GOAL = 2.0  # the asset view's p99 under the mix, at most this many times its p99 alone
AMOUNT_CENTS = 12345
ORDER_BODY = '{"order_no": "M{seq}", "scan_token": "{scan_token}", ' + f'"amount_cents": {AMOUNT_CENTS}}}'
ASSETS, ORDERS = "assets", "orders"
DESCRIPTION = (f"GET /api/v1/mp/me/assets alone vs half asset views and half POST /api/v1/store/orders on the same "
               f"{MEMBERS} members, one project server with {WORKERS} workers: the asset view's p99 under the mix "
               "vs alone")


def order_count_query() -> str:
    """The mix's orders (``M`` numbers; the seeded histories' are ``H``) of the members."""
    return "SELECT count(*) FROM orders WHERE member_id = ANY($1::bigint[]) AND order_no LIKE 'M%'"


async def reconcile(dsn: str, member_ids: list[int], served: Served) -> str:
    """Every order answered 2xx is stored; those whose fate the client cannot know may be stored too."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        stored = await conn.fetchval(order_count_query(), member_ids)
    finally:
        await conn.close()
    line = (f"mixed: {stored} orders stored for {served.ok} order answers 2xx (+{stored - served.ok}, at most "
            f"+{served.unsure}: failed or timed out); {len(member_ids)} members")
    if not served.ok <= stored <= served.ok + served.unsure:
        raise BenchFailure(f"orders and answers disagree: {line}")
    return line


def verdict(mixed_p99: float, alone_p99: float, goal: float = GOAL) -> tuple[float, str, bool]:
    """The p99 ratio mixed/alone, its line's verdict and whether it is met."""
    value = mixed_p99 / alone_p99 if alone_p99 > 0 else float("inf")
    met = value <= goal
    return value, f" (target <= {goal:g})" if met else f" (target <= {goal:g}: ABOVE TARGET)", met


def line(label: str, run: Run, kind: str, width: int) -> str:
    got = run.kinds[kind]
    return (f"{label:<{width}} rps={got.in_window / run.duration_s:8.1f}  "
            f"{latencies(got.latency.p50_ms, got.latency.p99_ms, got.latency.p999_ms)}")


@standalone_benchmark("mixed", DESCRIPTION)
async def mixed(args: argparse.Namespace) -> int:
    options = Options(duration_s=args.duration, warmup_s=args.warmup, connections=args.connections,
                      max_error_rate=args.max_error_rate, strict=args.strict)
    loaded = options.warmup_s + 3 * options.duration_s
    if loaded + LIFETIME_MARGIN_S > scan.SCAN_TTL_S:
        raise BenchFailure(f"scan tokens are valid {scan.SCAN_TTL_S}s, too short for --warmup {options.warmup_s} "
                           f"plus three --duration {options.duration_s} (+{LIFETIME_MARGIN_S}s); shorten the run")
    generator = PythonGenerator()
    out(f"# bench mixed: {DESCRIPTION}")
    out(f"# {generator.describe(options.connections)}, closed model (one process); python -m backend serve "
        f"--workers {WORKERS}; warm-up {options.warmup_s}s of the mix, then {options.duration_s}s each: assets "
        "alone, the mix (each connection alternates an asset view and an order), assets alone again")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        scratch_dir = Path(scratch)
        async with Project.open(data_dir=scratch_dir / "data") as project:
            started = time.monotonic()
            clerk = await seed.clerk(project)
            members = [await seed.member_with_token(project, nickname=f"压测会员{n}") for n in range(MEMBERS)]
            ids = [member.member_id for member in members]
            histories = await seed.members_with_history(project, ids)
            await project.disconnect()
            out(f"# {MEMBERS} members, each with a history (seed.members_with_history: {histories[0].points_entries} "
                f"points entries, {histories[0].live_lots} live lots, {histories[0].orders} orders), seeded in "
                f"{time.monotonic() - started:.1f}s; orders of {AMOUNT_CENTS} cents at store {clerk.store_id}")
            assets = Request("/api/v1/mp/me/assets", headers=bearer("{member_token}"),
                             pools={"member_token": tuple(member.token for member in members)})
            headers = {**bearer(clerk.token), "Content-Type": "application/json"}
            orders = Request("/api/v1/store/orders", method="POST", headers=headers, body=ORDER_BODY, pools={
                "scan_token": tuple(seed.scan_token(project, clerk, member_id) for member_id in ids)})
            target = Target("mixed", project.server("mixed", workers=WORKERS), assets)
            starts = {ASSETS: 0, ORDERS: 0}
            ok = unsure = 0
            runs: dict[str, Run] = {}

            async def load(phase: str, kinds: list[str], seconds: int) -> Run:
                nonlocal ok, unsure
                chosen = [(kind, assets if kind == ASSETS else orders) for kind in kinds]
                run = await generator.run(base_url, chosen, duration_s=seconds, connections=options.connections,
                                          processes=1, pool_starts=[starts[kind] for kind in kinds],
                                          timeout_s=TIMEOUT_S)
                for kind in kinds:
                    starts[kind] = run.kinds[kind].pool_next
                check_failures(target, phase, options, completed=run.answers,
                               attempted=run.answers + run.socket_errors, non_2xx=run.non_2xx,
                               socket_errors=run.socket_errors, statuses={})
                if ORDERS in kinds:
                    ok += run.kinds[ORDERS].answers - run.kinds[ORDERS].non_2xx
                    unsure += run.socket_errors  # a timed-out order may have been committed
                return run

            async with servers.running(target.server, name="mixed", log_dir=scratch_dir) as base_url:
                try:
                    await check(base_url, target, assets)
                    await check(base_url, dataclasses.replace(target, name="mixed (orders)"), orders)
                    ok += 1
                    if options.warmup_s > 0:
                        await load("warm-up", [ASSETS, ORDERS], options.warmup_s)
                    runs["alone"] = await load("assets alone", [ASSETS], options.duration_s)
                    runs["mixed"] = await load("mix", [ASSETS, ORDERS], options.duration_s)
                    runs["after"] = await load("assets alone again", [ASSETS], options.duration_s)
                except BenchFailure as exc:
                    tail = servers.log_tail(servers.log_path(scratch_dir, "mixed"))
                    raise BenchFailure(f"{exc}\n--- server log (mixed) ---\n{tail}" if tail else str(exc)) from None
            note = await reconcile(project.dsn, ids, Served(ok=ok, unsure=unsure))
    labels = {"alone": "assets alone", "mixed": "mixed: assets", "after": "assets alone again"}
    width = max(len(label) for label in [*labels.values(), "mixed: orders"])
    out(line(labels["alone"], runs["alone"], ASSETS, width))
    out(line(labels["mixed"], runs["mixed"], ASSETS, width))
    out(line("mixed: orders", runs["mixed"], ORDERS, width))
    out(line(labels["after"], runs["after"], ASSETS, width))
    out(f"# {note}")
    out(f"# assets alone again: after the mix's {runs['mixed'].kinds[ORDERS].answers} orders "
        f"(about {runs['mixed'].kinds[ORDERS].answers // MEMBERS} more per member for the asset view to read)")
    alone_p99 = runs["alone"].kinds[ASSETS].latency.p99_ms
    mixed_p99 = runs["mixed"].kinds[ASSETS].latency.p99_ms
    value, said, met = verdict(mixed_p99, alone_p99)
    out(f"ratio assets p99 mixed/alone = {value:.2f}{said}")
    after = runs["after"].kinds[ASSETS].latency.p99_ms
    out(f"ratio assets p99 mixed/alone-again = {mixed_p99 / after if after > 0 else float('inf'):.2f}")
    if options.strict and not met:
        print("error: a ratio misses its target", file=sys.stderr)
        return 1
    return 0

