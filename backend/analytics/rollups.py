"""Each fact's daily rows summed over every dimension and over all but one: what a window's totals, its series
of days and its groups by one dimension read, a few rows a day instead of every combination of dimensions.

``analytics_rollups`` holds, per day and fact, one row with every dimension summed (``dim`` and ``value`` '')
and one row per value of each dimension alone (``dim`` the column, ``value`` its text), the fact's measures in
their order as ``m0`` … ``m11``. A day's rows are written from its fact rows in the same transaction as they are
(``backend.analytics.build``), so they are always their sums. A read with no filter, or one filter and grouped
by nothing, by day or by the filter's own dimension, reads them (``route``); two filters, or a filter with a
group by another dimension, read the fact table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.analytics.facts import FACTS, Fact

TABLE = "analytics_rollups"
MEASURE_COLUMNS = tuple(f"m{n}" for n in range(12))
INT_DIMS = ("store_id", "template_id")  # their values are ids: read back as integers
assert all(len(fact.measures) <= len(MEASURE_COLUMNS) for fact in FACTS.values())


def _sums(fact: Fact, where: str, *, per_day: bool) -> str:
    """The fact's rows under ``where`` summed as rollup rows: fact, dim, value and the measures' sums (``per_day``:
    the day first, and one set of rows per day). No fact rows, no rollup rows."""
    sums = ", ".join(f"SUM({m})" for m in fact.measures)
    day, by = ("day, ", "day, ") if per_day else ("", "")
    parts = [f"SELECT {day}'{fact.name}' AS fact, '' AS dim, '' AS value, {sums} FROM {fact.table} WHERE {where} "
             "GROUP BY day"]
    parts += [f"SELECT {day}'{fact.name}', '{dim}', CAST({dim} AS VARCHAR(40)), {sums} FROM {fact.table} "
              f"WHERE {where} GROUP BY {by}{dim}" for dim in fact.dims]
    return " UNION ALL ".join(parts)


def _columns(fact: Fact) -> str:
    return f"day, fact, dim, value, {', '.join(MEASURE_COLUMNS[:len(fact.measures)])}"


def insert_sql(fact: Fact, day: str) -> str:
    """The rollup rows of one day (``day``: its parameter) from the fact's rows of that day."""
    return f"INSERT INTO {TABLE} ({_columns(fact)}) SELECT {day}, r.* FROM ({_sums(fact, f'day = {day}', per_day=False)}) r"


@dataclass(frozen=True)
class Route:
    """Which rollup rows a read sums: those of ``dim`` (every value, or only ``value``), keyed by ``key``: None
    (the whole window), 'day' or 'value'."""

    dim: str
    value: str | None
    key: str | None


def route(fact: Fact, applying: dict[str, Any], group: str | None) -> Route | None:
    """The rollup rows that answer the fact's sums under the filters that apply to it, grouped by ``group`` (None,
    'day' or a dimension); None when only the fact table can."""
    key = "value" if group not in (None, "day") else group
    if not applying:
        return Route("", "", group) if key != "value" else Route(str(group), None, "value")
    if len(applying) > 1:
        return None
    ((column, value),) = applying.items()
    if key == "value" and group != column:
        return None
    return Route(column, str(value), key)


def sums_sql(fact: Fact, chosen: Route) -> str:
    """The SELECT over the rollups for the route: ``$1`` the fact, ``$2`` the dimension, ``$3`` and ``$4`` the first
    and last day, ``$5`` the dimension's value when the route has one; rows of ``k`` and the measures."""
    sums = ", ".join(f"SUM({column}) AS {m}" for column, m in zip(MEASURE_COLUMNS, fact.measures, strict=False))
    key = {None: "NULL", "day": "day", "value": "value"}[chosen.key]
    where = "fact = $1 AND dim = $2 AND day >= $3 AND day <= $4"
    if chosen.value is not None:
        where += " AND value = $5"
    grouping = f" GROUP BY {key}" if chosen.key else ""
    return f"SELECT {key} AS k, {sums} FROM {TABLE} WHERE {where}{grouping}"


def value_of(dim: str, text: str) -> Any:
    """A dimension's value as the fact table holds it (ids as integers)."""
    return int(text) if dim in INT_DIMS else text


def backfill_sql(fact: Fact) -> str:
    """Every built day's rollup rows of the fact from its fact rows, when it has none yet: for a database whose days
    were built before the rollups (SQLite, at each start; PostgreSQL's migration 22 does the same once)."""
    none_yet = f"NOT EXISTS (SELECT 1 FROM {TABLE} WHERE fact = '{fact.name}')"
    return f"INSERT INTO {TABLE} ({_columns(fact)}) {_sums(fact, none_yet, per_day=True)};"
