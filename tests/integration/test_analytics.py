"""Analytics: the daily aggregates equal a brute-force count over the ledgers, orders, coupons and messages;
rebuilding a day is idempotent, also twice at once; the dashboard answers with comparisons, refuses bad
windows with their codes, is for marketers and admins, and exports its tables (audited)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from backend import audit, db
from backend.analytics import build, lift, read, rollups
from backend.analytics.facts import FACTS
from backend.analytics.read import Filters, Reader
from backend.coupons import service as coupons
from backend.coupons.models import Coupon, Redemption
from backend.coupons.terms import Terms
from backend.errors import DomainError
from backend.loyalty import orders
from backend.loyalty import program as programs
from backend.loyalty.models import Order, PointsEntry, Refund, TierChange, WalletEntry
from backend.members import service as members
from backend.members.models import ConsentRecord, Member
from backend.stores.models import AuditLog
from notifications import outbox
from notifications.models import Message
from tests.conftest import START, _truncate_all
from tests.factories import bearer, make_staff, make_store, unique, unique_phone

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    """Every read goes to the database: the tests change the data between reads within the minute."""
    from backend.analytics import read

    monkeypatch.setattr(read, "CACHE_S", 0.0)
BASE = "/api/v1/admin/analytics"
CHANNELS = ("pos", "online", "miniprogram")


# -- the brute force ----------------------------------------------------------------------------------------


def _day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


class Tiers:
    """The tier of a member just before a moment, from the tier changes one by one."""

    def __init__(self, changes: list[TierChange], lowest: str) -> None:
        self.lowest = lowest
        self.by_member: dict[int, list[TierChange]] = defaultdict(list)
        for change in sorted(changes, key=lambda c: (c.created_at, c.id)):
            self.by_member[change.member_id].append(change)

    def at(self, member_id: int, moment: datetime) -> str:
        code = self.lowest
        for change in self.by_member.get(member_id, []):
            if change.created_at < moment:
                code = change.to_code
        return code


def _add(out: dict, key: tuple, **measures: int) -> None:
    into = out.setdefault(key, defaultdict(int))
    for name, value in measures.items():
        into[name] += value


async def brute_force(*, before: datetime, since: datetime | None = None) -> dict[str, dict[tuple, dict[str, int]]]:
    """Every fact table's rows as the base rows say, one row at a time, for events in [since, before)."""
    lowest = (await programs.load(fresh=True)).tiers[0].code
    tiers = Tiers(await TierChange.all(), lowest)

    def within(at: datetime | None) -> bool:
        return at is not None and at < before and (since is None or at >= since)

    out: dict[str, dict[tuple, Any]] = {name: {} for name in FACTS}
    for m in await Member.all():
        if m.status != "merged" and within(m.registered_at):
            _add(out["members"], (_day(m.registered_at), m.registration_store_id or 0, m.registration_channel,
                                  tiers.at(m.id, m.registered_at)), new_members=1, upgrades=0, downgrades=0)
    for c in await TierChange.all():
        if c.reason in ("upgrade", "downgrade") and within(c.created_at):
            _add(out["members"], (_day(c.created_at), 0, "", c.to_code), new_members=0,
                 upgrades=int(c.reason == "upgrade"), downgrades=int(c.reason == "downgrade"))
    buyers: dict[tuple, set[int]] = defaultdict(set)
    zero_sales = dict.fromkeys(FACTS["sales"].measures, 0)
    order_rows = {o.id: o for o in await Order.all()}
    for o in order_rows.values():
        if o.member_id is None or not within(o.placed_at):
            continue
        key = (_day(o.placed_at), o.store_id or 0, o.channel, tiers.at(o.member_id, o.placed_at))
        buyers[key].add(o.member_id)
        spent = o.principal_spent_cents + o.bonus_spent_cents
        _add(out["sales"], key, **{**zero_sales, "orders": 1, "gmv_cents": o.amount_cents,
                                   "discount_cents": o.discount_cents, "points_orders": int(o.points_spent > 0),
                                   "points_value_cents": o.points_value_cents, "balance_orders": int(spent > 0),
                                   "balance_cents": spent, "coupon_orders": int(o.discount_cents > 0),
                                   "coupon_gmv_cents": o.amount_cents if o.discount_cents > 0 else 0})
    for r in await Refund.all():
        o = order_rows[r.order_id]
        if o.member_id is not None and within(r.created_at):
            key = (_day(r.created_at), o.store_id or 0, o.channel, tiers.at(o.member_id, r.created_at))
            _add(out["sales"], key, **{**zero_sales, "refunds": 1, "refund_cents": r.amount_cents})
    for key, members_ in buyers.items():
        out["sales"][key]["buyers"] = len(members_)
    for e in await PointsEntry.all():
        if not within(e.created_at):
            continue
        p = e.points
        _add(out["points"], (_day(e.created_at), e.store_id or 0, e.channel or "", tiers.at(e.member_id, e.created_at)),
             issued=p if e.kind in ("earn", "bonus", "adjust") and p > 0 else 0,
             spent=-p if e.kind == "spend" else 0, expired=-p if e.kind == "expire" else 0,
             reversed=-p if e.kind == "refund_reversal" else 0, restored=p if e.kind == "refund_restore" else 0,
             adjusted_out=-p if e.kind in ("adjust", "debt_repay") and p < 0 else 0, net=p)
    for w in await WalletEntry.all():
        if not within(w.created_at):
            continue
        kind = w.kind
        _add(out["stored_value"], (_day(w.created_at), w.store_id or 0, w.channel or "",
                                   tiers.at(w.member_id, w.created_at)),
             topups=int(kind == "topup"), topup_principal_cents=w.principal_cents if kind == "topup" else 0,
             topup_bonus_cents=w.bonus_cents if kind == "topup" else 0,
             spend_principal_cents=-w.principal_cents if kind == "spend" else 0,
             spend_bonus_cents=-w.bonus_cents if kind == "spend" else 0,
             refund_principal_cents=w.principal_cents if kind == "refund" else 0,
             refund_bonus_cents=w.bonus_cents if kind == "refund" else 0,
             net_principal_cents=w.principal_cents, net_bonus_cents=w.bonus_cents)
    zero_coupons = dict.fromkeys(FACTS["coupons"].measures, 0)
    coupon_rows = {c.id: c for c in await Coupon.all()}
    for c in coupon_rows.values():
        if within(c.issued_at):
            way = c.source if c.source in ("claim", "admin", "mall", "reward") else "other"
            _add(out["coupons"], (_day(c.issued_at), c.template_id, 0, "", tiers.at(c.member_id, c.issued_at)),
                 **{**zero_coupons, "issued": 1, f"issued_{way}": 1})
        if within(c.valid_until) and c.status != "redeemed":
            _add(out["coupons"], (_day(c.valid_until), c.template_id, 0, "", tiers.at(c.member_id, c.valid_until)),
                 **{**zero_coupons, "expired": 1})
    for r in await Redemption.all():
        if r.status == "done" and within(r.created_at):
            order = order_rows.get(r.order_id) if r.order_id else None
            _add(out["coupons"], (_day(r.created_at), coupon_rows[r.coupon_id].template_id, r.store_id or 0,
                                  r.channel, tiers.at(r.member_id, r.created_at)),
                 **{**zero_coupons, "redeemed": 1, "discount_cents": r.discount_cents,
                    "order_gmv_cents": order.amount_cents if order else 0})
    zero_messages = dict.fromkeys(FACTS["messages"].measures, 0)
    for m in await Message.all():
        if not within(m.created_at):
            continue
        status, reason = m.status, m.reason or ""
        _add(out["messages"], (_day(m.created_at), m.channel or "", m.purpose), **{
            **zero_messages, "queued": 1, "sent": int(status in ("sent", "delivered")),
            "delivered": int(status == "delivered"), "failed": int(status in ("failed", "unknown")),
            "no_consent": int(status == "no_consent"), "capped": int(status == "capped"),
            "quiet_hours": int(status == "expired" and reason.startswith("quiet_hours")),
            "expired": int(status == "expired" and not reason.startswith("quiet_hours")),
            "cancelled": int(status == "cancelled"),
            "pending": int(status in ("queued", "deferred", "claimed", "sending"))})
    for r in await ConsentRecord.all():
        if not r.granted and within(r.created_at):
            _add(out["messages"], (_day(r.created_at), r.channel, r.purpose), **{**zero_messages, "unsubscribes": 1})
    return {name: {key: dict(values) for key, values in rows.items()} for name, rows in out.items()}


