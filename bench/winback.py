"""What the ``fanout`` benchmark runs on: a generated member base, a dormant win-back touch over it, the bare
``INSERT … SELECT`` of the same outbox rows, and the checks of what a run wrote.

Shared by ``python -m bench fanout`` (a million members, ``bench/benchmarks/fanout.py``) and
tests/integration/test_fanout.py (ten thousand). The data set is written with set-based SQL
(``generate_series``) on one asyncpg connection; the message template, the coupon template, the segment
and the touch are made through the project's services, as a marketer's console makes them.

Every member's profile is a function of its id (``hashint8extended(id, seed)``, one seed per trait), so a
run is reproducible and the traits are independent of each other and of the touch's hold-out split.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from backend.coupons.terms import Terms
from backend.kv import KV
from backend.loyalty import order_stats
from notifications.templates import Content, SmsContent, TemplateDoc

DORMANT_DAYS = 90  # the segment: ordered before, but not within this many days
HOLDOUT_PCT = 10
# Shares of the generated members, by the trait's bucket (0-99) of their id:
DORMANT_PCT = 20  # last order 100 to 760 days ago: the win-back audience
ACTIVE_PCT = 60  # an order within the last 85 days (half of them an older one too); the rest never ordered
DELETED_PCT = 1  # deleted accounts, whatever their orders: never reached
REFUNDED_PCT = 5  # of the active members: their recent order refunded in full (it does not count)
SMS_GRANTED_PCT = 70  # SMS marketing consent granted; the next 15 % withdrew it, the rest never answered
SMS_WITHDRAWN_PCT = 15

TEMPLATE_KEY = "bench_winback"
WINBACK = TemplateDoc(name="沉睡会员唤醒", purpose="marketing", channels=["sms"], content=Content(sms=SmsContent(
    template_id="400002", params=["{{ member.name }}"],
    text="{{ member.name }}，好久不见，回归礼券已放入您的账户，30 天内有效。拒收请回复R")))
COUPON_TERMS = Terms(kind="amount_off", min_spend_cents=10000, amount_off_cents=2000, valid_days=30)
RULE = {"all": [{"field": "orders.count", "op": "gte", "value": 1},
                {"field": "orders.last_order", "op": "not_within_days", "value": DORMANT_DAYS}]}
# Nothing is sent in this benchmark: a phone on file is all a member needs to be an SMS recipient.
PHONE_ENC = "bench-not-a-ciphertext"


def _hash(seed: int, column: str = "i") -> str:
    """A non-negative 63-bit hash of the member id, one stream per ``seed``."""
    return f"(hashint8extended({column}, {seed}) & 9223372036854775807)"


def _bucket(seed: int, column: str = "i") -> str:
    """A member's bucket 0-99 for one trait: independent of the other traits and of the hold-out hash."""
    return f"(({_hash(seed, column)}) % 100)"


# The member traits by id ``i``: ``b`` orders, ``d`` a spread of days, ``c`` consent, ``x`` a deleted account,
# ``r`` a refunded recent order.
_TRAITS = (f"SELECT i, {_bucket(1)} AS b, {_hash(2)} AS d, {_bucket(3)} AS c, "
           f"{_bucket(4)} < {DELETED_PCT} AS x, {_bucket(5)} < {REFUNDED_PCT} AS r "
           "FROM generate_series($1::bigint, $2::bigint) AS i")
_MEMBERS = (
    "INSERT INTO members (id, member_no, status, phone_enc, phone_prefix3, phone_last4, nickname, gender, "
    "custom_fields, referral_code, registration_channel, registered_at, deleted_at, updated_at) "
    "SELECT i, 'F' || lpad(i::text, 10, '0'), CASE WHEN x THEN 'deleted' ELSE 'active' END, "
    f"CASE WHEN x THEN NULL ELSE '{PHONE_ENC}' END, CASE WHEN x THEN NULL ELSE '139' END, "
    "CASE WHEN x THEN NULL ELSE lpad((i % 10000)::text, 4, '0') END, '会员' || i, "
    "(ARRAY['female', 'male', 'unknown'])[1 + (d % 3)::int], '{}', 'F' || i, "
    "(ARRAY['pos', 'miniprogram', 'online'])[1 + (d % 3)::int], "
    "$3::timestamptz - make_interval(days => 800 + (d % 400)::int), "
    "CASE WHEN x THEN $3::timestamptz END, $3::timestamptz "
    f"FROM ({_TRAITS}) t")
