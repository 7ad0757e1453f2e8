"""Segment rules: a rule tree over member data, validated, then compiled to one SQL query.

A node is ``{"all": [nodes]}``, ``{"any": [nodes]}``, ``{"not": node}`` or a condition
``{"field": ..., "op": ..., "value": ...}`` (order conditions also take ``within_days``). Only
active members match. Every condition compiles to a two-valued SQL expression on alias ``m``
(``members m``), so ``not`` means exactly "does not match". Orders that were refunded in full
do not count; amounts are net of refunds. Cut-off times are computed here from ``now`` and passed
as parameters, so the same SQL runs on PostgreSQL and SQLite.

Order conditions about all of a member's orders — ``orders.count`` and ``orders.amount_cents`` without
``within_days``, and ``orders.last_order`` (the last order is within N days exactly when one is) — read
the member's order figures (``member_order_stats``, kept with every order, refund and merge by
``backend.loyalty.order_stats``): one row per member instead of its orders. Those the figures cannot
answer scan the member's orders: a count or an amount ``within_days`` (orders of a window of time),
``orders.channel`` and ``orders.store_id``. ``compile_rule(..., exact=True)`` scans the orders for every
order condition, the reference the figures must agree with.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from backend.loyalty import program as programs
from backend.members.models import CHANNELS, CONSENT_CHANNELS, CONSENT_PURPOSES
from jobs.errors import SegmentRuleInvalid

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_VALUES = 500
MAX_DAYS = 36_500
# Every number a rule holds ends up as a query parameter compared with a column: ids are int4 on
# PostgreSQL (tags, stores), amounts and balances bigint; a value beyond its column fails the query
# itself, so it is refused when the rule is saved.
MAX_AMOUNT = 10**15
INT4_MAX = 2**31 - 1
# Dates compared with registration times (and converted to UTC): within what a calendar can hold.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2100, 12, 31)
DEFAULT_TZ = "Asia/Shanghai"

GENDERS = ("male", "female", "unknown")
CONSENTS = tuple(f"{c}_{p}" for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES)
_CUSTOM_KEY = re.compile(r"^custom\.([a-z][a-z0-9_]{0,39})$")
_TIER_CODE = re.compile(r"^[a-z0-9_]{1,20}$")


class Problem(ValueError):
    """One invalid part of a condition: ``where`` is field, op, value or within_days."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


# --- value checks -----------------------------------------------------------------------------
# Every check carries ``spec``: what value it takes, for ``describe_fields`` (the console's rule builder).


def _spec(check: Any, **spec: Any) -> Any:
    check.spec = spec
    return check


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and abs(v) <= MAX_AMOUNT


def _int(lo: int, hi: int) -> Any:
    def check(v: Any) -> int:
        if not _is_int(v) or not lo <= v <= hi:
            raise Problem("value", f"应为 {lo} 到 {hi} 之间的整数")
        return v
    return _spec(check, type="integer", min=lo, max=hi)


def _choice(choices: tuple[str, ...]) -> Any:
    def check(v: Any) -> str:
        if v not in choices:
            raise Problem("value", f"应为以下之一：{'、'.join(choices)}")
        return v
    return _spec(check, type="choice", choices=list(choices))


def _list(item: Any) -> Any:
    def check(v: Any) -> list[Any]:
        if not isinstance(v, list) or not v:
            raise Problem("value", "应为非空列表")
        if len(v) > MAX_VALUES:
            raise Problem("value", f"最多 {MAX_VALUES} 项")
        return list(dict.fromkeys(item(x) for x in v))
    return _spec(check, type="list", item=item.spec, max_items=MAX_VALUES)


def _between(item: Any) -> Any:
    def check(v: Any) -> list[Any]:
        if not isinstance(v, list) or len(v) != 2:
            raise Problem("value", "应为 [最小值, 最大值]")
        lo, hi = item(v[0]), item(v[1])
        if lo > hi:
            raise Problem("value", "最小值不能大于最大值")
        return [lo, hi]
    return _spec(check, type="range", item=item.spec)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise Problem("value", "应为 true 或 false")
    return v


