"""Property: whatever sequence of earns, spends, refunds, expiries, adjustments and top-ups runs, with
concurrent duplicates and later retries, every balance equals its ledger and its live lots, and
nothing is ever negative."""

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import audit
from backend.errors import DomainError
from backend.loyalty import orders
from backend.loyalty.models import Order
from backend.loyalty.program import PointsExpiry, default_program, save
from backend.members import service
from tests.factories import assert_ledgers_hold, unique, unique_phone

TZ = "Asia/Shanghai"

operation = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 100_000), st.integers(0, 1500), st.integers(0, 50_000)),
    st.tuples(st.just("refund"), st.integers(0, 10), st.integers(1, 100_000), st.just(0)),
    st.tuples(st.just("expire"), st.integers(1, 120), st.just(0), st.just(0)),
    st.tuples(st.just("adjust"), st.integers(-2000, 2000), st.just(0), st.just(0)),
    st.tuples(st.just("topup"), st.integers(1, 100_000), st.just(0), st.just(0)),
)


async def _run(op: tuple, member_id: int, placed: list[str]) -> list[object]:
    """The operation twice at once (a duplicate), as a POS that retries on a timeout would send it."""
    kind, a, b, c = op
    if kind == "order":
        order_no = unique("P")
        placed.append(order_no)
        call = lambda: orders.place_order(orders.OrderInput(  # noqa: E731
            channel="pos", order_no=order_no, amount_cents=a, member_id=member_id,
            points_to_spend=min(b, a), balance_to_spend_cents=min(c, a - min(b, a))), tz=TZ)
    elif kind == "refund":
        if not placed:
            return []
        order_no, refund_no = placed[a % len(placed)], unique("R")
        call = lambda: orders.refund_order(channel="pos", order_no=order_no, amount_cents=b,  # noqa: E731
                                           reason="退货", refund_no=refund_no)
    elif kind == "expire":
        from backend import clock

        clock.install(clock.ManualClock(clock.now() + timedelta(days=a)))
        return list(await asyncio.gather(orders.expire_due_points(), orders.expire_due_points()))
    elif kind == "adjust":
        if a == 0:
            return []
        return [await _settle(orders.adjust_points(member_id=member_id, points=a, reason="盘点",
                                                   actor=audit.SYSTEM, tz=TZ))]
    else:
        ref = unique("PAY")
        call = lambda: orders.topup(member_id=member_id, amount_cents=a, payment_ref=ref,  # noqa: E731
                                    store_id=None, channel="pos", tz=TZ)
    first = await asyncio.gather(_settle(call()), _settle(call()))
    retry = await _settle(call())
    return [*first, retry]


async def _settle(awaitable) -> object:
    try:
        return await awaitable
    except DomainError as exc:
        return exc.code


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.lists(operation, min_size=3, max_size=16))
async def test_balances_always_equal_their_ledgers_and_lots(stack, steps):
    from backend import clock

    clock.install(clock.ManualClock(stack.clock.now()))
    try:
        from tortoise.transactions import in_transaction

        program = default_program().model_copy(update={
            "points_expiry": PointsExpiry(policy="rolling_months", months=1), "registration_points": 500})
        async with in_transaction() as conn:
            await save(program, conn)
        result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos"),
                                        pii=stack.pii, actor=audit.SYSTEM)
        member_id = result.member.id
        placed: list[str] = []
        for step in steps:
            outcomes = await _run(step, member_id, placed)
            for outcome in outcomes:
                assert not isinstance(outcome, BaseException), outcome
            await assert_ledgers_hold(member_id)
        for order in await Order.filter(member_id=member_id):
            assert 0 <= order.refunded_cents <= order.amount_cents
            assert order.points_reversed <= order.points_earned
            assert order.points_restored <= order.points_spent
    finally:
        clock.install(stack.clock)
