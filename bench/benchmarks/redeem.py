"""``redeem``: coupons redeemed (核销) at the counter, as at a chain's tills at a promotion's peak: 64
clerks' worth of load, each request a different coupon, redeemed by the clerk with the scan token of its
owner. The secondary figure is one coupon that every connection tries to redeem at once (a coupon code
shared around, a double tap at several tills): exactly one wins, the others get 409.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable

import asyncpg

from backend.members import scan
from bench import Phases, Request, Served, Target, baselines, bearer, benchmark, seed
from bench.project import Project
from bench.runner import BenchFailure, out

MEMBERS = 256  # per target: the coupons are dealt to them in turn, so consecutive requests are for different members
# Coupons seeded per target before the run, each redeemed once: enough for the check and a 2 s warm-up at
# any rate seen here and, most often, for a 10 s measurement (redeem ~750/s, baseline ~2500-3500/s on 2
# shared cores). Before the measurement (and each --open run) the runner tops the pools up from the rate
# the phase before reached (``refill``: more coupons issued the same way), so any --duration works; a run
# that still needs more fails rather than redeem a coupon twice.
COUPONS = 30_000
BASELINE_COUPONS = 60_000
REFILL_AT_LEAST = 2_000  # coupons issued by a refill, at least (issuing has a start-up cost)
SEED_PROCESSES = 2  # issuers at once (bench.seed.coupons)
PATH = "/api/v1/store/coupons/{coupon_id}/redeem"
BODY = '{"scan_token": "{scan_token}"}'


def coupon_ids(coupons: list[seed.SeededCoupon]) -> list[int]:
    return [coupon.coupon_id for coupon in coupons]


async def _fetchrow(dsn: str, query: str, *args: object) -> asyncpg.Record:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchrow(query, *args)
    finally:
        await conn.close()


# The target's coupons (a few ten thousand ids: joined, not compared one by one with each row).
RECONCILE_QUERY = """
WITH target AS (SELECT id FROM unnest($1::bigint[]) AS t(id))
SELECT (SELECT count(*) FROM coupons c JOIN target USING (id) WHERE c.status = 'redeemed'),
       (SELECT count(*) FROM coupon_redemptions r JOIN target ON r.coupon_id = target.id),
       (SELECT count(*) FROM member_events e JOIN target ON (e.payload->>'coupon_id')::bigint = target.id
         WHERE e.type = 'coupon_redeemed')"""


def reconciler(dsn: str, name: str, coupons: list[seed.SeededCoupon]) -> Callable[[Served], Awaitable[str]]:
    """Redeemed coupons (and their redemption rows) against the 2xx answers the load generator counted.

    Every 2xx is a committed redemption; requests in flight when a run stopped (or whose connection
    failed) may have committed too, so the database may hold up to ``unsure`` more, never fewer. Each
    redeemed coupon has exactly one redemption and one timeline event.
    """

    async def reconcile(served: Served) -> str:
        ids = coupon_ids(coupons)  # read now: a refill between phases adds to the list
        redeemed, redemptions, events = await _fetchrow(dsn, RECONCILE_QUERY, ids)
        line = (f"{name}: {redeemed} coupons redeemed for {served.ok} answers 2xx (+{redeemed - served.ok}, at most "
                f"+{served.unsure}: in flight at a stop or failed); {redemptions} redemptions, {events} timeline "
                f"events; {len(ids) - redeemed} of {len(ids)} coupons left")
        if not served.ok <= redeemed <= served.ok + served.unsure or not redeemed == redemptions == events:
            raise BenchFailure(f"redeemed coupons and answers disagree: {line}")
        return line

    return reconcile


def hot_reconciler(dsn: str, name: str, spare: seed.SeededCoupon, warmup: seed.SeededCoupon,
                   hot: seed.SeededCoupon) -> Callable[[Served], Awaitable[str]]:
    """Each raced coupon answered 201 exactly once and has exactly one redemption; every other answer 409."""

    async def reconcile(served: Served) -> str:
        parts = []
        for phase, coupon in (("warm-up", warmup), ("measurement", hot)):
            statuses = served.statuses.get(phase)
            if statuses is None:  # no warm-up (--warmup 0): its coupon was not raced for
                continue
            rows, status = await _fetchrow(
                dsn, "SELECT (SELECT count(*) FROM coupon_redemptions WHERE coupon_id = $1), "
                     "(SELECT status FROM coupons WHERE id = $1)", coupon.coupon_id)
            won, lost = statuses.get(201, 0), statuses.get(409, 0)
            parts.append(f"{phase} on coupon {coupon.coupon_id}: {won} answer 201, {lost} answers 409, "
                         f"{rows} redemption row{'s' if rows != 1 else ''}")
            others = {code: n for code, n in statuses.items() if code not in (201, 409)}
            if won != 1 or rows != 1 or status != "redeemed" or others:
                raise BenchFailure(f"{name}: one coupon raced for by every connection must be redeemed exactly "
                                   f"once: {parts[-1]}, status {status!r}, other answers {others}")
        spare_rows = (await _fetchrow(dsn, "SELECT count(*) FROM coupon_redemptions WHERE coupon_id = $1",
                                      spare.coupon_id))[0]
        if spare_rows != 1:
            raise BenchFailure(f"{name}: the check's coupon {spare.coupon_id} has {spare_rows} redemptions, not 1")
        return f"{name}: " + "; ".join(parts) + " (exactly one 201 each, as expected)"

    return reconcile


@benchmark("redeem", "POST /api/v1/store/coupons/{id}/redeem (clerk token, a distinct gift coupon each) vs "
           "bare Sanic (json) and the redemption's writes in one raw asyncpg transaction; and one coupon raced "
           "for by every connection", goals={"redeem/asyncpg": 0.5},
           p99_goals={"redeem/asyncpg": 1.5})
async def redeem(project: Project) -> list[Target]:
    clerk = await seed.clerk(project)
    started = time.monotonic()
    ids = await seed.members(project, 2 * MEMBERS + 1)
    members, baseline_members, hot_member = ids[:MEMBERS], ids[MEMBERS:2 * MEMBERS], ids[-1]
    # Separate coupons (and owners) for each target: every redemption, of the project or the baseline, is
    # of a coupon nobody redeemed before.
    coupons = await seed.coupons(project, members, COUPONS, processes=SEED_PROCESSES)
    baseline_coupons = await seed.coupons(project, baseline_members, BASELINE_COUPONS, processes=SEED_PROCESSES)
    spare, warmup_hot, hot = await seed.coupons(project, [hot_member], 3)
    out(f"# {len(ids)} members and {len(coupons) + len(baseline_coupons) + 3} gift coupons issued through "
        f"coupons.service.issue in {time.monotonic() - started:.1f}s: {len(coupons)} over {MEMBERS} members "
        f"for redeem, {len(baseline_coupons)} over {MEMBERS} others for baseline:asyncpg, 3 of one member for "
        f"redeem-hot; store {clerk.store_id}, clerk {clerk.staff_id}")
    headers = {**bearer(clerk.token), "Content-Type": "application/json"}

    def counter() -> Request:
        """Each coupon once, with its owner's scan token issued now (they expire ``scan.SCAN_TTL_S`` later)."""
        tokens = {member_id: seed.scan_token(project, clerk, member_id) for member_id in members}
        return Request(PATH, method="POST", headers=headers, body=BODY, single_use=True, pools={
            "coupon_id": tuple(str(coupon.coupon_id) for coupon in coupons),
            "scan_token": tuple(tokens[coupon.member_id] for coupon in coupons)})

    async def more(owners: list[int], held: list[seed.SeededCoupon], count: int) -> list[seed.SeededCoupon]:
        """``count`` more coupons (at least ``REFILL_AT_LEAST``) for ``owners``, added to ``held``."""
        async with project.connected():
            extra = await seed.coupons(project, owners, max(count, REFILL_AT_LEAST), processes=SEED_PROCESSES)
        held.extend(extra)
        return extra

    async def refill(request: Request, size: int) -> Request:
        """The project's pools grown to ``size``: more coupons of the same members, their scan tokens as before."""
        token_of = dict(zip((coupon.member_id for coupon in coupons), request.pools["scan_token"], strict=False))
        extra = await more(members, coupons, size - request.pool_size)
        return dataclasses.replace(request, pools={
            "coupon_id": request.pools["coupon_id"] + tuple(str(coupon.coupon_id) for coupon in extra),
            "scan_token": request.pools["scan_token"] + tuple(token_of[coupon.member_id] for coupon in extra)})

    async def refill_baseline(request: Request, size: int) -> Request:
        extra = await more(baseline_members, baseline_coupons, size - request.pool_size)
        return dataclasses.replace(request, pools={
            "coupon_id": request.pools["coupon_id"] + tuple(str(coupon.coupon_id) for coupon in extra),
            "member_id": request.pools["member_id"] + tuple(str(coupon.member_id) for coupon in extra)})

    def race() -> Phases:
        """The check redeems another coupon of the member; the warm-up and the measurement race for one each."""
        token = seed.scan_token(project, clerk, hot_member)

        def one(coupon: seed.SeededCoupon) -> Request:
            return Request(PATH.replace("{coupon_id}", str(coupon.coupon_id)), method="POST", headers=headers,
                           body=BODY.replace("{scan_token}", token))

        return Phases(check=one(spare), warmup=one(warmup_hot), measurement=one(hot))

    return [
        dataclasses.replace(project.target("redeem", counter()), group="distinct", build=counter,
                            lifetime_s=scan.SCAN_TTL_S, reconcile=reconciler(project.dsn, "redeem", coupons),
                            refill=refill),
        dataclasses.replace(project.target("redeem-hot", race().measurement), group="hot", build=race,
                            lifetime_s=scan.SCAN_TTL_S, expected_statuses=frozenset({409}),
                            reconcile=hot_reconciler(project.dsn, "redeem-hot", spare, warmup_hot, hot)),
        dataclasses.replace(baselines.json_target(), group="distinct"),
        dataclasses.replace(
            baselines.redeem_target(project.dsn, baseline_coupons, store_id=clerk.store_id, staff_id=clerk.staff_id,
                                    group="distinct",
                                    reconcile=reconciler(project.dsn, "baseline:asyncpg", baseline_coupons)),
            refill=refill_baseline),
    ]