_ACCOUNTS = ("INSERT INTO loyalty_accounts (member_id, points_balance, updated_at) "
             f"SELECT i, d % 5000, $3::timestamptz FROM ({_TRAITS}) t")
_CONSENTS = (
    "INSERT INTO member_consents (member_id, channel, purpose, granted, source, text_version, updated_at) "
    f"SELECT i, 'sms', 'marketing', c < {SMS_GRANTED_PCT}, 'pos', '2026-01', $3::timestamptz "
    f"FROM ({_TRAITS}) t WHERE c < {SMS_GRANTED_PCT + SMS_WITHDRAWN_PCT}")
# A dormant member: one or two orders 100 to 760 days ago; an active one: an order within 85 days and, for
# half of them, one 200 to 500 days ago. An active member's recent order is refunded in full for
# REFUNDED_PCT of them: it does not count, so those with an older order are dormant too.
_ORDERS = (
    "INSERT INTO orders (channel, order_no, member_id, request_hash, amount_cents, refunded_cents, status, items, "
    "receipt, placed_at, created_at) "
    "SELECT 'pos', 'F' || t.i || '-' || o.k, t.i, 'bench', 5000 + t.d % 20000, "
    "CASE WHEN o.refunded THEN 5000 + t.d % 20000 ELSE 0 END, "
    "CASE WHEN o.refunded THEN 'refunded' ELSE 'placed' END, "
    "'[]', '{}', o.at, o.at "
    f"FROM ({_TRAITS}) t CROSS JOIN LATERAL ("
    f"SELECT 1 AS k, $3::timestamptz - make_interval(days => CASE WHEN t.b < {DORMANT_PCT} "
    "THEN 100 + (t.d % 600)::int ELSE 1 + (t.d % 85)::int END) AS at, "
    f"t.b >= {DORMANT_PCT} AND t.r AS refunded WHERE t.b < {DORMANT_PCT + ACTIVE_PCT} UNION ALL "
    f"SELECT 2, $3::timestamptz - make_interval(days => CASE WHEN t.b < {DORMANT_PCT} "
    "THEN 160 + (t.d % 600)::int ELSE 200 + (t.d % 300)::int END), false "
    f"WHERE t.b < {DORMANT_PCT + ACTIVE_PCT} AND t.d % 2 = 0) o")


@dataclass(frozen=True)
class DataSet:
    first_id: int
    last_id: int
    orders: int
    refunded: int  # orders refunded in full
    consents: int
    seconds: float

    @property
    def members(self) -> int:
        return self.last_id - self.first_id + 1


async def generate(conn: asyncpg.Connection, *, members: int, now: datetime) -> DataSet:
    """``members`` members after the highest id there is, with loyalty accounts, SMS marketing consents,
    orders (see the shares above) and the order figures they leave, then ``VACUUM ANALYZE``d as a long-lived
    database would be."""
    started = time.monotonic()
    first = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM members")) + 1
    last = first + members - 1
    async with conn.transaction():
        await conn.execute(_MEMBERS, first, last, now)
        await conn.execute("SELECT setval(pg_get_serial_sequence('members', 'id'), $1)", last)
        await conn.execute(_ACCOUNTS, first, last, now)
        consents = int((await conn.execute(_CONSENTS, first, last, now)).split()[-1])
        orders = int((await conn.execute(_ORDERS, first, last, now)).split()[-1])
        await fill_order_stats(conn, first, last)
    await conn.execute("VACUUM ANALYZE members, loyalty_accounts, member_consents, orders, member_order_stats")
    seconds = time.monotonic() - started
    refunded = await conn.fetchval("SELECT count(*) FROM orders WHERE member_id BETWEEN $1 AND $2 "
                                   "AND status = 'refunded'", first, last)
    return DataSet(first_id=first, last_id=last, orders=orders, refunded=int(refunded), consents=consents,
                   seconds=seconds)


