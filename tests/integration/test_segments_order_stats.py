"""The members' order figures: after any sequence of orders, partial and full refunds, merges and erasures
they equal what the order rows say (computed here one row at a time); concurrent orders of one member all
count; counts and previews through the figures select the members a scan of the orders selects."""

import asyncio
import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import audit, clock, db
from backend.errors import DomainError
from backend.loyalty import order_stats, orders
from backend.loyalty.models import MemberOrderStats, Order
from backend.members import merge, privacy, service
from jobs import segments
from tests.factories import assert_order_figures_hold, unique, unique_phone

TZ = "Asia/Shanghai"
MIGRATION = Path(__file__).resolve().parents[2] / "migrations/models/15_20261205090000_member_order_stats.py"

step_st = st.one_of(
    st.tuples(st.just("order"), st.integers(0, 2), st.integers(1, 50_000), st.integers(0, 400)),
    st.tuples(st.just("refund"), st.integers(0, 30), st.sampled_from(["part", "rest", "full"]), st.just(0)),
    st.tuples(st.just("merge"), st.integers(0, 2), st.integers(1, 2), st.just(0)),
    st.tuples(st.just("erase"), st.integers(0, 2), st.just(0), st.just(0)),
)

RULES = [
    {"field": "orders.count", "op": "gte", "value": 1},
    {"field": "orders.count", "op": "eq", "value": 0},
    {"field": "orders.count", "op": "between", "value": [1, 2]},
    {"field": "orders.amount_cents", "op": "gte", "value": 20_000},
    {"field": "orders.amount_cents", "op": "lte", "value": 10_000},
    {"field": "orders.last_order", "op": "within_days", "value": 30},
    {"field": "orders.last_order", "op": "not_within_days", "value": 90},
    {"all": [{"field": "orders.count", "op": "gte", "value": 2},
             {"field": "orders.last_order", "op": "within_days", "value": 200}]},
    {"any": [{"field": "orders.amount_cents", "op": "gte", "value": 30_000},
             {"not": {"field": "orders.last_order", "op": "within_days", "value": 100}}]},
    {"all": [{"field": "orders.count", "op": "gte", "value": 1}, {"field": "gender", "op": "eq", "value": "unknown"},
             {"field": "orders.count", "op": "gte", "value": 1, "within_days": 60}]},
]


async def _member(stack) -> int:
    result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos"), pii=stack.pii,
                                    actor=audit.SYSTEM)
    return result.member.id


async def _settle(awaitable) -> object:
    try:
        return await awaitable
    except DomainError as exc:
        return exc.code


