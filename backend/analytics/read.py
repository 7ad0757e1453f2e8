"""The dashboard reads: sums over the daily aggregates for a window of merchant days, today's part read live
from the base tables with the same SELECT, and the member-state figures that only the base tables know.

Every figure comes with the same figure for the previous period of equal length (环比) and for the same days a
year earlier (同比), and their ratios ``(value - base) / base``, null when the base is zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend import clock, db
from backend.analytics import buyers as buyer_rows
from backend.analytics import rollups
from backend.analytics.build import day_bounds, lowest_tier, today
from backend.analytics.errors import MAX_DAYS
from backend.analytics.facts import FACTS, Fact

CHURN_DAYS = 90  # a member who ordered in the last year, but not in this many days, is at risk of churning
EXPIRING_DAYS = (30, 60, 90)
# Figures read from the base tables (today's live rows, member-state and finance figures) are kept this many
# seconds per process and per question: a dashboard opened by several people, or again, reads them once a
# minute. Exact distinct counts over a window (buyers, repurchase) cost a pass over the window's orders (seconds
# at 10 million orders); the aggregates answer everything else. Tests set it to 0.
CACHE_S = 60.0
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}


def cached(func: Any) -> Any:
    """Keep ``func``'s answer for CACHE_S seconds per keyword arguments (their repr is the key)."""
    import functools
    import time

    @functools.wraps(func)
    async def wrapper(**kwargs: Any) -> Any:
        if CACHE_S <= 0:
            return await func(**kwargs)
        key = (func.__name__, repr(sorted(kwargs.items())))
        now = time.monotonic()
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await func(**kwargs)
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now + CACHE_S, value)
        return value

    return wrapper