async def fill_order_stats(conn: asyncpg.Connection, first: int, last: int) -> None:
    """The order figures of members ``first``…``last`` as their orders leave them when placed and refunded one
    by one (the product's own statement, ``backend.loyalty.order_stats``): segment rules read them."""
    upsert, _ = order_stats.statements("{col} >= $1 AND {col} <= $2")
    await conn.execute(upsert, first, last)


@dataclass(frozen=True)
class WinBack:
    touch_id: int
    segment_id: int
    coupon_template_id: int
    touch_name: str


async def prepare_touch(*, now: datetime, name: str = "沉睡会员唤醒") -> WinBack:
    """The message template, an active coupon template (unlimited stock), the segment and the touch,
    scheduled at ``now``: through the services the console uses (the ORM connected to the database)."""
    from backend import audit
    from backend.coupons import service as coupons
    from jobs import segments, service, touches
    from notifications import templates

    await templates.create(TEMPLATE_KEY, WINBACK, actor=audit.SYSTEM)
    coupon = await coupons.create_template(
        name="回归礼券", description="沉睡会员唤醒", terms=COUPON_TERMS, total_stock=None, per_member_limit=None,
        per_member_daily_limit=None, claimable=False, claim_tiers=[], actor=audit.SYSTEM)
    await coupons.set_status(template_id=coupon.id, status="active", actor=audit.SYSTEM)
    segment = await segments.create(name="沉睡会员", rule=RULE, description=f"下过单，但近 {DORMANT_DAYS} 天没有下单",
                                    actor=audit.SYSTEM)
    touch = await service.create_touch(touches.TouchDoc(
        name=name, audience=touches.TouchAudience(segment_id=segment.id), channels=["sms"], template_key=TEMPLATE_KEY,
        coupon_template_id=coupon.id, schedule=touches.TouchSchedule(at=now), holdout_pct=HOLDOUT_PCT), audit.SYSTEM)
    await service.change_state(touch.id, "schedule", audit.SYSTEM)
    return WinBack(touch_id=touch.id, segment_id=segment.id, coupon_template_id=coupon.id, touch_name=name)


async def run_touch(winback: WinBack, *, kv: KV, tz: ZoneInfo, now: datetime, owner: str = "bench",
                    parallel: int = 1) -> tuple[float, dict[str, Any]]:
    """``jobs.service.run_touch`` as the scheduler calls it: its seconds and its result."""
    from jobs import service

    started = time.monotonic()
    result = await service.run_touch(winback.touch_id, kv=kv, owner=owner, tz=tz, now=now, parallel=parallel)
    return time.monotonic() - started, result


# -- the hand-written audience and the baseline -------------------------------------------------------

# The segment's condition written by hand: an active member with an order, none since the cut-off; orders
# refunded in full do not count.
AUDIENCE = ("FROM members m WHERE m.status = 'active' "
            "AND EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.status <> 'refunded') "
            "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.status <> 'refunded' "
            "AND o.placed_at >= $1)")
# jobs.touches.holdout_sql, written out for the touch ($2)
HOLDOUT = f"((m.id * 7919 + $2::bigint * 104729) % 100) < {HOLDOUT_PCT}"
BASELINE_TABLE = "bench_messages"
_BASELINE = (
    f"INSERT INTO {BASELINE_TABLE} (member_id, template_key, purpose, channels, status, dedupe_key, touch_id, "
    "context, cap_behaviour, attempts, due_at, expires_at, created_at, updated_at) "
    "SELECT m.id, $3, 'marketing', '[\"sms\"]', 'queued', $4::text || m.id, $2, $5::jsonb, 'drop', 0, "
    "$6, NULL, $6, $6 "
    f"{AUDIENCE} AND NOT {HOLDOUT}")