def _iso_date(v: Any) -> str:
    if isinstance(v, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        try:
            day = date.fromisoformat(v)
        except ValueError:
            day = None
        if day is not None:
            if not FIRST_DATE <= day <= LAST_DATE:
                raise Problem("value", f"日期应在 {FIRST_DATE} 到 {LAST_DATE} 之间")
            return day.isoformat()
    raise Problem("value", "日期格式应为 YYYY-MM-DD")


def _tier(v: Any) -> str:
    if not isinstance(v, str) or not _TIER_CODE.match(v):
        raise Problem("value", "等级代码应为 1 到 20 位小写字母、数字或下划线")
    return v


def _tag_ref(v: Any) -> int | str:
    if _is_int(v):
        if not 0 < v <= INT4_MAX:
            raise Problem("value", f"标签 id 应为 1 到 {INT4_MAX} 之间的整数")
        return v
    if isinstance(v, str) and 0 < len(v.strip()) <= 64:
        return v.strip()
    raise Problem("value", "应为标签代码或标签 id")


def _custom_scalar(v: Any) -> str | int | float:
    if (isinstance(v, str) and len(v) <= 200) or _is_number(v):
        return v
    raise Problem("value", "应为文本或数字")


def _custom_bound(v: Any) -> str | int | float:
    if _is_number(v):
        return v
    if isinstance(v, str):
        return _iso_date(v)
    raise Problem("value", "应为数字或 YYYY-MM-DD 日期")


def _text(v: Any) -> str:
    if not isinstance(v, str) or not 0 < len(v) <= 200:
        raise Problem("value", "应为 1 到 200 个字符的文本")
    return v


_spec(_bool, type="boolean")
_spec(_iso_date, type="date", min=FIRST_DATE.isoformat(), max=LAST_DATE.isoformat())
_spec(_tier, type="tier")
_spec(_tag_ref, type="tag")
_spec(_custom_scalar, type="text_or_number", max_length=200)
_spec(_custom_bound, type="number_or_date")
_spec(_text, type="text", max_length=200)

_DAYS = _int(0, MAX_DAYS)
_WINDOW = _int(1, MAX_DAYS)
_AMOUNT = _int(-MAX_AMOUNT, MAX_AMOUNT)
_CHANNEL = _choice(CHANNELS)
_STORE = _spec(_int(1, INT4_MAX), type="store", min=1, max=INT4_MAX)
_COUNT = _int(0, 10**9)

# field -> (op -> value check, takes within_days)
FIELDS: dict[str, tuple[dict[str, Any], bool]] = {
    "gender": ({"eq": _choice(GENDERS), "in": _list(_choice(GENDERS))}, False),
    "birthday_month": ({"eq": _int(1, 12), "in": _list(_int(1, 12))}, False),
    "registered_days_ago": ({"gte": _DAYS, "lte": _DAYS, "between": _between(_DAYS)}, False),
    "registered_at": ({"before": _iso_date, "after": _iso_date}, False),
    "registration_channel": ({"eq": _CHANNEL, "in": _list(_CHANNEL)}, False),
    "registration_store_id": ({"eq": _STORE, "in": _list(_STORE)}, False),
    "custom": ({"eq": _custom_scalar, "in": _list(_custom_scalar), "gte": _custom_bound,
                "lte": _custom_bound, "contains": _text}, False),
    "has_email": ({"eq": _bool}, False),
    "has_phone": ({"eq": _bool}, False),
    "tier": ({"eq": _tier, "in": _list(_tier)}, False),
    "tag": ({"has": _tag_ref, "has_any": _list(_tag_ref), "has_all": _list(_tag_ref),
             "has_none": _list(_tag_ref)}, False),
    "consent": ({"granted": _choice(CONSENTS), "not_granted": _choice(CONSENTS)}, False),
    "points_balance": ({"gte": _AMOUNT, "lte": _AMOUNT, "between": _between(_AMOUNT)}, False),
    "balance_cents": ({"gte": _AMOUNT, "lte": _AMOUNT, "between": _between(_AMOUNT)}, False),
    "orders.count": ({"eq": _COUNT, "gte": _COUNT, "lte": _COUNT, "between": _between(_COUNT)}, True),
    "orders.amount_cents": ({"gte": _AMOUNT, "lte": _AMOUNT, "between": _between(_AMOUNT)}, True),
    "orders.last_order": ({"within_days": _WINDOW, "not_within_days": _WINDOW}, False),
    "orders.channel": ({"any_in": _list(_CHANNEL)}, True),
    "orders.store_id": ({"any_in": _list(_STORE)}, True),
}


def check_condition(field: Any, op: Any, value: Any, within_days: Any) -> Any:
    """The condition's normalised value, or a ``Problem`` naming the part that is wrong."""
    if not isinstance(field, str):
        raise Problem("field", "应为字段名")
    spec = FIELDS.get("custom" if _CUSTOM_KEY.match(field) else field)
    if spec is None or field == "custom":
        raise Problem("field", "不支持的字段；自定义字段写作 custom.<键>")
    ops, takes_window = spec
    if op not in ops:
        raise Problem("op", f"字段 {field} 可用的运算：{' / '.join(ops)}")
    if within_days is not None:
        if not takes_window:
            raise Problem("within_days", f"字段 {field} 不支持 within_days")
        if not _is_int(within_days) or not 1 <= within_days <= MAX_DAYS:
            raise Problem("within_days", f"应为 1 到 {MAX_DAYS} 之间的整数")
    return ops[op](value)


# --- the tree ---------------------------------------------------------------------------------


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class All(_Node):
    all: list[Node]


class AnyOf(_Node):
    any: list[Node] = Field(min_length=1)


class Not(_Node):
    not_: Node = Field(alias="not")


class Condition(_Node):
    field: str
    op: str
    value: Any = None
    within_days: int | None = None

    @model_validator(mode="after")
    def valid(self) -> Condition:
        try:
            self.value = check_condition(self.field, self.op, self.value, self.within_days)
        except Problem as exc:
            raise ValueError(f"{exc.where}: {exc}") from None
        return self


Node = All | AnyOf | Not | Condition


class Rule(RootModel[Node]):
    """A validated rule tree; ``parse_rule`` builds one with errors that name the path."""

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


for _model in (All, AnyOf, Not, Rule):
    _model.model_rebuild()


def parse_rule(data: Any) -> Rule:
    """Validate a rule tree; every problem is reported under its path, e.g. ``rule.all[1].value``."""
    problems: dict[str, str] = {}
    counter = [0]
    node = _parse(data, "rule", 1, problems, counter)
    if counter[0] > MAX_CONDITIONS:
        problems.setdefault("rule", f"条件过多（最多 {MAX_CONDITIONS} 个）")
    if problems or node is None:
        raise SegmentRuleInvalid(details={"path": next(iter(problems), "rule"), "fields": problems})
    return Rule(node)


def _parse(data: Any, path: str, depth: int, problems: dict[str, str], counter: list[int]) -> Any:
    if not isinstance(data, dict):
        problems[path] = "应为对象：all / any / not 或条件（field、op、value）"
        return None
    if depth > MAX_DEPTH:
        problems[path] = f"嵌套过深（最多 {MAX_DEPTH} 层）"
        return None
    keys = set(data)
    for group in ("all", "any"):
        if keys == {group}:
            children = data[group]
            if not isinstance(children, list):
                problems[f"{path}.{group}"] = "应为列表"
                return None
            if group == "any" and not children:
                problems[f"{path}.{group}"] = "至少需要一个条件"
                return None
            nodes = [_parse(child, f"{path}.{group}[{i}]", depth + 1, problems, counter)
                     for i, child in enumerate(children)]
            if any(n is None for n in nodes):
                return None
            return All(all=nodes) if group == "all" else AnyOf(any=nodes)
    if keys == {"not"}:
        child = _parse(data["not"], f"{path}.not", depth + 1, problems, counter)
        return None if child is None else Not(not_=child)
    if "field" in keys or "op" in keys:
        counter[0] += 1
        extra = keys - {"field", "op", "value", "within_days"}
        if extra:
            problems[f"{path}.{sorted(extra)[0]}"] = "不支持的键"
            return None
        try:
            value = check_condition(data.get("field"), data.get("op"), data.get("value"), data.get("within_days"))
        except Problem as exc:
            problems[f"{path}.{exc.where}"] = str(exc)
            return None
        return Condition.model_construct(field=data["field"], op=data["op"], value=value,
                                         within_days=data.get("within_days"))
    problems[path] = "节点只能是 all / any / not 或条件（field、op、value）之一"
    return None


# --- compiling --------------------------------------------------------------------------------


# Order conditions the member's order figures answer, when they have no ``within_days``.
FIGURE_FIELDS = ("orders.count", "orders.amount_cents", "orders.last_order")
_FIGURES = "SELECT 1 FROM member_order_stats s WHERE s.member_id = m.id"


def _holds(x: int, op: str, v: Any) -> bool:
    """What ``compare`` says of the value ``x`` (a member without orders: 0 orders, 0 cents)."""
    if op == "between":
        return bool(v[0] <= x <= v[1])
    return bool({"eq": x == v, "gte": x >= v, "lte": x <= v}[op])


class _Compiler:
    def __init__(self, *, dialect: str, now: datetime, tz: str, start: int, exact: bool = False,
                 id_range: tuple[str, str] | None = None) -> None:
        self.pg = dialect == "postgres"
        self.now, self.tz, self.start = now, ZoneInfo(tz), start
        self.exact = exact
        self.params: list[Any] = []
        # The member-id range the statement reads (``m.id > lo AND m.id <= hi``), repeated on each subquery's
        # member id: PostgreSQL does not carry a range across a join, and would read every member's figures
        # (or orders) for each range otherwise.
        lo, hi = id_range or (None, None)
        self.within = "" if id_range is None else " AND {col} > " + str(lo) + " AND {col} <= " + str(hi)

    def p(self, value: Any) -> str:
        if isinstance(value, datetime) and not self.pg:
            value = str(value.astimezone(UTC))  # SQLite keeps UTC text: compare like with like
        elif isinstance(value, float):
            value = Decimal(repr(value)) if self.pg else value
        self.params.append(value)
        return f"${self.start + len(self.params) - 1}"

    def ps(self, values: list[Any]) -> str:
        return ", ".join(self.p(v) for v in values)

    def ago(self, days: int) -> str:
        return self.p(self.now - timedelta(days=days))

    def node(self, node: Any) -> str:
        if isinstance(node, Rule):
            return self.node(node.root)
        if self.on_figures(node):
            return self.figures(node)
        if isinstance(node, (All, AnyOf)):
            both = isinstance(node, All)
            children = node.all if both else node.any
            if not children:
                return "(1 = 1)"
            # The children the figures answer, together: one probe of the member's row for all of them.
            grouped = [n for n in children if self.on_figures(n)]
            parts = [self.figures(All.model_construct(all=grouped) if both else AnyOf.model_construct(any=grouped))
                     ] if grouped else []
            parts += [self.node(n) for n in children if not self.on_figures(n)]
            return "(" + (" AND " if both else " OR ").join(parts) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.not_)})"
        return self.condition(node)

    def on_figures(self, node: Any) -> bool:
        """Whether the member's order figures answer the whole node (a condition, or a group of such)."""
        if self.exact:
            return False
        if isinstance(node, Condition):
            return node.field in FIGURE_FIELDS and node.within_days is None
        if isinstance(node, All):
            return bool(node.all) and all(self.on_figures(n) for n in node.all)
        if isinstance(node, AnyOf):
            return all(self.on_figures(n) for n in node.any)
        return isinstance(node, Not) and self.on_figures(node.not_)

    def figures(self, node: Any) -> str:
        """A node the figures answer: true or false by the member's row, or by what a member without orders
        is (no row: 0 orders, 0 cents, no last order). Since one member has one row at most, the node is
        one (NOT) EXISTS: an index probe per member, or one semi- or anti-join over the figures."""
        predicate, without_orders = self.on_row(node)
        rows = _FIGURES + self.within.format(col="s.member_id")
        if without_orders:
            return f"(NOT EXISTS ({rows} AND NOT {predicate}))"
        return f"EXISTS ({rows} AND {predicate})"

    def on_row(self, node: Any) -> tuple[str, bool]:
        """The node as a two-valued expression on the figures ``s``, and its value for a member without orders."""
        if isinstance(node, (All, AnyOf)):
            both = isinstance(node, All)
            parts = [self.on_row(n) for n in (node.all if both else node.any)]
            values = [value for _, value in parts]
            return ("(" + (" AND " if both else " OR ").join(sql for sql, _ in parts) + ")",
                    all(values) if both else any(values))
        if isinstance(node, Not):
            sql, value = self.on_row(node.not_)
            return f"(NOT {sql})", not value
        c = node
        if c.field == "orders.last_order":
            cut = self.ago(c.value)
            if c.op == "within_days":
                return f"(s.last_order_at IS NOT NULL AND s.last_order_at >= {cut})", False
            return f"(s.last_order_at IS NULL OR s.last_order_at < {cut})", True
        column = "s.order_count" if c.field == "orders.count" else "s.amount_cents"
        return f"({self.compare(column, c.op, c.value)})", _holds(0, c.op, c.value)

    def condition(self, c: Condition) -> str:
        field, op, v = c.field, c.op, c.value
        values = v if isinstance(v, list) and op in ("in", "has_any", "has_all", "has_none", "any_in") else [v]
        if field in ("gender", "registration_channel"):
            return f"m.{field} IN ({self.ps(values)})"
        if field == "registration_store_id":
            return f"(m.registration_store_id IS NOT NULL AND m.registration_store_id IN ({self.ps(values)}))"
        if field == "birthday_month":
            month = ("CAST(EXTRACT(MONTH FROM m.birthday) AS INTEGER)" if self.pg
                     else "CAST(strftime('%m', m.birthday) AS INTEGER)")
            return f"(m.birthday IS NOT NULL AND {month} IN ({self.ps(values)}))"
        if field == "registered_days_ago":
            if op == "lte":
                return f"m.registered_at >= {self.ago(v)}"
            if op == "gte":
                return f"m.registered_at <= {self.ago(v)}"
            return f"(m.registered_at <= {self.ago(v[0])} AND m.registered_at >= {self.ago(v[1])})"
        if field == "registered_at":
            day = date.fromisoformat(v) + timedelta(days=op == "after")
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=self.tz).astimezone(UTC)
            return f"m.registered_at {'<' if op == 'before' else '>='} {self.p(midnight)}"
        if field.startswith("custom."):
            return self.custom(field.removeprefix("custom."), op, v, values)
        if field == "has_email":
            sql = "(m.email IS NOT NULL AND m.email <> '')"
            return sql if v else f"(NOT {sql})"
        if field == "has_phone":
            return "m.phone_enc IS NOT NULL" if v else "m.phone_enc IS NULL"
        if field == "tier":
            # No tier code means the program's first tier (the default program's when none is saved).
            first = "lp.data->'tiers'->0->>'code'" if self.pg else "json_extract(lp.data, '$.tiers[0].code')"
            return (f"COALESCE((SELECT la.tier_code FROM loyalty_accounts la WHERE la.member_id = m.id), "
                    f"(SELECT {first} FROM loyalty_program lp WHERE lp.id = {programs.PROGRAM_ID}), "
                    f"{self.p(programs.DEFAULT_TIERS[0].code)}) IN ({self.ps(values)})")
        if field == "tag":
            return self.tag(op, values)
        if field == "consent":
            channel, _, purpose = v.partition("_")
            row = (f"SELECT 1 FROM member_consents c WHERE c.member_id = m.id AND c.channel = {self.p(channel)} "
                   f"AND c.purpose = {self.p(purpose)}")
            # Marketing needs an opt-in; service messages go unless withdrawn.
            granted = (f"EXISTS ({row} AND c.granted)" if purpose == "marketing"
                       else f"NOT EXISTS ({row} AND NOT c.granted)")
            return granted if op == "granted" else f"(NOT {granted})"
        if field in ("points_balance", "balance_cents"):
            column = "la.points_balance" if field == "points_balance" else "la.principal_cents + la.bonus_cents"
            return self.compare(f"COALESCE((SELECT {column} FROM loyalty_accounts la WHERE la.member_id = m.id), 0)",
                                op, v)
        return self.orders(c, values)

    def compare(self, expr: str, op: str, v: Any) -> str:
        if op == "between":
            return f"{expr} BETWEEN {self.p(v[0])} AND {self.p(v[1])}"
        return f"{expr} {({'eq': '=', 'gte': '>=', 'lte': '<='})[op]} {self.p(v)}"

    def custom(self, key: str, op: str, v: Any, values: list[Any]) -> str:
        # The key matched ^[a-z][a-z0-9_]{0,39}$, so it is safe inside the SQL text.
        if self.pg:
            text = (f"(CASE WHEN jsonb_typeof(m.custom_fields->'{key}') = 'string' "
                    f"THEN m.custom_fields->>'{key}' END)")
            number = (f"(CASE WHEN jsonb_typeof(m.custom_fields->'{key}') = 'number' "
                      f"THEN (m.custom_fields->>'{key}')::numeric END)")
        else:
            text = (f"(CASE WHEN json_type(m.custom_fields, '$.{key}') = 'text' "
                    f"THEN json_extract(m.custom_fields, '$.{key}') END)")
            number = (f"(CASE WHEN json_type(m.custom_fields, '$.{key}') IN ('integer', 'real') "
                      f"THEN json_extract(m.custom_fields, '$.{key}') END)")
        ordered = f'{text} COLLATE "C"' if self.pg else text
        if op == "contains":
            sql = f"strpos({text}, {self.p(v)}) > 0" if self.pg else f"instr({text}, {self.p(v)}) > 0"
        elif op in ("eq", "in"):
            strings = [x for x in values if isinstance(x, str)]
            numbers = [x for x in values if not isinstance(x, str)]
            parts = ([f"{text} IN ({self.ps(strings)})"] if strings else []) + (
                [f"{number} IN ({self.ps(numbers)})"] if numbers else [])
            sql = " OR ".join(parts)
        else:
            sign = ">=" if op == "gte" else "<="
            sql = f"{ordered} {sign} {self.p(v)}" if isinstance(v, str) else f"{number} {sign} {self.p(v)}"
        return f"COALESCE(({sql}), {'FALSE' if self.pg else '0'})"

    def tag(self, op: str, values: list[Any]) -> str:
        def has(refs: list[Any]) -> str:
            ids = [r for r in refs if _is_int(r)]
            codes = [r for r in refs if isinstance(r, str)]
            by_code = f"SELECT t.id FROM tags t WHERE t.code IN ({self.ps(codes)})" if codes else ""
            # PostgreSQL: the codes' ids as an array computed once, so each member is one index probe
            # (a plain IN (SELECT …) may be flattened into a join that scans every member tag per member).
            by_code = f"mt.tag_id = ANY(ARRAY({by_code}))" if self.pg else f"mt.tag_id IN ({by_code})"
            parts = ([f"mt.tag_id IN ({self.ps(ids)})"] if ids else []) + ([by_code] if codes else [])
            return f"EXISTS (SELECT 1 FROM member_tags mt WHERE mt.member_id = m.id AND ({' OR '.join(parts)}))"
        if op == "has_all":
            return "(" + " AND ".join(has([ref]) for ref in values) + ")"
        return f"(NOT {has(values)})" if op == "has_none" else has(values)

    def orders(self, c: Condition, values: list[Any]) -> str:
        """A condition the figures cannot answer (or ``exact``): a scan of the member's orders."""
        base = "FROM orders o WHERE o.member_id = m.id AND o.status <> 'refunded'" + self.within.format(col="o.member_id")
        if c.within_days is not None:
            base += f" AND o.placed_at >= {self.ago(c.within_days)}"
        if c.field == "orders.count":
            return self.compare(f"(SELECT COUNT(*) {base})", c.op, c.value)
        if c.field == "orders.amount_cents":
            return self.compare(f"(SELECT CAST(COALESCE(SUM(o.amount_cents - o.refunded_cents), 0) AS BIGINT) {base})",
                                c.op, c.value)
        if c.field == "orders.last_order":
            recent = f"EXISTS (SELECT 1 {base} AND o.placed_at >= {self.ago(c.value)})"
            return recent if c.op == "within_days" else f"(NOT {recent})"
        column = "o.channel" if c.field == "orders.channel" else "o.store_id"
        return f"EXISTS (SELECT 1 {base} AND {column} IN ({self.ps(values)}))"