async def stored() -> dict[str, dict[tuple, dict[str, int]]]:
    """The fact tables' rows, keyed like the brute force."""
    out: dict[str, dict[tuple, dict[str, int]]] = {}
    for name, fact in FACTS.items():
        rows = await db.fetch(f"SELECT day, {', '.join(fact.columns)} FROM {fact.table}")
        table: dict[tuple, dict[str, int]] = {}
        for row in rows:
            key = (db.to_date(row["day"]), *(int(row[d]) if d in ("store_id", "template_id") else row[d]
                                             for d in fact.dims))
            assert key not in table, f"{name}: {key} twice"
            table[key] = {m: int(row[m]) for m in fact.measures}
        out[name] = table
    return out


def expected_rollups(facts: dict[str, dict[tuple, dict[str, int]]]) -> dict[tuple, list[int]]:
    """The rollup rows the fact rows make: per day, every dimension summed, and per value of each one alone."""
    out: dict[tuple, list[int]] = {}
    for name, rows in facts.items():
        fact = FACTS[name]
        for (day, *values), measures in rows.items():
            for dim, value in (("", ""), *zip(fact.dims, (str(v) for v in values), strict=True)):
                into = out.setdefault((name, day, dim, value), [0] * len(fact.measures))
                for n, m in enumerate(fact.measures):
                    into[n] += measures[m]
    return out


async def stored_rollups() -> dict[tuple, list[int]]:
    out: dict[tuple, list[int]] = {}
    for row in await db.fetch(f"SELECT * FROM {rollups.TABLE}"):
        fact = FACTS[row["fact"]]
        key = (row["fact"], db.to_date(row["day"]), row["dim"], row["value"])
        assert key not in out, f"{key} twice"
        out[key] = [int(row[f"m{n}"]) for n in range(len(fact.measures))]
        assert all(int(row[f"m{n}"]) == 0 for n in range(len(fact.measures), 12)), key
    return out


async def assert_rollup_reads_equal_fact_reads(window: read.Window) -> None:
    """Every read the rollups answer (no filter or one, by nothing, day or a dimension) gives what summing the fact
    rows gives, and so does every other read, which they leave to the fact table."""
    for name, fact in FACTS.items():
        values = {dim: [row["v"] for row in await db.fetch(f"SELECT DISTINCT {dim} AS v FROM {fact.table}")]
                  for dim in fact.dims}
        choices = [Filters(), *(Filters(**{dim: value}) for dim in fact.dims for value in values[dim][:2])]
        if len(fact.dims) > 1 and all(values[dim] for dim in fact.dims[:2]):
            choices.append(Filters(**{fact.dims[0]: values[fact.dims[0]][0], fact.dims[1]: values[fact.dims[1]][0]}))
        for filters in choices:
            for group in (None, "day", *fact.dims):
                fast = await Reader(ZONE, filters).sums(fact, window, group)
                reference = await Reader(ZONE, filters, use_rollups=False).sums(fact, window, group)
                assert fast == reference, (name, filters, group)