# What the two must agree on: every column the touch run writes (the ids come from a sequence).
COMPARED = ("member_id, template_key, purpose, channels, status, dedupe_key, touch_id, context, cap_behaviour, "
            "attempts, due_at, expires_at, created_at, updated_at")


def cutoff(now: datetime) -> datetime:
    return now - timedelta(days=DORMANT_DAYS)


async def expected(conn: asyncpg.Connection, winback: WinBack, *, now: datetime) -> tuple[int, int]:
    """The audience and its hold-out as the hand-written condition counts them (also warms the cache)."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS audience, count(*) FILTER (WHERE {HOLDOUT}) AS holdout {AUDIENCE}",
        cutoff(now), winback.touch_id)
    return int(row["audience"]), int(row["holdout"])


async def create_baseline_table(conn: asyncpg.Connection) -> None:
    """An empty copy of the outbox with its indexes and constraints, for the baseline to write into."""
    await conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
    await conn.execute(f"CREATE TABLE {BASELINE_TABLE} (LIKE messages INCLUDING ALL)")


async def insert_select(conn: asyncpg.Connection, winback: WinBack, *, now: datetime) -> tuple[float, int]:
    """The baseline: one ``INSERT … SELECT`` of the touch's outbox rows into the copy. Seconds and rows."""
    context = json.dumps({"touch_id": winback.touch_id, "touch_name": winback.touch_name}, ensure_ascii=False)
    started = time.monotonic()
    status = await conn.execute(_BASELINE, cutoff(now), winback.touch_id, TEMPLATE_KEY,
                                f"touch:{winback.touch_id}:once:", context, now)
    return time.monotonic() - started, int(status.split()[-1])


# The rows a touch writes, by table: what the all-rows baseline copies (into bench_<table>).
WRITTEN = (
    ("touch_recipients", "touch_id = $1", "touch"),
    ("coupons", "template_id = $1", "template"),
    ("member_events", "type = 'coupon_issued' AND (payload->>'template_id')::bigint = $1", "template"),
    ("messages", "touch_id = $1", "touch"),
)


async def copy_written(conn: asyncpg.Connection, winback: WinBack) -> tuple[float, int]:
    """The second baseline: every row the touch wrote (recipients, coupons, their timeline events, outbox rows)
    copied by one ``INSERT … SELECT`` per table into an empty copy of it with its indexes and constraints,
    in one transaction. The rows are read first, so neither a cold cache nor the selection is timed: what is
    left is the cost of writing those rows, which the touch cannot avoid. Seconds and rows."""
    for table, where, key in WRITTEN:
        await conn.execute(f"DROP TABLE IF EXISTS bench_{table}")
        await conn.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", _key(key, winback))
    await conn.execute("CHECKPOINT")
    rows = 0
    started = time.monotonic()
    async with conn.transaction():
        for table, where, key in WRITTEN:
            status = await conn.execute(f"INSERT INTO bench_{table} SELECT * FROM {table} WHERE {where}",
                                        _key(key, winback))
            rows += int(status.split()[-1])
    seconds = time.monotonic() - started
    for table, _, _ in WRITTEN:
        await conn.execute(f"DROP TABLE bench_{table}")
    return seconds, rows


def _key(key: str, winback: WinBack) -> int:
    return winback.touch_id if key == "touch" else winback.coupon_template_id


# -- what a run wrote ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    recipients: int
    holdout: int
    treatment: int
    coupons: int
    messages: int
    events: int  # coupon_issued timeline rows of the template
    issued_count: int  # the template's counter
    without_consent: int  # messages the worker will end as no_consent (SMS marketing not granted)

    def line(self) -> str:
        return (f"recipients={self.recipients} holdout={self.holdout} treatment={self.treatment} "
                f"coupons={self.coupons} messages={self.messages}")