def compile_rule(rule: Rule | dict[str, Any], *, dialect: str, now: datetime, tz: str = DEFAULT_TZ,
                 start: int = 1, exact: bool = False, id_range: tuple[str, str] | None = None) -> tuple[str, list[Any]]:
    """A parenthesised WHERE fragment on ``members m`` with ``$start``… placeholders, and its parameters.

    Self-contained: it reads only ``m`` and its own subqueries, so it can sit inside any statement
    whose other placeholders are numbered below ``start``. Datetimes are UTC text for SQLite.
    ``exact``: every order condition scans the orders, none reads the member's order figures.
    ``id_range``: the placeholders (``("$5", "$6")``) of a member-id range the statement keeps to
    (``m.id > $5 AND m.id <= $6``), for a statement that walks the members range by range.
    """
    rule = rule if isinstance(rule, Rule) else parse_rule(rule)
    compiler = _Compiler(dialect=dialect, now=now, tz=tz, start=start, exact=exact, id_range=id_range)
    return compiler.node(rule), compiler.params


def member_ids_sql(rule: Rule | dict[str, Any], *, dialect: str, now: datetime, tz: str = DEFAULT_TZ,
                   start: int = 1, exact: bool = False) -> tuple[str, list[Any]]:
    """``SELECT m.id FROM members m WHERE m.status = 'active' AND (…)`` and its parameters."""
    where, params = compile_rule(rule, dialect=dialect, now=now, tz=tz, start=start, exact=exact)
    return f"SELECT m.id FROM members m WHERE m.status = 'active' AND {where}", params