async def _step(stack, step: tuple, people: list[int], placed: list[tuple[str, int]]) -> None:
    kind, a, b, c = step
    if kind == "order":
        order_no = unique("F")
        outcome = await _settle(orders.place_order(orders.OrderInput(
            channel="pos", order_no=order_no, amount_cents=b, member_id=people[a],
            placed_at=clock.now() - timedelta(days=c)), tz=TZ))
        if not isinstance(outcome, str):  # an erased member orders no more
            placed.append((order_no, b))
    elif kind == "refund" and placed:
        order_no, amount = placed[a % len(placed)]
        order = await Order.get(order_no=order_no)
        left = amount - order.discount_cents - order.refunded_cents
        cents = {"part": max(left // 3, 1), "rest": left, "full": amount}[b]
        await _settle(orders.refund_order(channel="pos", order_no=order_no, amount_cents=cents, reason="退货",
                                          refund_no=unique("R")))
    elif kind == "merge":
        await _settle(merge.merge_members(survivor_id=people[a], merged_id=people[(a + b) % 3], actor=audit.SYSTEM))
    elif kind == "erase":
        await _settle(privacy.erase_member(member_id=people[a], actor=audit.SYSTEM, pii=stack.pii))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.lists(step_st, min_size=4, max_size=14))
async def test_the_figures_equal_the_orders_after_orders_refunds_merges_and_erasures(stack, steps):
    people = [await _member(stack) for _ in range(3)]
    placed: list[tuple[str, int]] = []
    for step in steps:
        await _step(stack, step, people, placed)
        for member_id in people:
            await assert_order_figures_hold(member_id)
    dialect = "postgres" if db.is_postgres() else "sqlite"
    for rule in RULES:  # the figures and the scan of the orders agree, and the count with both
        selected = {}
        for exact in (False, True):
            sql, params = segments.member_ids_sql(rule, dialect=dialect, now=clock.now(), tz=TZ, exact=exact)
            selected[exact] = {int(r["id"]) for r in await db.fetch(sql, *params)}
        assert selected[False] == selected[True], rule
        assert await segments.count(rule, tz=TZ) == len(selected[True]), rule


async def test_a_merge_moves_the_figures_with_the_orders_and_leaves_the_merged_member_none(stack):
    survivor, merged = await _member(stack), await _member(stack)
    for member_id, amount, days in ((survivor, 10_000, 50), (merged, 30_000, 5), (merged, 2_000, 300)):
        await orders.place_order(orders.OrderInput(channel="pos", order_no=unique("M"), amount_cents=amount,
                                                   member_id=member_id, placed_at=clock.now() - timedelta(days=days)),
                                 tz=TZ)

    await merge.merge_members(survivor_id=survivor, merged_id=merged, actor=audit.SYSTEM)

    kept = await MemberOrderStats.get(member_id=survivor)
    assert (kept.order_count, kept.amount_cents) == (3, 42_000)
    assert (kept.first_order_at, kept.last_order_at) == (clock.now() - timedelta(days=300),
                                                         clock.now() - timedelta(days=5))
    emptied = await MemberOrderStats.get(member_id=merged)
    assert (emptied.order_count, emptied.amount_cents, emptied.last_order_at) == (0, 0, None)
    await assert_order_figures_hold(survivor)
    await assert_order_figures_hold(merged)
    recent = {"field": "orders.last_order", "op": "within_days", "value": 30}
    assert await segments.count(recent, tz=TZ) == 1  # the survivor, with the merged member's recent order


async def test_a_full_refund_of_the_last_order_brings_back_the_one_before(stack):
    member_id = await _member(stack)
    first, last = unique("A"), unique("B")
    for order_no, days in ((first, 40), (last, 2)):
        await orders.place_order(orders.OrderInput(channel="pos", order_no=order_no, amount_cents=5_000,
                                                   member_id=member_id, placed_at=clock.now() - timedelta(days=days)),
                                 tz=TZ)
    await orders.refund_order(channel="pos", order_no=last, amount_cents=1_000, reason="退货", refund_no=unique("R"))
    kept = await MemberOrderStats.get(member_id=member_id)
    assert (kept.order_count, kept.amount_cents, kept.last_order_at) == (2, 9_000, clock.now() - timedelta(days=2))

    await orders.refund_order(channel="pos", order_no=last, amount_cents=4_000, reason="退货", refund_no=unique("R"))

    kept = await MemberOrderStats.get(member_id=member_id)
    assert (kept.order_count, kept.amount_cents) == (1, 5_000)
    assert kept.first_order_at == kept.last_order_at == clock.now() - timedelta(days=40)
    assert await segments.count({"field": "orders.last_order", "op": "within_days", "value": 30}, tz=TZ) == 0


async def test_the_repair_writes_what_the_orders_say(stack):
    member_id, other = await _member(stack), await _member(stack)
    for n in range(3):
        await Order.create(channel="pos", order_no=unique("X"), member_id=member_id, request_hash="x",
                           amount_cents=1_000 * (n + 1), refunded_cents=1_000 if n == 2 else 0,
                           status="refunded" if n == 0 else "placed", placed_at=clock.now() - timedelta(days=n),
                           created_at=clock.now())
    await MemberOrderStats.create(member_id=other, order_count=5, amount_cents=1)  # wrong: no order at all

    await order_stats.rebuild(batch=1)

    await assert_order_figures_hold(member_id)
    kept = await MemberOrderStats.get(member_id=member_id)
    assert (kept.order_count, kept.amount_cents) == (2, 4_000)
    assert (await MemberOrderStats.get(member_id=other)).order_count == 0


@pytest.mark.postgres_only
async def test_concurrent_orders_and_refunds_of_one_member_all_count(stack):
    member_id = await _member(stack)
    refunded = [unique("C") for _ in range(4)]
    for order_no in refunded:
        await orders.place_order(orders.OrderInput(channel="pos", order_no=order_no, amount_cents=2_000,
                                                   member_id=member_id), tz=TZ)

    await asyncio.gather(
        *(orders.place_order(orders.OrderInput(channel="pos", order_no=unique("C"), amount_cents=1_000 + n,
                                               member_id=member_id), tz=TZ) for n in range(24)),
        *(orders.refund_order(channel="pos", order_no=order_no, amount_cents=2_000, reason="退货",
                              refund_no=unique("R")) for order_no in refunded))

    kept = await MemberOrderStats.get(member_id=member_id)
    assert (kept.order_count, kept.amount_cents) == (24, sum(1_000 + n for n in range(24)))
    await assert_order_figures_hold(member_id)


@pytest.mark.postgres_only
async def test_the_migration_backfill_writes_what_the_orders_say(stack):
    members = [await _member(stack) for _ in range(3)]
    for n, member_id in enumerate(members[:2]):
        for k in range(3):
            await Order.create(channel="pos", order_no=unique("B"), member_id=member_id, request_hash="x",
                               amount_cents=1_000 + k, refunded_cents=300 if k == 1 else (1_002 if n and k == 2 else 0),
                               status="partially_refunded" if k == 1 else ("refunded" if n and k == 2 else "placed"),
                               placed_at=clock.now() - timedelta(days=k), created_at=clock.now())
    await Order.create(channel="pos", order_no=unique("B"), member_id=None, request_hash="x", amount_cents=7,
                       placed_at=clock.now(), created_at=clock.now())
    spec = importlib.util.spec_from_file_location("member_order_stats_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    script = await migration.upgrade(None)
    backfill = script[script.index('INSERT INTO "member_order_stats"'):script.index('ANALYZE')]

    await db.fetch(backfill)

    for member_id in members:
        await assert_order_figures_hold(member_id)
    assert not await MemberOrderStats.exists(member_id=members[2])