def live_keyed(name: str, rows: list[dict[str, Any]], day: date) -> dict[tuple, dict[str, int]]:
    fact = FACTS[name]
    return {(day, *(int(r[d]) if d in ("store_id", "template_id") else r[d] for d in fact.dims)):
            {m: r[m] for m in fact.measures} for r in rows}


async def brute_buyers(windows: list[read.Window], *, before: datetime, store_id: int | None = None,
                       channel: str | None = None, tier: str | None = None) -> list[dict[str, int]]:
    """Per window: members with an order that counts in it (and the filters), those with two or more, the
    orders, one order at a time."""
    lowest = (await programs.load(fresh=True)).tiers[0].code
    tiers = Tiers(await TierChange.all(), lowest)
    kept = [o for o in await Order.all()
            if o.member_id is not None and o.status != "refunded" and o.placed_at < before
            and (store_id is None or (o.store_id or 0) == store_id) and (channel is None or o.channel == channel)
            and (tier is None or tiers.at(o.member_id, o.placed_at) == tier)]
    out = []
    for window in windows:
        first, last = window.first, window.last
        per_member: dict[int, int] = defaultdict(int)
        for o in kept:
            if first <= _day(o.placed_at) <= last:
                per_member[o.member_id] += 1
        out.append({"buyers": len(per_member), "repeat_buyers": sum(1 for n in per_member.values() if n >= 2),
                    "orders": sum(per_member.values())})
    return out