def count_sql(rule: Rule | dict[str, Any], *, dialect: str, now: datetime, tz: str = DEFAULT_TZ,
              exact: bool = False) -> tuple[str, list[Any]]:
    """``SELECT COUNT(*) AS n`` of the active members the rule selects, and its parameters.

    A rule the order figures answer whole, and that no member without orders meets ("at least 3 orders,
    the last within 60 days"), is counted over the figures alone: their rows that match, less those of
    members who are not active (a few, through the partial index on them). Each row has its member (a
    foreign key), so that is the same number, without reading a million member rows. Any other rule
    counts the active members it selects.
    """
    rule = rule if isinstance(rule, Rule) else parse_rule(rule)
    compiler = _Compiler(dialect=dialect, now=now, tz=tz, start=1, exact=exact)
    if compiler.on_figures(rule.root):
        predicate, without_orders = compiler.on_row(rule.root)
        if not without_orders:
            return ("SELECT COUNT(*) AS n FROM member_order_stats s WHERE " + predicate + " AND NOT EXISTS "
                    "(SELECT 1 FROM members m WHERE m.id = s.member_id AND m.status <> 'active')", compiler.params)
        compiler.params.clear()
    return (f"SELECT COUNT(*) AS n FROM members m WHERE m.status = 'active' AND {compiler.node(rule)}",
            compiler.params)


