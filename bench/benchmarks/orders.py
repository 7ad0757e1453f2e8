"""``orders``: in-store purchases that earn points, the busiest write: a clerk posts each sale with the
scan token of the member's code. Every order is new (its own order number) and they are spread over many
members, as at a chain's tills; one member alone, whose orders queue on their account's row lock, is the
secondary figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import asyncpg

from backend.members import scan
from bench import Request, Served, Target, baselines, bearer, benchmark, seed
from bench.project import Project
from bench.runner import BenchFailure, out

MEMBERS = 128  # per target: with wrk's 64 connections, the orders in flight at one moment are for different members
AMOUNT_CENTS = 12345
ORDER_BODY = '{"order_no": "B{seq}", "scan_token": "{scan_token}", ' + f'"amount_cents": {AMOUNT_CENTS}}}'


def reconciler(dsn: str, name: str, member_ids: list[int]) -> Callable[[Served], Awaitable[str]]:
    """Orders in the database for these members against the 2xx answers the load generator counted.

    Every 2xx is a committed order; requests still in flight when a run stopped (or whose connection
    failed) may have committed too, so the database may hold up to ``unsure`` more, never fewer.
    """

    async def reconcile(served: Served) -> str:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            stored, members, fewest, most = await conn.fetchrow(
                "SELECT coalesce(sum(n), 0), count(*), coalesce(min(n), 0), coalesce(max(n), 0) FROM "
                "(SELECT count(*) AS n FROM orders WHERE member_id = ANY($1::bigint[]) GROUP BY member_id) AS m",
                member_ids)
        finally:
            await conn.close()
        line = (f"{name}: {stored} orders stored for {served.ok} answers 2xx (+{stored - served.ok}, at most "
                f"+{served.unsure}: in flight at a stop or failed); {members} members, {fewest}-{most} orders each")
        if not served.ok <= stored <= served.ok + served.unsure:
            raise BenchFailure(f"orders and answers disagree: {line}")
        return line

    return reconcile


@benchmark("orders", f"POST /api/v1/store/orders (earning, clerk token, {MEMBERS} members) vs bare Sanic (json) "
           "and the order path's statements in one raw asyncpg transaction", goals={"orders/asyncpg": 0.5},
           p99_goals={"orders/asyncpg": 1.5})
async def orders(project: Project) -> list[Target]:
    clerk = await seed.clerk(project)
    # Four sets of identical members, one per target that writes: each target starts from members
    # without orders, so the tier measure (a read of the member's orders of the year) costs all the same.
    ids = await seed.members(project, 2 * MEMBERS + 2)
    many, many_baseline, one, one_baseline = ids[:MEMBERS], ids[MEMBERS:2 * MEMBERS], ids[-2:-1], ids[-1:]
    out(f"# {len(ids)} members registered; {MEMBERS} per target, 1 for the -1member targets; every order "
        f"{AMOUNT_CENTS} cents at store {clerk.store_id}")
    headers = {**bearer(clerk.token), "Content-Type": "application/json"}

    def till(member_ids: list[int]) -> Callable[[], Request]:
        """The request with scan tokens issued now: they expire ``scan.SCAN_TTL_S`` later."""
        return lambda: Request("/api/v1/store/orders", method="POST", headers=headers, body=ORDER_BODY, pools={
            "scan_token": tuple(seed.scan_token(project, clerk, member_id) for member_id in member_ids)})

    def project_target(name: str, member_ids: list[int], group: str) -> Target:
        build = till(member_ids)
        return dataclasses.replace(project.target(name, build()), group=group, build=build,
                                   lifetime_s=scan.SCAN_TTL_S,
                                   reconcile=reconciler(project.dsn, name, member_ids))

    def baseline_target(name: str, member_ids: list[int], group: str) -> Target:
        return baselines.orders_target(project.dsn, member_ids, store_id=clerk.store_id, amount_cents=AMOUNT_CENTS,
                                       name=name, group=group, reconcile=reconciler(project.dsn, name, member_ids))

    return [
        project_target("orders", many, "many"),
        project_target("orders-1member", one, "one"),
        baselines.json_target(),
        baseline_target("baseline:asyncpg", many_baseline, "many"),
        baseline_target("baseline:asyncpg-1member", one_baseline, "one"),
    ]