async def assert_buyers_equal_brute_force(shop: Shop, first: date, current: date, now: datetime) -> None:
    """Windows of up to 366 days over the history (to today), with no filter, each filter alone, two at once."""
    lowest = (await programs.load(fresh=True)).tiers[0].code
    filters = [Filters(), Filters(store_id=shop.stores[0]), Filters(store_id=0), Filters(channel="pos"),
               Filters(channel="online"), Filters(tier=lowest), Filters(store_id=shop.stores[1], channel="pos")]
    span = (current - first).days + 1
    days = [first + timedelta(days=n) for n in range(0, span, max(1, span // 12))] + [current]
    windows = [read.Window(a, b) for a in days for b in days if a <= b and (b - a).days < 366]
    for f in filters:
        counted = await read.buyers(windows=windows, tz=ZONE, filters=f, lowest=lowest)
        expected = await brute_buyers(windows, before=now, store_id=f.store_id, channel=f.channel, tier=f.tier)
        for window, got, want in zip(windows, counted, expected, strict=True):
            assert got == want, (window, f)

# -- the shop and its random history ------------------------------------------------------------------------


class Shop:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.members: list[int] = []
        self.orders: list[str] = []
        self.coupons: list[tuple[int, int]] = []  # (coupon id, member id)
        self.stores: list[int] = []
        self.templates: list[int] = []

    async def open(self) -> None:
        program = programs.default_program().model_copy(update={
            "points_expiry": programs.PointsExpiry(policy="rolling_months", months=1), "registration_points": 100})
        async with in_transaction() as conn:
            await programs.save(program, conn)
        programs.forget()
        self.stores = [(await make_store()).id for _ in range(2)]
        for days in (3, 20):
            template = await coupons.create_template(
                name=unique("券"), description="", terms=Terms(kind="amount_off", amount_off_cents=500,
                                                               valid_days=days),
                total_stock=None, per_member_limit=None, per_member_daily_limit=None, claimable=True,
                claim_tiers=[], actor=audit.SYSTEM)
            await coupons.set_status(template_id=template.id, status="active", actor=audit.SYSTEM)
            self.templates.append(template.id)

    def advance(self, minutes: int) -> None:
        self.stack.clock.set(self.stack.clock.now() + timedelta(minutes=minutes))

    async def run(self, op: tuple) -> None:
        kind, a, b, c = op
        if kind == "register" or not self.members:
            result = await members.register(reg=members.Registration(
                phone=unique_phone(), channel=CHANNELS[a % 3], store_id=self.stores[b % 2] if b % 3 else None,
                consents={"sms_marketing": True}), pii=self.stack.pii, actor=audit.SYSTEM)
            self.members.append(result.member.id)
            return
        # Most of the activity on a few members, so they have the points, balance and coupons to spend.
        member_id = self.members[a % min(3, len(self.members))]
        if kind == "order":
            if c % 2 and self.coupons:
                member_id = self.coupons[b % len(self.coupons)][1]
            usable = [cid for cid, owner in self.coupons if owner == member_id]
            coupon_ids = usable[:1] if c % 2 and usable else []
            order_no = unique("A")
            try:
                await orders.place_order(orders.OrderInput(
                    channel=CHANNELS[b % 2], order_no=order_no, amount_cents=1000 + b * 37 + (c % 7 == 0) * 800_000,
                    member_id=member_id,
                    store_id=self.stores[c % 2] if c % 3 else None, coupon_ids=coupon_ids,
                    points_to_spend=100 if c % 4 == 1 else 0, balance_to_spend_cents=300 if c % 5 == 2 else 0),
                    tz=TZ)
                self.orders.append(order_no)
            except DomainError:
                pass  # not enough points or balance, a coupon that does not apply: nothing was written
            for cid in coupon_ids:
                if await Coupon.filter(id=cid, status="redeemed").exists():
                    self.coupons.remove((cid, member_id))
        elif kind == "refund" and self.orders:
            order_no = self.orders[b % len(self.orders)]
            row = await Order.get(order_no=order_no)
            channel = row.channel
            try:
                await orders.refund_order(channel=channel, order_no=order_no, amount_cents=1 + c * 13, reason="退货",
                                          refund_no=unique("R"))
            except DomainError:
                pass
        elif kind == "topup":
            await orders.topup(member_id=member_id, amount_cents=500 + b * 100, payment_ref=unique("PAY"),
                               store_id=self.stores[c % 2], channel="pos", tz=TZ)
        elif kind == "issue":
            template_id = self.templates[b % 2]
            async with in_transaction() as conn:
                coupon, _ = await coupons.issue(conn, template_id=template_id, member_id=member_id, source="admin"
                                                if c % 2 else "claim", source_ref=unique("b"), tz=TZ)
            self.coupons.append((coupon.id, member_id))
        elif kind == "message":
            await outbox.enqueue(member_id=member_id, template_key="welcome", dedupe_key=unique("m"), conn=None)
            if c % 2:
                await self.stack.dispatcher.drain()
        elif kind == "unsubscribe":
            await members.set_consents(member_id=member_id, changes={("sms", "marketing"): False}, source="sms_reply",
                                       text_version=None)
        elif kind == "later":
            self.advance(60 * (1 + b % 30) + (b % 10 == 0) * 32 * 24 * 60)  # now and then past the lots' expiry
            await orders.expire_due_points()
            await coupons.expire_due_coupons()
        self.advance(7)


operation = st.tuples(st.sampled_from(["register", "order", "order", "refund", "topup", "issue", "message",
                                       "unsubscribe", "later", "later"]),
                      st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))


async def _fresh(stack: Any) -> Shop:
    await _truncate_all()
    programs.forget()
    stack.clock.set(START)
    shop = Shop(stack)
    await shop.open()
    return shop


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.lists(operation, min_size=4, max_size=30), today_steps=st.lists(operation, max_size=6))
# Every path at least once: a top-up spent, a coupon used and one left to expire, a message sent, lots expired.
@example(steps=[("register", 0, 1, 1), ("topup", 0, 5, 0), ("issue", 0, 0, 1), ("issue", 0, 0, 0),
                ("order", 0, 0, 7), ("order", 0, 3, 2), ("message", 0, 0, 1), ("refund", 0, 0, 5),
                ("later", 0, 10, 0), ("order", 0, 4, 0)],
         today_steps=[("order", 0, 1, 1), ("topup", 0, 1, 1), ("message", 0, 0, 1)])
async def test_every_aggregate_equals_a_brute_force_count_of_the_base_rows(stack, steps, today_steps):
    shop = await _fresh(stack)
    for step in steps:
        await shop.run(step)
    # A day later, every day so far is closed: build them all and compare every row.
    shop.advance(24 * 60)
    now = stack.clock.now()
    current = _day(now)
    await build.rebuild_range(first=START.astimezone(ZONE).date() - timedelta(days=1), last=current, tz=ZONE)
    today_start, _ = build.day_bounds(current, ZONE)
    expected = await brute_force(before=today_start)
    assert await stored() == expected
    assert await stored_rollups() == expected_rollups(expected)
    await assert_rollup_reads_equal_fact_reads(read.Window(START.astimezone(ZONE).date() - timedelta(days=1),
                                                           current))
    # Today so far: the same SELECT over the base tables, read live.
    for step in today_steps:
        if step[0] != "later":
            await shop.run(step)
    current = _day(stack.clock.now())  # the steps may have gone past midnight
    today_start, _ = build.day_bounds(current, ZONE)
    reader = Reader(ZONE, Filters())
    live = await brute_force(before=stack.clock.now() + timedelta(microseconds=1), since=today_start)
    for name, fact in FACTS.items():
        assert live_keyed(name, await reader.live_rows(fact), current) == live[name], name
    # Today's steps may have refunded an order of a closed day in full: the job's increment rebuilds its day and
    # the days of the member's later orders; then every window's buyers are exact, today's part read live.
    for day in await build.due_days(tz=ZONE):
        await build.rebuild_day(day=day, tz=ZONE)
    await assert_buyers_equal_brute_force(shop, START.astimezone(ZONE).date(), current,
                                          stack.clock.now() + timedelta(microseconds=1))


async def _history(stack: Any, days: int = 3) -> Shop:
    shop = await _fresh(stack)
    for day in range(days):
        for n in range(4):
            await shop.run(("register", n + day, n, n))
            await shop.run(("order", n + day, n, n))
            await shop.run(("topup", n, n, n))
            await shop.run(("issue", n, n, n))
        shop.advance(24 * 60)
    return shop


def _migration(number: int) -> Any:
    """An aerich migration module of this repository, by its number."""
    import importlib.util
    from pathlib import Path

    path = next((Path(__file__).resolve().parents[2] / "migrations" / "models").glob(f"{number}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{number}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_days_built_before_the_rollups_get_them_from_their_fact_rows(stack):
    """Migration 22 (PostgreSQL) and the schema script at each start (SQLite) fill the rollups of the days built
    before them, and leave a database that has them alone."""
    from backend.analytics import models as analytics_models

    shop = await _history(stack)
    await build.rebuild_range(first=START.astimezone(ZONE).date(), last=_day(shop.stack.clock.now()), tz=ZONE)
    expected = expected_rollups(await stored())
    assert expected and await stored_rollups() == expected
    await db.fetch(f"DELETE FROM {rollups.TABLE}")
    assert await stored_rollups() == {}
    window = read.Window(START.astimezone(ZONE).date(), _day(shop.stack.clock.now()))
    if db.is_postgres():
        script = await _migration(22).upgrade(None)
    else:
        script = analytics_models.SQLITE_SCHEMA
    from tortoise import connections

    await connections.get("default").execute_script(script)
    assert await stored_rollups() == expected
    if not db.is_postgres():  # the next start adds nothing
        await connections.get("default").execute_script(script)
        assert await stored_rollups() == expected
    await assert_rollup_reads_equal_fact_reads(window)


async def test_rebuilding_a_day_twice_or_twice_at_once_leaves_the_same_rows(stack):
    await _history(stack)
    day = START.astimezone(ZONE).date()
    first = await build.rebuild_day(day=day, tz=ZONE)
    rows = await stored()
    assert first > 0
    assert await build.rebuild_day(day=day, tz=ZONE) == first
    assert await stored() == rows
    together = await asyncio.gather(*(build.rebuild_day(day=day, tz=ZONE) for _ in range(4)))
    assert together == [first] * 4
    assert await stored() == rows
    built = await db.fetch_one("SELECT rows FROM analytics_days WHERE day = $1",
                               day if db.is_postgres() else day.isoformat())
    assert built is not None and int(built["rows"]) == first


async def test_days_rebuilt_several_at_once_are_the_days_rebuilt_one_by_one(stack):
    shop = await _history(stack, days=4)
    first, last = START.astimezone(ZONE).date() - timedelta(days=1), _day(shop.stack.clock.now())
    one_by_one = await build.rebuild_range(first=first, last=last, tz=ZONE)
    rows, rolled = await stored(), await stored_rollups()
    await db.fetch(f"DELETE FROM {rollups.TABLE}")
    for fact in FACTS.values():
        await db.fetch(f"DELETE FROM {fact.table}")
    at_once = await build.rebuild_range(first=first, last=last, tz=ZONE, jobs=3)
    assert (at_once["days"], at_once["rows"]) == (one_by_one["days"], one_by_one["rows"]) == (5, one_by_one["rows"])
    assert await stored() == rows and await stored_rollups() == rolled
    with pytest.raises(ValueError):
        await build.rebuild_range(first=first, last=last, tz=ZONE, jobs=0)


async def test_the_job_builds_the_closed_days_once_and_then_only_what_changed(stack):
    from jobs import maintenance

    await _history(stack)
    result = await maintenance.run("analytics", settings=stack.settings, kv=stack.kv, owner="scheduler")
    assert result["outcome"] == "done", result
    current = _day(stack.clock.now())
    assert result["counts"]["days"] == (current - START.astimezone(ZONE).date()).days
    today_start, _ = build.day_bounds(current, ZONE)
    assert await stored() == await brute_force(before=today_start)
    # An order pushed late for the first day: the next run builds that day again, the days of the member's
    # later orders (their gaps to the previous order change) and yesterday.
    stack.clock.set(stack.clock.now() + timedelta(hours=1))
    member_id = (await Member.first()).id
    await orders.place_order(orders.OrderInput(channel="online", order_no=unique("L"), amount_cents=4321,
                                               member_id=member_id, placed_at=START + timedelta(hours=1)), tz=TZ)
    later = {_day(o.placed_at) for o in await Order.filter(member_id=member_id, placed_at__gt=START + timedelta(hours=1))}
    again = await maintenance.run("analytics", settings=stack.settings, kv=stack.kv, owner="scheduler")
    assert again["outcome"] == "done", again
    assert again["counts"]["days"] == len({_day(START), current - timedelta(days=1), *later} - {current})
    assert await stored() == await brute_force(before=today_start)


async def test_a_refund_in_full_or_a_late_order_rebuilds_the_days_of_the_members_later_orders(stack):
    shop = await _fresh(stack)
    await shop.run(("register", 0, 0, 0))
    member_id = shop.members[0]
    first = START.astimezone(ZONE).date()
    placed = []
    for _ in range(3):
        order_no = unique("B")
        await orders.place_order(orders.OrderInput(channel="pos", order_no=order_no, amount_cents=5000,
                                                   member_id=member_id), tz=TZ)
        placed.append(order_no)
        shop.advance(24 * 60)
    await build.rebuild_range(first=first, last=first + timedelta(days=2), tz=ZONE)
    lowest = (await programs.load(fresh=True)).tiers[0].code
    windows = [read.Window(first + timedelta(days=a), first + timedelta(days=b)) for a in range(3) for b in range(a, 3)]

    async def counted() -> list[dict[str, int]]:
        return await read.buyers(windows=windows, tz=ZONE, filters=Filters(), lowest=lowest)

    assert (await counted())[2] == {"buyers": 1, "repeat_buyers": 1, "orders": 3}  # the three days
    # The first order refunded in full: the second is now the first in the window, the third the second.
    await orders.refund_order(channel="pos", order_no=placed[0], amount_cents=5000, reason="退货",
                              refund_no=unique("R"))
    due = await build.due_days(tz=ZONE)
    assert set(due) >= {first, first + timedelta(days=1), first + timedelta(days=2)}
    for day in due:
        await build.rebuild_day(day=day, tz=ZONE)
    now = stack.clock.now() + timedelta(microseconds=1)
    assert await counted() == await brute_buyers(windows, before=now)
    assert (await counted())[2] == {"buyers": 1, "repeat_buyers": 1, "orders": 2}
    # An order pushed late for the first day: the member's later days again.
    shop.advance(60)
    await orders.place_order(orders.OrderInput(channel="online", order_no=unique("L"), amount_cents=4000,
                                               member_id=member_id, placed_at=START + timedelta(hours=1)), tz=TZ)
    for day in await build.due_days(tz=ZONE):
        await build.rebuild_day(day=day, tz=ZONE)
    assert await counted() == await brute_buyers(windows, before=stack.clock.now() + timedelta(microseconds=1))
    assert (await counted())[2] == {"buyers": 1, "repeat_buyers": 1, "orders": 3}


# -- HTTP -------------------------------------------------------------------------------------------------


async def _get(stack: Any, token: str, path: str, expect: int = 200, **params: Any) -> Any:
    response = await stack.http.get(f"{BASE}/{path}", params=params, headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else response


async def test_the_dashboard_answers_each_area_with_comparisons_and_series(stack):
    await _history(stack, days=3)
    _, admin = await make_staff(stack, role="admin")
    first = START.astimezone(ZONE).date()
    current = _day(stack.clock.now())
    await build.rebuild_range(first=first, last=current, tz=ZONE)
    window = {"from": first.isoformat(), "to": current.isoformat()}
    sales = await _get(stack, admin, "sales", **window)
    placed = await Order.filter(member_id__not_isnull=True).count()
    assert sales["figures"]["orders"]["value"] == placed
    assert sales["figures"]["orders"]["previous"] == 0
    assert sales["figures"]["orders"]["change"] is None  # a zero base: shown as —
    assert sales["figures"]["gmv_cents"]["value"] == sum(
        await Order.filter(member_id__not_isnull=True).values_list("amount_cents", flat=True))
    assert len(sales["series"]) == (current - first).days + 1
    assert sum(p["orders"] for p in sales["series"]) == placed
    assert sum(g["orders"] for g in sales["by_store"]) == placed
    assert sales["range"]["built_through"] == (current - timedelta(days=1)).isoformat()
    assert sales["range"]["live"] is True
    # Comparing with the day before: the window of one day has the previous day as its base.
    one = await _get(stack, admin, "sales", **{"from": (first + timedelta(days=1)).isoformat(),
                                               "to": (first + timedelta(days=1)).isoformat()})
    by_day = {p["day"]: p["orders"] for p in sales["series"]}
    assert one["figures"]["orders"]["value"] == by_day[(first + timedelta(days=1)).isoformat()]
    assert one["figures"]["orders"]["previous"] == by_day[first.isoformat()]
    members_ = await _get(stack, admin, "members", **window)
    assert members_["figures"]["new_members"]["value"] == await Member.all().count()
    assert members_["figures"]["total"]["value"] == await Member.filter(status="active").count()
    assert [step["step"] for step in members_["funnel"]] == ["registered", "first_order", "repeat_order"]
    counting = await Order.filter(member_id__not_isnull=True, status__not="refunded").values_list("member_id", flat=True)
    assert members_["figures"]["buyers"]["value"] == len(set(counting))
    assert members_["figures"]["active_30"]["value"] == len(set(counting))  # all within the last 30 days
    assert members_["figures"]["active_30"]["previous"] == 0  # none in the 30 days to the day before the window
    assert members_["figures"]["churn_risk"]["value"] == 0
    store = (await Order.filter(store_id__not_isnull=True).first()).store_id
    filtered = await _get(stack, admin, "sales", store=store, **window)
    assert filtered["figures"]["orders"]["value"] == await Order.filter(store_id=store).count()
    points = await _get(stack, admin, "points", **window)
    issued = sum(p for p in await PointsEntry.filter(kind__in=["earn", "bonus"]).values_list("points", flat=True))
    assert points["figures"]["issued"]["value"] == issued
    assert points["liability"]["liability_cents"] == points["liability"]["balance"] * 100 // 100
    assert points["figures"]["balance"]["value"] == points["liability"]["balance"]
    assert points["figures"]["balance"]["previous"] == 0  # nothing held before the first day
    first_end = build.day_bounds(first, ZONE)[1]
    day_one = {"from": first.isoformat(), "to": first.isoformat()}
    held = sum(await PointsEntry.filter(created_at__lt=first_end).values_list("points", flat=True))
    assert (await _get(stack, admin, "points", **day_one))["figures"]["balance"]["value"] == held
    wallet = await _get(stack, admin, "stored-value", **window)
    assert wallet["reconciliation"]["reconciled"] is True
    assert wallet["figures"]["outstanding_principal_cents"]["value"] == wallet["outstanding_principal_cents"]
    principal = sum(await WalletEntry.filter(created_at__lt=first_end).values_list("principal_cents", flat=True))
    one = await _get(stack, admin, "stored-value", **day_one)
    assert one["figures"]["outstanding_principal_cents"]["value"] == principal
    assert one["figures"]["outstanding_principal_cents"]["previous"] == 0
    assert sum(s["principal_cents"] for s in wallet["by_store_outstanding"]) == wallet["outstanding_principal_cents"]
    coupons_ = await _get(stack, admin, "coupons", **window)
    assert coupons_["figures"]["issued"]["value"] == await Coupon.all().count()
    # Issued coupons have no store: a store filter narrows the redemptions, not the issue.
    at_store = await _get(stack, admin, "coupons", store=store, **window)
    assert at_store["figures"]["issued"]["value"] == await Coupon.all().count()
    assert at_store["figures"]["redeemed"]["value"] == await Redemption.filter(store_id=store, status="done").count()
    assert sum(row["issued"] for row in at_store["by_template"]) == await Coupon.all().count()
    messages = await _get(stack, admin, "messages", **window)
    assert messages["figures"]["queued"]["value"] == await Message.all().count()
    overview = await _get(stack, admin, "overview", **window)
    assert overview["figures"]["orders"]["value"] == placed
    # The dashboard's headline figures are the areas' own.
    figures = overview["figures"]
    for name, area in (("active_30", members_), ("active_90", members_), ("repurchase_rate", members_),
                       ("buyers", members_)):
        assert figures[name] == area["figures"][name], name
    assert figures["points_balance"] == points["figures"]["balance"]
    assert figures["points_liability_cents"] == points["liability"]["liability_cents"]
    assert figures["outstanding_principal_cents"] == wallet["figures"]["outstanding_principal_cents"]
    assert figures["coupon_redemption_rate"] == coupons_["figures"]["redemption_rate"]
    assert [p["aov_cents"] for p in overview["series"]] == [p["aov_cents"] for p in sales["series"]]
    at_store_overview = (await _get(stack, admin, "overview", store=store, **window))["figures"]
    assert at_store_overview["orders"] == filtered["figures"]["orders"]
    assert at_store_overview["coupons_redeemed"] == at_store["figures"]["redeemed"]
    assert at_store_overview["messages_sent"] == figures["messages_sent"]  # messages have no store


async def test_member_totals_and_members_per_tier_count_the_active_members_only(stack):
    from backend.loyalty.models import LoyaltyAccount

    await _history(stack, days=2)
    _, admin = await make_staff(stack, role="admin")
    ids = await Member.all().order_by("id").values_list("id", flat=True)
    await Member.filter(id=ids[0]).update(status="merged")  # before the build: not among the new members
    first = START.astimezone(ZONE).date()
    current = _day(stack.clock.now())
    await build.rebuild_range(first=first, last=current, tz=ZONE)
    await Member.filter(id=ids[1]).update(status="deleted")  # after it: taken off the totals as it is read
    await LoyaltyAccount.filter(member_id__in=ids[1:4]).update(tier_code="silver")
    await LoyaltyAccount.filter(member_id=ids[4]).update(tier_code="diamond")
    window = {"from": first.isoformat(), "to": current.isoformat()}
    answer = await _get(stack, admin, "members", **window)
    active = await Member.filter(status="active").values_list("id", flat=True)
    assert answer["figures"]["total"]["value"] == len(active)
    assert answer["figures"]["total"]["previous"] == 0
    tiers = dict(await LoyaltyAccount.filter(member_id__in=active).values_list("member_id", "tier_code"))
    expected = {code: sum(1 for m in active if (tiers.get(m) or "normal") == code)
                for code in ("normal", "silver", "gold", "diamond")}
    assert {row["key"]: row["members"] for row in answer["by_tier"]} == expected
    assert expected["silver"] == 2 and expected["diamond"] == 1
    # Filtered by where they registered, the totals are the same count.
    store = (await Member.filter(id__in=active, registration_store_id__not_isnull=True).first()).registration_store_id
    filtered = await _get(stack, admin, "members", store=store, **window)
    assert filtered["figures"]["total"]["value"] == await Member.filter(status="active",
                                                                        registration_store_id=store).count()
    overview = await _get(stack, admin, "overview", **window)
    assert overview["figures"]["members"]["value"] == len(active)


async def test_bad_windows_are_refused_with_their_codes(stack):
    _, admin = await make_staff(stack, role="admin")
    answer = await _get(stack, admin, "sales", 422, **{"from": "2026-03-05", "to": "2026-03-01"})
    assert answer["error"]["code"] == "ANALYTICS_RANGE_INVALID"
    answer = await _get(stack, admin, "members", 422, **{"from": "2025-01-01", "to": "2026-03-01"})
    assert answer["error"]["code"] == "ANALYTICS_RANGE_TOO_LONG"
    assert answer["error"]["details"]["max_days"] == 366
    assert (await _get(stack, admin, "points", 200, **{"from": "2025-03-01", "to": "2026-03-01"}))["range"]["days"] == 366
    answer = await _get(stack, admin, "coupons", 400, **{"from": "2026-03-01T00:00:00Z"})
    assert answer["error"]["code"] == "VALIDATION_FAILED"


async def test_marketers_and_admins_may_read_clerks_may_not(stack):
    _, clerk = await make_staff(stack)
    _, marketer = await make_staff(stack, role="marketer")
    _, admin = await make_staff(stack, role="admin")
    for path in ("overview", "members", "sales", "points", "stored-value", "coupons", "messages"):
        await _get(stack, marketer, path)
        await _get(stack, admin, path)
        assert (await _get(stack, clerk, path, 403))["error"]["code"] == "FORBIDDEN"
    response = await stack.http.get(f"{BASE}/sales")
    assert response.status_code == 401


async def test_an_unknown_touch_is_not_found(stack):
    _, marketer = await make_staff(stack, role="marketer")
    assert (await _get(stack, marketer, "touches/999999", 404))["error"]["code"] == "TOUCH_NOT_FOUND"


def test_the_lift_interval_is_the_two_proportion_test():
    tested = lift.two_proportions(120, 1000, 80, 1000)
    assert tested["lift"] == 0.04
    # se = sqrt(.12*.88/1000 + .08*.92/1000) = 0.013342
    assert (tested["ci_low"], tested["ci_high"]) == (0.0138, 0.0662)
    assert tested["significant"] is True and tested["p_value"] < 0.01
    noise = lift.two_proportions(11, 100, 10, 100)
    assert noise["ci_low"] < 0 < noise["ci_high"] and noise["significant"] is False
    assert lift.two_proportions(5, 10, 0, 0)["lift"] is None


async def test_each_table_exports_as_csv_and_xlsx_with_the_filters_and_is_audited(stack):
    import openpyxl

    await _history(stack, days=2)
    _, admin = await make_staff(stack, role="admin")
    first = START.astimezone(ZONE).date()
    current = _day(stack.clock.now())
    await build.rebuild_range(first=first, last=current, tz=ZONE)
    window = {"from": first.isoformat(), "to": current.isoformat()}
    for path, table in (("members", "analytics_member_days"), ("sales", "analytics_sales_days"),
                        ("points", "analytics_points_days"), ("stored-value", "analytics_wallet_days"),
                        ("coupons", "analytics_coupon_days"), ("messages", "analytics_message_days")):
        response = await _get(stack, admin, f"{path}/export", **window)
        assert response.content.startswith(codecs.BOM_UTF8)
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        assert rows[0][0] == "日期"
        closed = await db.fetch(f"SELECT COUNT(*) AS n FROM {table}")
        assert len(rows) - 1 >= int(closed[0]["n"]), path
        book = await _get(stack, admin, f"{path}/export", format="xlsx", **window)
        sheet = openpyxl.load_workbook(io.BytesIO(book.content), read_only=True).worksheets[0]
        assert len(list(sheet.iter_rows(values_only=True))) == len(rows)
    store = (await Order.filter(store_id__not_isnull=True).first()).store_id
    response = await _get(stack, admin, "sales/export", store=store, **window)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    orders_ = sum(int(row[rows[0].index("订单数")]) for row in rows[1:])
    assert orders_ == await Order.filter(store_id=store, member_id__not_isnull=True).count()
    audits = await AuditLog.filter(action="export.analytics_sales").order_by("id")
    for _ in range(50):  # the audit row is finished after the file's last chunk went out: the client may be first
        if audits[-1].after.get("rows") is not None:
            break
        await asyncio.sleep(0.05)
        audits = await AuditLog.filter(action="export.analytics_sales").order_by("id")
    assert len(audits) == 3 and audits[-1].after["filters"]["store_id"] == store
    assert audits[-1].after["rows"] == len(rows) - 1
    # A table as the page shows it: the answer's rows, its columns, under the same filters.
    for path, table, heading in (("sales", "by_store", "销售额"), ("sales", "series", "日期"),
                                 ("members", "funnel", "占上一步"), ("coupons", "by_template", "核销率"),
                                 ("messages", "by_channel", "已发送"), ("stored-value", "by_store_outstanding", "本金")):
        answer = await _get(stack, admin, path, **window)
        response = await _get(stack, admin, f"{path}/export", table=table, **window)
        got = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        assert heading in got[0], (path, table, got[0])
        assert len(got) - 1 == len(answer[table]), (path, table)
        if "label" in answer[table][0]:
            assert [row[got[0].index("名称")] for row in got[1:]] == [row["label"] for row in answer[table]]
    by_store = await _get(stack, admin, "sales/export", table="by_store", store=store, **window)
    got = list(csv.reader(io.StringIO(by_store.content.decode("utf-8-sig"), newline="")))
    assert [row[got[0].index("代码")] for row in got[1:]] == [str(store)]
    assert (await _get(stack, admin, "coupons/export", 400, table="funnel", **window))["error"]["code"] == \
        "VALIDATION_FAILED"


async def test_a_touch_shows_its_funnel_and_its_lift_against_the_hold_out(stack, every_message_ends_final):
    from tests.integration.test_touches import act, run, segment, touch
    from tests.notify_helpers import add_promo, admin_token, shopper

    admin = await admin_token(stack)
    await add_promo(stack, admin)
    shoppers = [(await shopper(stack, sms_marketing=True))[0] for _ in range(30)]
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience}, channels=["sms"], holdout_pct=30)
    await act(stack, admin, created["id"], "schedule")
    await run(stack, created["id"])
    await stack.dispatcher.drain()
    stack.clock.set(stack.clock.now() + timedelta(hours=1))
    for member_id in shoppers[::2]:
        await orders.place_order(orders.OrderInput(channel="pos", order_no=unique("T"), amount_cents=5000,
                                                   member_id=member_id), tz=TZ)
    stats = (await stack.http.get(f"/api/v1/admin/touches/{created['id']}/stats", headers=bearer(admin))).json()
    answer = await _get(stack, admin, f"touches/{created['id']}")
    assert {step["step"]: step["count"] for step in answer["funnel"]} == stats["funnel"]
    assert answer["funnel"][0]["rate"] == 1.0
    treatment, holdout = stats["conversions"]["treatment"], stats["conversions"]["holdout"]
    assert answer["treatment"]["members"] + answer["holdout"]["members"] == 30
    assert answer["lift"] == lift.two_proportions(treatment["converted"], treatment["members"],
                                                  holdout["converted"], holdout["members"])


async def test_the_scheduler_builds_the_analytics_every_hour(stack):
    from datetime import UTC

    from jobs.scheduler import Host

    desired = await Host(stack.settings, stack.kv).desired()
    trigger = desired["maintenance:analytics"][0]
    first = trigger.get_next_fire_time(None, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert (first.minute, second - first) == (7, timedelta(hours=1))