# --- description (for the console's rule builder) -----------------------------------------------

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "gender": ("资料", "性别"),
    "birthday_month": ("资料", "生日月份"),
    "registered_days_ago": ("注册", "注册天数"),
    "registered_at": ("注册", "注册日期"),
    "registration_channel": ("注册", "注册渠道"),
    "registration_store_id": ("注册", "注册门店"),
    "custom": ("资料", "自定义字段"),
    "has_email": ("资料", "有邮箱"),
    "has_phone": ("资料", "有手机号"),
    "tier": ("会员", "会员等级"),
    "tag": ("会员", "标签"),
    "consent": ("会员", "订阅同意"),
    "points_balance": ("会员", "积分余额"),
    "balance_cents": ("会员", "储值余额"),
    "orders.count": ("消费", "订单数"),
    "orders.amount_cents": ("消费", "消费金额"),
    "orders.last_order": ("消费", "最近下单"),
    "orders.channel": ("消费", "下单渠道"),
    "orders.store_id": ("消费", "下单门店"),
}
OP_LABELS = {
    "eq": "等于", "in": "属于", "gte": "至少", "lte": "至多", "between": "介于", "before": "早于", "after": "晚于",
    "contains": "包含", "has": "有", "has_any": "有任一", "has_all": "全都有", "has_none": "都没有",
    "granted": "已同意", "not_granted": "未同意", "within_days": "最近几天内有", "not_within_days": "最近几天内没有",
    "any_in": "有任一",
}
CHOICE_LABELS = {
    "male": "男", "female": "女", "unknown": "未知",
    "miniprogram": "小程序", "pos": "门店收银", "online": "线上商城", "third_party": "第三方", "console": "后台",
    **{f"{c}_{p}": f"{({'sms': '短信', 'email': '邮件', 'wechat': '微信'})[c]}"
                   f"{({'marketing': '营销', 'service': '服务'})[p]}消息"
       for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES},
}
_UNITS = {"registered_days_ago": "days", "orders.last_order": "days", "points_balance": "points",
          "balance_cents": "cents", "orders.amount_cents": "cents", "orders.count": "orders"}


def _labelled(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    if "choices" in out:
        out["choices"] = [{"value": c, "label": CHOICE_LABELS.get(c, c)} for c in out["choices"]]
    if "item" in out:
        out["item"] = _labelled(out["item"])
    return out


def describe_fields() -> dict[str, Any]:
    """Every field of ``FIELDS`` with its operators and the value each takes (from the checks' ``spec``)."""
    items = []
    for field, (ops, takes_window) in FIELDS.items():
        group, label = FIELD_LABELS.get(field, ("其他", field))
        items.append({
            "field": "custom.<key>" if field == "custom" else field, "label": label, "group": group,
            "unit": _UNITS.get(field), "within_days": takes_window,
            "ops": [{"op": op, "label": OP_LABELS.get(op, op), "value": _labelled(check.spec)}
                    for op, check in ops.items()],
        })
    return {"fields": items, "max_depth": MAX_DEPTH, "max_conditions": MAX_CONDITIONS, "max_values": MAX_VALUES,
            "max_days": MAX_DAYS}