async def outcome(conn: asyncpg.Connection, winback: WinBack) -> Outcome:
    """What the touch left in the database."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM touch_recipients WHERE touch_id = $1) AS recipients, "
        "(SELECT count(*) FROM touch_recipients WHERE touch_id = $1 AND grp = 'holdout') AS holdout, "
        "(SELECT count(*) FROM touch_recipients WHERE touch_id = $1 AND grp = 'treatment') AS treatment, "
        "(SELECT count(*) FROM coupons WHERE template_id = $2) AS coupons, "
        "(SELECT count(*) FROM messages WHERE touch_id = $1) AS messages, "
        "(SELECT count(*) FROM member_events WHERE type = 'coupon_issued' "
        " AND (payload->>'template_id')::bigint = $2) AS events, "
        "(SELECT issued_count FROM coupon_templates WHERE id = $2) AS issued_count, "
        "(SELECT count(*) FROM messages g WHERE g.touch_id = $1 AND NOT EXISTS (SELECT 1 FROM member_consents c "
        " WHERE c.member_id = g.member_id AND c.channel = 'sms' AND c.purpose = 'marketing' AND c.granted)) "
        " AS without_consent",
        winback.touch_id, winback.coupon_template_id)
    return Outcome(**{name: int(value) for name, value in row.items()})


async def problems(conn: asyncpg.Connection, winback: WinBack, *, now: datetime, baseline: bool) -> list[str]:
    """Everything that disagrees with one message and one coupon per treated member, nothing for the hold-out,
    the hand-written audience, and (``baseline``) the baseline's rows. Empty when all is well."""
    got = await outcome(conn, winback)
    audience, holdout = await expected(conn, winback, now=now)
    found = []
    if (got.recipients, got.holdout) != (audience, holdout):
        found.append(f"{got.recipients} recipients ({got.holdout} held out) where the hand-written condition "
                     f"selects {audience} ({holdout})")
    if not got.coupons == got.messages == got.treatment == got.issued_count == got.events:
        found.append(f"{got.treatment} treated members, {got.messages} messages, {got.coupons} coupons "
                     f"(counter {got.issued_count}, {got.events} coupon_issued events): not all equal")
    treated = "SELECT member_id FROM touch_recipients WHERE touch_id = $1 AND grp = 'treatment'"
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM (SELECT member_id FROM messages WHERE touch_id = $1 GROUP BY member_id "
        " HAVING count(*) > 1) d) AS doubled_messages, "
        "(SELECT count(*) FROM (SELECT member_id FROM coupons WHERE template_id = $2 GROUP BY member_id "
        " HAVING count(*) > 1) d) AS doubled_coupons, "
        f"(SELECT count(*) FROM (SELECT member_id FROM messages WHERE touch_id = $1 EXCEPT {treated}) d) "
        " AS stray_messages, "
        f"(SELECT count(*) FROM (SELECT member_id FROM coupons WHERE template_id = $2 EXCEPT {treated}) d) "
        " AS stray_coupons, "
        "(SELECT count(*) FROM (SELECT member_id FROM touch_recipients WHERE touch_id = $1 GROUP BY member_id "
        " HAVING count(*) > 1) d) AS doubled_recipients",
        winback.touch_id, winback.coupon_template_id)
    found += [f"{n} {name.replace('_', ' ')}" for name, n in row.items() if n]
    if baseline:
        differ = await conn.fetchrow(
            f"SELECT (SELECT count(*) FROM (SELECT {COMPARED} FROM messages WHERE touch_id = $1 "
            f"EXCEPT ALL SELECT {COMPARED} FROM {BASELINE_TABLE}) d) AS only_project, "
            f"(SELECT count(*) FROM (SELECT {COMPARED} FROM {BASELINE_TABLE} "
            f"EXCEPT ALL SELECT {COMPARED} FROM messages WHERE touch_id = $1) d) AS only_baseline",
            winback.touch_id)
        if differ["only_project"] or differ["only_baseline"]:
            found.append(f"the outbox rows differ: {differ['only_project']} only in messages, "
                         f"{differ['only_baseline']} only in {BASELINE_TABLE}")
    return found