def anchor() -> datetime:
    """The end of the current minute: the instant base-table figures are as of (everything written so far
    counts, and the answers within a minute ask the cache the same question)."""
    return clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Window:
        return Window(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def last_year(self) -> Window:
        return Window(_year_back(self.first), _year_back(self.last))

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Filters:
    store_id: int | None = None
    channel: str | None = None
    tier: str | None = None
    template_id: int | None = None
    purpose: str | None = None

    def applying(self, fact: Fact) -> dict[str, Any]:
        """The filters that apply to the fact's dimensions, as column -> value."""
        given = {"store_id": self.store_id, "channel": self.channel, "tier": self.tier,
                 "template_id": self.template_id, "purpose": self.purpose}
        return {column: value for column, value in given.items() if value is not None and column in fact.dims}


def ratio(value: float | int | None, base: float | int | None) -> float | None:
    """(value - base) / base, rounded to 4 places; None when there is no base (the console shows "—")."""
    if value is None or not base:
        return None
    return round((value - base) / base, 4)


def share(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def figure(value: Any, previous: Any, last_year: Any) -> dict[str, Any]:
    return {"value": value, "previous": previous, "last_year": last_year,
            "change": ratio(value, previous), "yoy": ratio(value, last_year)}


def _param(day: date) -> Any:
    return day.isoformat() if not db.is_postgres() else day


@dataclass
class Reader:
    """One request's reads: today's live rows are computed once per fact and reused by every sum."""

    tz: ZoneInfo
    filters: Filters
    use_rollups: bool = True  # False: every closed day from the fact tables (the tests' reference)
    _live: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lowest: str | None = None

    async def lowest(self) -> str:
        if self._lowest is None:
            self._lowest = await lowest_tier()
        return self._lowest

    async def live_rows(self, fact: Fact) -> list[dict[str, Any]]:
        """Today so far, from the base tables: the rebuild's SELECT over [today's start, now)."""
        if fact.name not in self._live:
            self._live[fact.name] = await _live(name=fact.name, day=today(self.tz), tz=str(self.tz),
                                                lowest=await self.lowest())
        return self._live[fact.name]

    async def sums(self, fact: Fact, window: Window, group: str | None = None,
                   filters: Filters | None = None) -> dict[Any, dict[str, int]]:
        """The fact's measures summed over the window, per value of ``group`` (a dimension or ``day``), or
        under the key None for the whole window."""
        applying = (filters or self.filters).applying(fact)
        out: dict[Any, dict[str, int]] = {}
        current = today(self.tz)
        closed_last = min(window.last, current - timedelta(days=1))
        if window.first <= closed_last:
            chosen = rollups.route(fact, applying, group) if self.use_rollups else None
            if chosen is not None:
                out = await _closed_rollups(fact, chosen, window.first, closed_last)
            else:
                out = await _closed_facts(fact, applying, group, window.first, closed_last)
        if window.first <= current <= window.last:
            for row in await self.live_rows(fact):
                if any(row[column] != value for column, value in applying.items()):
                    continue
                k = current if group == "day" else (row[group] if group else None)
                into = out.setdefault(k, dict.fromkeys(fact.measures, 0))
                for m in fact.measures:
                    into[m] += row[m]
        return out

    async def totals(self, fact: Fact, window: Window) -> dict[str, int]:
        return (await self.sums(fact, window)).get(None) or dict.fromkeys(fact.measures, 0)

    async def compared(self, fact: Fact, window: Window) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """The totals of the window, the previous period and the same days a year earlier."""
        return (await self.totals(fact, window), await self.totals(fact, window.previous()),
                await self.totals(fact, window.last_year()))

    async def series(self, fact: Fact, window: Window) -> list[tuple[date, dict[str, int]]]:
        """Every day of the window in order, zeros where nothing happened."""
        by_day = await self.sums(fact, window, "day")
        zero = dict.fromkeys(fact.measures, 0)
        return [(day, by_day.get(day, zero)) for day in window.each_day()]


async def _closed_rollups(fact: Fact, chosen: rollups.Route, first: date, last: date) -> dict[Any, dict[str, int]]:
    """Closed days' sums from the rollups (``backend.analytics.rollups``)."""
    args: list[Any] = [fact.name, chosen.dim, _param(first), _param(last)]
    if chosen.value is not None:
        args.append(chosen.value)
    out: dict[Any, dict[str, int]] = {}
    for row in await db.fetch(rollups.sums_sql(fact, chosen), *args):
        if chosen.key is None and row[fact.measures[0]] is None:
            continue  # no rows: SUM over nothing
        k = (db.to_date(row["k"]) if chosen.key == "day" else
             rollups.value_of(chosen.dim, row["k"]) if chosen.key == "value" else None)
        out[k] = {m: int(row[m] or 0) for m in fact.measures}
    return out


async def _closed_facts(fact: Fact, applying: dict[str, Any], group: str | None, first: date, last: date
                        ) -> dict[Any, dict[str, int]]:
    """Closed days' sums from the fact table: every combination of dimensions of every day."""
    key = group or "NULL"
    where = ["day >= $1", "day <= $2"]
    args: list[Any] = [_param(first), _param(last)]
    for column, value in applying.items():
        args.append(value)
        where.append(f"{column} = ${len(args)}")
    sums = ", ".join(f"SUM({m}) AS {m}" for m in fact.measures)
    grouping = f" GROUP BY {group}" if group else ""
    out: dict[Any, dict[str, int]] = {}
    for row in await db.fetch(f"SELECT {key} AS k, {sums} FROM {fact.table} WHERE {' AND '.join(where)}{grouping}",
                              *args):
        k = db.to_date(row["k"]) if group == "day" else (row["k"] if group else None)
        if not group and row[fact.measures[0]] is None:
            continue  # no rows: SUM over nothing
        out[k] = {m: int(row[m] or 0) for m in fact.measures}
    return out


@dataclass
class SplitReader(Reader):
    """A Reader for a fact some of whose measures have no store or channel (a tier change; a coupon issued or
    expired: store 0, channel ''): those (``loose``) are summed without the store and channel filters, which
    would leave them at zero, and the others with every filter."""

    loose: tuple[str, ...] = ()

    async def sums(self, fact: Fact, window: Window, group: str | None = None,
                   filters: Filters | None = None) -> dict[Any, dict[str, int]]:
        filters = filters or self.filters
        out = await super().sums(fact, window, group, filters)
        if not self.loose or (filters.store_id is None and filters.channel is None):
            return out
        looser = await super().sums(fact, window, group, replace(filters, store_id=None, channel=None))
        zero = dict.fromkeys(fact.measures, 0)
        return {key: {m: (looser if m in self.loose else out).get(key, zero)[m] for m in fact.measures}
                for key in set(out) | set(looser)}


@cached
async def _live(*, name: str, day: date, tz: str, lowest: str) -> list[dict[str, Any]]:
    fact = FACTS[name]
    start, _ = day_bounds(day, ZoneInfo(tz))
    # Up to this instant, what was written at it included (the clock may not have moved since).
    rows = await db.fetch(fact.select, start, clock.now() + timedelta(microseconds=1), lowest)
    return [{k: (int(v) if k in fact.measures else v) for k, v in row.items()} for row in rows]


async def built_through() -> date | None:
    row = await db.fetch_one("SELECT MAX(day) AS last FROM analytics_days")
    return db.to_date(row["last"]) if row else None


# -- base-table figures ------------------------------------------------------------------------------------


def _member_filters(filters: Filters, lowest: str, args: list[Any]) -> str:
    """Members by where they registered and their current tier."""
    where = ""
    if filters.store_id is not None:
        args.append(filters.store_id)
        where += f" AND m.registration_store_id = ${len(args)}"
    if filters.channel is not None:
        args.append(filters.channel)
        where += f" AND m.registration_channel = ${len(args)}"
    if filters.tier is not None:
        args.extend([lowest, filters.tier])
        where += (f" AND COALESCE((SELECT a.tier_code FROM loyalty_accounts a WHERE a.member_id = m.id), "
                  f"${len(args) - 1}) = ${len(args)}")
    return where


# Members who are not active (merged, deleted) are a few: found through the status index, their accounts one by
# one (a join would read every account).
_NOT_ACTIVE_TIERS = ("SELECT t.tier, COUNT(*) AS n FROM (SELECT (SELECT a.tier_code FROM loyalty_accounts a "
                     "WHERE a.member_id = m.id) AS tier FROM members m WHERE m.status <> 'active') t "
                     "WHERE t.tier <> $1 GROUP BY t.tier")


@cached
async def member_totals(*, before: list[datetime], filters: Filters, lowest: str, tz: ZoneInfo | None = None
                        ) -> list[int]:
    """Active members who registered before each of the instants. Without a tier filter (and given ``tz``), the
    new members of the member days up to each instant's day (those merged away are not in them) less those
    deleted since; with one (the current tier), one pass over the members."""
    if filters.tier is None and tz is not None:
        return await _registered(before=before, filters=filters, tz=tz, lowest=lowest)
    args: list[Any] = [max(before), *before]
    counts = ", ".join(f"SUM(CASE WHEN m.registered_at < ${n + 2} THEN 1 ELSE 0 END) AS n{n}"
                       for n in range(len(before)))
    row = await db.fetch_one(f"SELECT {counts} FROM members m WHERE m.status = 'active' AND m.registered_at < $1"
                             + _member_filters(filters, lowest, args), *args)
    return [int((row or {}).get(f"n{n}") or 0) for n in range(len(before))]


async def _registered(*, before: list[datetime], filters: Filters, tz: ZoneInfo, lowest: str) -> list[int]:
    # An instant at a day's end counts that day whole; one within today counts today so far (read live).
    days = [(instant - timedelta(microseconds=1)).astimezone(tz).date() for instant in before]
    current = today(tz)
    closed = [min(day, current - timedelta(days=1)) for day in days]
    args: list[Any] = [_param(max(closed)), *(_param(day) for day in closed)]
    fact = FACTS["members"]
    applying = Filters(store_id=filters.store_id, channel=filters.channel).applying(fact)
    chosen = rollups.route(fact, applying, None)
    if chosen is not None:  # a row a day
        args += [fact.name, chosen.dim, chosen.value]
        column = rollups.MEASURE_COLUMNS[fact.measures.index("new_members")]
        table = rollups.TABLE
        where = f" AND fact = ${len(args) - 2} AND dim = ${len(args) - 1} AND value = ${len(args)}"
    else:
        column, table, where = "new_members", fact.table, ""
        for name, value in applying.items():
            args.append(value)
            where += f" AND {name} = ${len(args)}"
    counts = ", ".join(f"SUM(CASE WHEN day <= ${n + 2} THEN {column} ELSE 0 END) AS n{n}" for n in range(len(days)))
    row = await db.fetch_one(f"SELECT {counts} FROM {table} WHERE day <= $1{where}", *args)
    totals = [int((row or {}).get(f"n{n}") or 0) for n in range(len(days))]
    if any(day >= current for day in days):
        reader = Reader(tz, Filters(store_id=filters.store_id, channel=filters.channel))
        live = (await reader.sums(FACTS["members"], Window(current, current))).get(None, {}).get("new_members", 0)
        totals = [total + (live if day >= current else 0) for total, day in zip(totals, days, strict=True)]
    args = list(before)
    where = ""
    for column, value in (("registration_store_id", filters.store_id), ("registration_channel", filters.channel)):
        if value is not None:
            args.append(value)
            where += f" AND m.{column} = ${len(args)}"
    counts = ", ".join(f"SUM(CASE WHEN m.registered_at < ${n + 1} THEN 1 ELSE 0 END) AS n{n}" for n in range(len(days)))
    gone = await db.fetch_one(f"SELECT {counts} FROM members m WHERE m.status = 'deleted'{where}", *args)
    totals = [total - int((gone or {}).get(f"n{n}") or 0) for n, total in enumerate(totals)]
    return totals


@cached
async def members_by_tier(*, filters: Filters, lowest: str, total: int | None = None) -> dict[str, int]:
    """Active members per current tier (store and channel: where they registered). Without store and channel,
    and given the active members' ``total``, the accounts above and below the lowest tier are counted from the
    tier index, the members not active taken off, and the lowest tier is everyone else (members without an
    account included)."""
    if filters.store_id is None and filters.channel is None and total is not None:
        out: dict[str, int] = defaultdict(int)
        for op in ("<", ">"):
            for row in await db.fetch(f"SELECT a.tier_code AS tier, COUNT(*) AS n FROM loyalty_accounts a "
                                      f"WHERE a.tier_code {op} $1 GROUP BY 1", lowest):
                out[row["tier"]] += int(row["n"])
        for row in await db.fetch(_NOT_ACTIVE_TIERS, lowest):
            out[row["tier"]] -= int(row["n"])
        out[lowest] = total - sum(out.values())
        return {tier: n for tier, n in out.items() if (n or tier == lowest) and filters.tier in (None, tier)}
    args: list[Any] = [lowest]
    where = _member_filters(Filters(store_id=filters.store_id, channel=filters.channel), lowest, args)
    rows = await db.fetch("SELECT COALESCE(a.tier_code, $1) AS tier, COUNT(*) AS n FROM members m "
                          f"LEFT JOIN loyalty_accounts a ON a.member_id = m.id WHERE m.status = 'active'{where} "
                          "GROUP BY 1", *args)
    return {row["tier"]: int(row["n"]) for row in rows if filters.tier is None or row["tier"] == filters.tier}


async def activity(*, days: list[date], tz: ZoneInfo, filters: Filters, lowest: str) -> list[dict[str, int]]:
    """Per day: members with an order that counts in the 30 and in the 90 days to it (it included), and those at
    risk of churning: who ordered in the 366 days to it but not in its last CHURN_DAYS. From the buyer days."""
    windows = [Window(day - timedelta(days=span - 1), day) for day in days for span in (30, CHURN_DAYS, MAX_DAYS)]
    counted = await buyers(windows=windows, tz=tz, filters=filters, lowest=lowest)
    out = []
    for n in range(len(days)):
        b30, b90, year = (counted[3 * n + k]["buyers"] for k in range(3))
        out.append({"active_30": b30, "active_90": b90, "churn_risk": year - b90})
    return out


async def buyers(*, windows: list[Window], tz: ZoneInfo, filters: Filters, lowest: str) -> list[dict[str, int]]:
    """Per window: members with an order that counts (not refunded in full) in it, those with two or more, and
    those orders; store and channel are the orders', the tier the member's at the time. From the buyer days
    (``backend.analytics.buyers``) and today's orders; two filters at once count the window's orders."""
    scope = buyer_rows.scope_of(store_id=filters.store_id, channel=filters.channel, tier=filters.tier)
    current = today(tz)
    out = []
    for window in windows:
        if scope is None:
            start, _ = day_bounds(window.first, tz)
            _, end = day_bounds(window.last, tz)
            out.append(await _scanned(start=start, end=min(end, anchor()), filters=filters, lowest=lowest))
            continue
        totals = dict.fromkeys(buyer_rows.MEASURES, 0)
        closed_last = min(window.last, current - timedelta(days=1))
        parts = []
        if window.first <= closed_last:
            parts.append(await buyer_rows.closed(scope=scope, first=window.first, last=closed_last))
        if window.first <= current <= window.last:
            counts = await _live_buyers(day=current, tz=str(tz), lowest=lowest)
            parts.append(buyer_rows.live(counts, scope=scope, since=(current - window.first).days))
        for part in parts:
            for m in buyer_rows.MEASURES:
                totals[m] += part[m]
        out.append(totals)
    return out


@cached
async def _live_buyers(*, day: date, tz: str, lowest: str) -> dict[tuple[str, str, int], list[int]]:
    start, _ = day_bounds(day, ZoneInfo(tz))
    return await buyer_rows.day_counts(start=start, end=clock.now() + timedelta(microseconds=1), lowest=lowest,
                                       tz=ZoneInfo(tz))


@cached
async def _scanned(*, start: datetime, end: datetime, filters: Filters, lowest: str) -> dict[str, int]:
    return await buyer_rows.scan(start=start, end=end, store_id=filters.store_id, channel=filters.channel,
                                 tier=filters.tier, lowest=lowest)


@cached
async def funnel(*, window: Window, tz: ZoneInfo, filters: Filters, lowest: str) -> dict[str, int]:
    """Members who registered in the window, how many of them have ordered since, and how many twice."""
    start, _ = day_bounds(window.first, tz)
    _, end = day_bounds(window.last, tz)
    args: list[Any] = [start, end]
    row = await db.fetch_one(
        "SELECT COUNT(*) AS registered, SUM(CASE WHEN s.order_count >= 1 THEN 1 ELSE 0 END) AS first_order, "
        "SUM(CASE WHEN s.order_count >= 2 THEN 1 ELSE 0 END) AS repeat_order FROM members m "
        "LEFT JOIN member_order_stats s ON s.member_id = m.id "
        "WHERE m.registered_at >= $1 AND m.registered_at < $2 AND m.status <> 'merged'"
        + _member_filters(filters, lowest, args), *args)
    return {key: int((row or {}).get(key) or 0) for key in ("registered", "first_order", "repeat_order")}


@cached
async def points_outstanding(*, filters: Filters, lowest: str) -> dict[str, int]:
    args: list[Any] = []
    where = ""
    if filters.tier is not None:
        args.extend([lowest, filters.tier])
        where = " WHERE COALESCE(a.tier_code, $1) = $2"
    row = await db.fetch_one("SELECT SUM(a.points_balance) AS balance, SUM(a.points_debt) AS debt, "
                             "SUM(a.principal_cents) AS principal, SUM(a.bonus_cents) AS bonus "
                             f"FROM loyalty_accounts a{where}", *args)
    return {key: int((row or {}).get(key) or 0) for key in ("balance", "debt", "principal", "bonus")}


@cached
async def expiring(*, now: datetime) -> dict[int, int]:
    """Points in live lots that expire within 30, 60 and 90 days from now."""
    cases = ", ".join(f"SUM(CASE WHEN expires_at <= ${n + 2} THEN remaining ELSE 0 END) AS d{days}"
                      for n, days in enumerate(EXPIRING_DAYS))
    limits = [now + timedelta(days=days) for days in EXPIRING_DAYS]
    row = await db.fetch_one(f"SELECT {cases} FROM points_lots WHERE remaining > 0 AND expires_at > $1 "
                             f"AND expires_at <= ${len(EXPIRING_DAYS) + 1}", now, *limits)
    return {days: int((row or {}).get(f"d{days}") or 0) for days in EXPIRING_DAYS}


@cached
async def wallet_reconciliation() -> dict[str, int]:
    """The accounts' stored value and the sums of the wallet entries, read by one statement so both are of the
    same moment (read apart, and cached apart, a top-up between the two reads shows as a difference)."""
    row = await db.fetch_one(
        "SELECT (SELECT SUM(principal_cents) FROM loyalty_accounts) AS balance_principal, "
        "(SELECT SUM(bonus_cents) FROM loyalty_accounts) AS balance_bonus, "
        "(SELECT SUM(principal_cents) FROM wallet_entries) AS entries_principal, "
        "(SELECT SUM(bonus_cents) FROM wallet_entries) AS entries_bonus")
    return {key: int((row or {}).get(key) or 0)
            for key in ("balance_principal", "balance_bonus", "entries_principal", "entries_bonus")}


async def balances_at(*, reader: Reader, days: list[date], now: dict[str, int]) -> list[dict[str, int] | None]:
    """The points balance and the stored value held at the end of each day: what is held now less what every
    ledger entry changed since (the daily aggregates' net sums, today's read live). None for a day under filters
    (the balances now are the accounts' current state, the entries' tier the one at the time)."""
    if reader.filters.store_id is not None or reader.filters.channel is not None or reader.filters.tier is not None:
        return [None for _ in days]
    current = today(reader.tz)
    out: list[dict[str, int] | None] = []
    for day in days:
        if day >= current:
            out.append(dict(now))
            continue
        after = Window(day + timedelta(days=1), current)
        points = await reader.totals(FACTS["points"], after)
        wallet = await reader.totals(FACTS["stored_value"], after)
        out.append({"balance": now["balance"] - points["net"],
                    "principal": now["principal"] - wallet["net_principal_cents"],
                    "bonus": now["bonus"] - wallet["net_bonus_cents"]})
    return out


def fact(name: str) -> Fact:
    return FACTS[name]
