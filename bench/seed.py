"""Data the benchmarks load, created through the project's own services (as a counter would)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from tortoise.transactions import in_transaction

from backend import audit, clock
from backend.coupons import service as coupon_service
from backend.coupons.terms import Terms
from backend.db import close_db, init_db
from backend.http.auth import STAFF_AUDIENCE
from backend.loyalty import orders
from backend.loyalty import program as programs
from backend.loyalty.models import Order, PointsEntry, PointsLot
from backend.loyalty.views import EXPIRING_WINDOW
from backend.members import scan, service, sessions
from backend.security import tokens
from backend.security.pii import PiiCipher
from backend.settings import load_settings
from backend.stores import service as stores
from backend.stores.models import Store
from bench.project import Project
from bench.runner import BenchFailure
from bench.servers import ROOT

STORE_CODE = "BENCH01"
# Phone numbers of one run: 139 and eight digits, counting up from a random start.
_phones = itertools.count(10**7 + secrets.randbelow(8 * 10**7))


class SeedError(BenchFailure):
    """The seeded data is not what the benchmark needs: its figure would measure something else."""


@dataclass(frozen=True)
class SeededMember:
    member_id: int
    member_no: str
    token: str  # member access token (audience ``member``)


@dataclass(frozen=True)
class Clerk:
    staff_id: int
    store_id: int
    token: str  # staff access token (audience ``staff``), as POST /api/v1/staff/session issues it


async def bench_store() -> Store:
    return await Store.get_or_none(code=STORE_CODE) or await stores.create_store(code=STORE_CODE, name="压测门店")


async def register_member(project: Project, *, phone: str | None = None, nickname: str = "压测会员") -> int:
    """A member registered at the counter of the bench store; returns the member id."""
    store = await bench_store()
    phone = phone or f"139{next(_phones):08d}"
    result = await service.register(reg=service.Registration(
        phone=phone, channel="pos", store_id=store.id, nickname=nickname,
        gender="female", consents={"sms_marketing": True}, consent_text_version="2026-01",
    ), pii=PiiCipher(project.settings.pii_key), actor=audit.SYSTEM)
    if not result.created:
        raise SeedError(f"phone {phone} already belongs to member {result.member.id}")
    return result.member.id


async def member_with_token(project: Project, *, phone: str | None = None, nickname: str = "压测会员") -> SeededMember:
    """A member registered at the counter of the bench store, and a member token for them."""
    member_id = await register_member(project, phone=phone, nickname=nickname)
    issued = await sessions.issue_tokens(settings=project.settings, member_id=member_id, account_id=None)
    member = await service.get_member(member_id=member_id)
    return SeededMember(member_id, member.member_no, issued.token)


async def members(project: Project, count: int, *, concurrency: int = 8) -> list[int]:
    """``count`` members registered at the bench store's counter, a few at a time; their ids in order."""
    await bench_store()
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> int:
        async with gate:
            return await register_member(project, nickname=f"压测会员{n}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def clerk(project: Project, *, username: str = "bench_clerk") -> Clerk:
    """A clerk of the bench store and a staff token with the claims the staff login puts in it."""
    store = await bench_store()
    staff = await stores.create_staff(username=username, password=secrets.token_urlsafe(16), role="clerk",
                                      store_code=store.code)
    token = tokens.issue(project.settings.secret_key, audience=STAFF_AUDIENCE, subject=str(staff.id),
                         ttl_s=project.settings.staff_token_ttl_s,
                         claims={"role": staff.role, "store_id": store.id, "ver": staff.token_version})
    return Clerk(staff.id, store.id, token)


def scan_token(project: Project, clerk: Clerk, member_id: int) -> str:
    """What the clerk's scan of the member's code yields: valid ``scan.SCAN_TTL_S`` at the clerk's store."""
    return scan.issue_scan_token(project.settings.secret_key, member_id=member_id, store_id=clerk.store_id,
                                 staff_id=clerk.staff_id)


@dataclass(frozen=True)
class AssetHistory:
    points_entries: int
    live_lots: int
    expiring_lots: int  # live lots that expire within the asset view's window (and are not yet due)
    orders: int


# The history of ``member_with_history``: every earning order earns 5 points (5 yuan, 1 point a yuan) in
# one lot; a refund takes back its order's lot, a points-only purchase uses up the oldest lot.
HISTORY_EARNING_ORDERS = 110
HISTORY_REFUNDS = 20
HISTORY_POINTS_PURCHASES = 78
HISTORY_EXPIRING_ORDERS = 8
HISTORY_ORDER_CENTS = 500


async def member_with_history(project: Project, member_id: int) -> AssetHistory:
    """A regular customer's history, made through the order services as the tills would have.

    ``HISTORY_EARNING_ORDERS`` purchases earn points that never expire; ``HISTORY_REFUNDS`` of them are
    refunded (their points reversed), then ``HISTORY_POINTS_PURCHASES`` purchases are paid with points
    only; a top-up puts stored value on the account. Then the program switches to points that expire a
    month after they are earned, and ``HISTORY_EXPIRING_ORDERS`` purchases made two weeks ago (under a
    set clock) leave points that expire within the next 30 days. The result: 216 points entries and 20
    live lots, 8 of them expiring soon, and 196 orders in the tier window.
    """
    return (await members_with_history(project, [member_id]))[0]


async def members_with_history(project: Project, member_ids: list[int], *,
                               concurrency: int = 4) -> list[AssetHistory]:
    """``member_with_history`` for each of ``member_ids`` (the first part a few members at a time), with one
    switch of the program to expiring points between the two parts; their histories, in order."""
    store = await bench_store()
    tz = project.settings.timezone

    def purchase(member_id: int, n: int, **extra: int) -> orders.OrderInput:
        amount = extra.pop("amount_cents", HISTORY_ORDER_CENTS)
        return orders.OrderInput(channel="pos", order_no=f"H{member_id}-{n}", amount_cents=amount,
                                 member_id=member_id, store_id=store.id, **extra)

    numbers = {member_id: itertools.count(1) for member_id in member_ids}
    gate = asyncio.Semaphore(concurrency)

    async def lasting(member_id: int) -> None:
        async with gate:
            earning = [next(numbers[member_id]) for _ in range(HISTORY_EARNING_ORDERS)]
            for n in earning:
                await orders.place_order(purchase(member_id, n), tz=tz)
            for n in earning[:HISTORY_REFUNDS]:
                await orders.refund_order(channel="pos", order_no=f"H{member_id}-{n}",
                                          amount_cents=HISTORY_ORDER_CENTS, reason="顾客退货", refund_no=f"R{n}",
                                          store_id=store.id)
            points = HISTORY_ORDER_CENTS // 100
            for _ in range(HISTORY_POINTS_PURCHASES):
                await orders.place_order(purchase(member_id, next(numbers[member_id]), amount_cents=points,
                                                  points_to_spend=points), tz=tz)
            await orders.topup(member_id=member_id, amount_cents=20_000, payment_ref=f"H{member_id}-topup",
                               store_id=store.id, channel="pos", tz=tz)

    await asyncio.gather(*(lasting(member_id) for member_id in member_ids))

    async with in_transaction() as conn:
        program = await programs.load(conn)
        expiring = program.model_copy(update={"points_expiry": programs.PointsExpiry(policy="rolling_months",
                                                                                     months=1)})
        await programs.save(expiring, conn)
    two_weeks_ago = clock.ManualClock(clock.now() - timedelta(days=15))
    clock.install(two_weeks_ago)
    try:
        for _ in range(HISTORY_EXPIRING_ORDERS):
            for member_id in member_ids:
                await orders.place_order(purchase(member_id, next(numbers[member_id])), tz=tz)
            two_weeks_ago.advance(hours=7)
    finally:
        clock.reset()

    now = clock.now()
    histories = []
    for member_id in member_ids:
        live = PointsLot.filter(member_id=member_id, remaining__gt=0)
        history = AssetHistory(
            points_entries=await PointsEntry.filter(member_id=member_id).count(),
            live_lots=await live.count(),
            expiring_lots=await live.filter(expires_at__gt=now, expires_at__lte=now + EXPIRING_WINDOW).count(),
            orders=await Order.filter(member_id=member_id).count())
        if history.points_entries < 200 or history.live_lots != 20 or history.expiring_lots == 0:
            raise SeedError(f"member {member_id}: wanted at least 200 points entries and 20 live lots, some "
                            f"expiring within {EXPIRING_WINDOW.days} days; seeded {history}")
        histories.append(history)
    return histories


# A gift at the counter: redeemed without an order amount, usable at every store and in every channel.
GIFT_TERMS = Terms(kind="gift", gift_sku="BENCH-GIFT", valid_days=30)


async def gift_template(*, name: str = "压测赠品券") -> int:
    """An active gift-coupon template, made and switched on as an admin would; its id."""
    template = await coupon_service.create_template(
        name=name, description="压测", terms=GIFT_TERMS, total_stock=None, per_member_limit=None,
        per_member_daily_limit=None, claimable=False, claim_tiers=[], actor=audit.SYSTEM)
    await coupon_service.set_status(template_id=template.id, status="active", actor=audit.SYSTEM)
    return template.id


class SeededCoupon(NamedTuple):
    coupon_id: int
    member_id: int  # its owner


async def issue_coupons(template_id: int, member_ids: list[int], count: int, *, tz: str,
                        per_transaction: int = 500) -> list[SeededCoupon]:
    """``count`` available coupons of the template, dealt to ``member_ids`` in turn, in that order.

    Issued through ``coupons.service.issue`` as admin batches are (source ``admin``; round ``r`` of the
    deal is batch ``bench-r``, one coupon per member), ``per_transaction`` coupons per transaction: a
    transaction a coupon would spend most of the time committing. Needs the ORM connected.
    """
    if not member_ids:
        raise SeedError("coupons need at least one member to hold them")
    issued: list[SeededCoupon] = []
    while len(issued) < count:
        async with in_transaction() as conn:
            for n in range(len(issued), min(count, len(issued) + per_transaction)):
                member_id = member_ids[n % len(member_ids)]
                coupon, created = await coupon_service.issue(
                    conn, template_id=template_id, member_id=member_id, source="admin",
                    source_ref=f"batch:bench-{n // len(member_ids)}", tz=tz)
                if not created or coupon.status != "available":
                    raise SeedError(f"coupon {coupon.id} of member {member_id} was not a new available coupon")
                issued.append(SeededCoupon(coupon.id, member_id))
    return issued


async def coupons(project: Project, member_ids: list[int], count: int, *, processes: int = 1) -> list[SeededCoupon]:
    """``count`` available gift coupons dealt to ``member_ids`` in turn: consecutive coupons belong to
    different members (when there are several).

    ``processes`` issuers work at once, this process and ``processes - 1`` children (``python -m
    bench.seed coupons``): issuing is Python work in the ORM, a millisecond a coupon, and a machine
    has more than one core. Each issues a share of the members' coupons from a gift template of its
    own (``gift_template``): a template's issue count is its row lock, so two issuers of one template
    would take turns.
    """
    if not member_ids:
        raise SeedError("coupons need at least one member to hold them")
    groups = [member_ids[g::processes] for g in range(min(max(processes, 1), len(member_ids)))]
    # Coupon n of the whole deal goes to member n mod M, which is in group (n mod M) mod P.
    owner_group = [(n % len(member_ids)) % len(groups) for n in range(count)]
    templates = [await gift_template() for _ in groups]
    shares: list[list[SeededCoupon]] = [[] for _ in groups]

    async def share(g: int) -> None:
        size = owner_group.count(g)
        if g == 0:
            shares[g] = await issue_coupons(templates[g], groups[g], size, tz=project.settings.timezone)
        else:
            shares[g] = await _issue_in_child(project, templates[g], groups[g], size)

    async with asyncio.TaskGroup() as tasks:  # one failing cancels (and stops) the others
        for g in range(len(groups)):
            tasks.create_task(share(g))
    taken = [iter(coupons) for coupons in shares]
    return [next(taken[g]) for g in owner_group]


async def _issue_in_child(project: Project, template_id: int, member_ids: list[int], count: int) -> list[SeededCoupon]:
    argv = [sys.executable, "-m", "bench.seed", "coupons", "--template", str(template_id), "--count", str(count),
            "--members", ",".join(map(str, member_ids))]
    # Its own session, as the servers: Ctrl-C reaches the harness only, which stops the child on its way out.
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env={**os.environ, **project.env}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled: another issuer failed, or Ctrl-C
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise SeedError(f"bench.seed coupons exited with {process.returncode}:\n{stderr.decode(errors='replace')}")
    return [SeededCoupon(*pair) for pair in json.loads(stdout)]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.seed coupons``: an issuer of ``coupons(processes=N)``, on the environment's database."""
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=main.__doc__)
    parser.add_argument("what", choices=["coupons"])
    parser.add_argument("--template", type=int, required=True)
    parser.add_argument("--members", required=True, help="member ids, comma-separated")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)

    async def run() -> list[SeededCoupon]:
        settings = load_settings()
        await init_db(settings.database_url, generate_sqlite_schema=False)
        try:
            return await issue_coupons(args.template, [int(m) for m in args.members.split(",")], args.count,
                                       tz=settings.timezone)
        finally:
            await close_db()

    print(json.dumps(asyncio.run(run())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
