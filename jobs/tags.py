"""Member tags: manual tags staff apply, and automatic tags recomputed set-based in SQL each night.

Automatic tags, by group (orders refunded in full do not count; amounts are net of refunds; "the
window" is the last ``window_days`` days; "within N days" means placed at or after now − N days):

- ``rfm``: members with an order in the window get one of the eight classes. R is high when the
  last order is within ``rfm_recency_days``, F when the window holds at least ``rfm_frequency``
  orders, M when the window's net amount reaches ``rfm_monetary_yuan``:
  重要价值 (R F M high), 重要发展 (R M high, F low), 重要保持 (F M high, R low), 重要挽留 (M high,
  R F low), 一般价值 (R F high, M low), 一般发展 (R high, F M low), 一般保持 (F high, R M low),
  一般挽留 (all low).
- ``value`` (independent of each other): 忠诚 — at least ``loyal_min_orders`` orders in the window
  and the last within ``rfm_recency_days``; 大客户 — net amount in the window reaches
  ``big_spender_yuan``; 回头客 — at least ``returning_min_orders`` orders in the window; 流失 — has
  ordered, but not within ``churn_days``.
- ``activity`` (exactly one per active member): 活跃 — last order within ``active_days``; 沉默 —
  within ``dormant_days`` but not ``active_days``; 沉睡 — within ``churn_days`` but not
  ``dormant_days``; 流失 — ordered, but not within ``churn_days``; 未消费 — never ordered.
- ``channel`` / ``store``: the channel / store with the most orders in the window (ties: the most
  recent order, then the lower code); ``channel:pos``, ``store:3``.
- ``spend``: members with an order in the window, by its net amount in yuan against
  ``spend_bands_yuan`` edges (lower edge included): ``spend:0-500``, ``spend:500-2000``, ``spend:5000+``.

Each group is recomputed in one transaction: tags upserted, missing member tags inserted, stale
ones deleted. Manual tags (``kind = 'manual'``) are never touched.

What each group reads: the last order ever and whether a member has ordered come from the members'
order figures (``member_order_stats``, kept with every order: ``backend.loyalty.order_stats``), so
``activity`` reads no order at all; the window's counts and amounts (``rfm``, ``value``, ``spend``) and
the preferred channel and store come from one pass over the orders placed in the window. On PostgreSQL
that pass runs once per recompute, into temporary tables of one pooled connection that every group then
reads; each group compares the (member, tag) pairs it wants with those there are in one statement (a
full join), writes only the differences, and sends back only their counts.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.documents import RowDocument
from backend.errors import field_errors
from backend.members.errors import MemberNotFound
from backend.members.models import CHANNELS, Member
from jobs.audience_models import Tag, TagSettings
from jobs.errors import TagCodeTaken, TagNotFound, TagNotManual

log = logging.getLogger("jobs.tags")

SETTINGS_ID = 1
RFM_CLASSES = ("重要价值", "重要发展", "重要保持", "重要挽留", "一般价值", "一般发展", "一般保持", "一般挽留")
VALUE_CLASSES = {"忠诚": "忠诚客户", "大客户": "大客户", "回头客": "回头客", "流失": "流失客户"}
ACTIVITY_CLASSES = ("活跃", "沉默", "沉睡", "流失", "未消费")
CHANNEL_NAMES = {"miniprogram": "小程序", "pos": "门店", "online": "线上商城", "third_party": "第三方平台",
                 "console": "后台"}
GROUPS = ("rfm", "value", "activity", "channel", "store", "spend")


class TagRules(BaseModel):
    """Thresholds of the automatic tags; amounts in yuan, periods in days."""

    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(365, ge=30, le=1095, description="orders counted for rfm, value, channel, store, spend")
    rfm_recency_days: int = Field(90, ge=1, le=1095, description="R is high when the last order is this recent")
    rfm_frequency: int = Field(3, ge=1, le=10_000, description="F is high from this many orders in the window")
    rfm_monetary_yuan: int = Field(1000, ge=1, le=100_000_000, description="M is high from this net amount")
    loyal_min_orders: int = Field(6, ge=1, le=10_000)
    big_spender_yuan: int = Field(5000, ge=1, le=100_000_000)
    returning_min_orders: int = Field(2, ge=2, le=10_000)
    active_days: int = Field(30, ge=1, le=3650)
    dormant_days: int = Field(90, ge=1, le=3650)
    churn_days: int = Field(180, ge=1, le=3650)
    spend_bands_yuan: list[int] = Field(default_factory=lambda: [500, 2000, 5000], min_length=1, max_length=10)

    @model_validator(mode="after")
    def consistent(self) -> TagRules:
        if not self.active_days < self.dormant_days < self.churn_days:
            raise ValueError("应满足 active_days < dormant_days < churn_days")
        if self.rfm_recency_days > self.window_days:
            raise ValueError("rfm_recency_days 不能大于 window_days")
        edges = self.spend_bands_yuan
        if edges[0] <= 0 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("消费区间边界应为正数且逐个递增")
        return self

    def spend_bands(self) -> list[tuple[int, int | None, str]]:
        """(lower cents, upper cents or None, code) per band."""
        edges = [0, *self.spend_bands_yuan]
        return [(lo * 100, hi * 100 if hi else None, f"spend:{lo}-{hi}" if hi else f"spend:{lo}+")
                for lo, hi in zip(edges, [*edges[1:], None], strict=True)]


# --- settings (one row, cached a few seconds per process) --------------------------------------

_document = RowDocument(TagSettings, TagRules, TagRules, row_id=SETTINGS_ID)


async def load_settings(conn: BaseDBAsyncClient | None = None, *, fresh: bool = False) -> TagRules:
    return await _document.load(conn, fresh=fresh)


def forget() -> None:
    """Drop this process's cached settings (tests that reset the database use it)."""
    _document.forget()


async def save_settings(rules: TagRules, *, actor: audit.Actor) -> TagRules:
    """Replace the thresholds (audited); they apply from the next recompute."""
    async with in_transaction() as conn:
        before = (await load_settings(conn, fresh=True)).model_dump(mode="json")
        data = await _document.save(rules, conn)
        await audit.record(actor=actor, action="tags.settings", target_type="tag_settings", target_id=SETTINGS_ID,
                           before=before, after=data, using_db=conn)
    return rules


def _ts(placeholder: str) -> str:
    """A timestamp parameter in a SELECT list: PostgreSQL would take it for text."""
    return f"CAST({placeholder} AS TIMESTAMPTZ)" if db.is_postgres() else placeholder


# --- manual tags -------------------------------------------------------------------------------


def render(tag: Tag, member_count: int | None = None) -> dict[str, Any]:
    view = {"id": tag.id, "code": tag.code, "name": tag.name, "kind": tag.kind, "group": tag.group,
            "created_at": tag.created_at.isoformat()}
    if member_count is not None:
        view["member_count"] = member_count
    return view


async def member_counts(tag_ids: list[int]) -> dict[int, int]:
    if not tag_ids:
        return {}
    marks = ", ".join(f"${i}" for i in range(1, len(tag_ids) + 1))
    rows = await db.fetch(f"SELECT tag_id, COUNT(*) AS n FROM member_tags WHERE tag_id IN ({marks}) GROUP BY tag_id",
                          *tag_ids)
    return {int(r["tag_id"]): int(r["n"]) for r in rows}


async def get_or_raise(*, tag_id: int) -> Tag:
    tag = await Tag.get_or_none(id=tag_id)
    if tag is None:
        raise TagNotFound(details={"tag_id": tag_id})
    return tag


async def create_tag(*, name: str, code: str | None = None, actor: audit.Actor) -> Tag:
    """A manual tag; its code defaults to its name. Codes with ":" are reserved for automatic tags."""
    code = (code or name).strip()
    if not 0 < len(code) <= 64 or ":" in code:
        raise field_errors({"code": "标签代码为 1 到 64 个字符，且不能包含冒号"})
    try:
        tag = await Tag.create(code=code, name=name.strip(), kind="manual", group="", created_at=clock.now())
    except IntegrityError:
        raise TagCodeTaken(details={"code": code}) from None
    await audit.record(actor=actor, action="tag.create", target_type="tag", target_id=tag.id, after=render(tag))
    return tag


def _manual(tag: Tag) -> None:
    if tag.kind != "manual":
        raise TagNotManual(details={"tag_id": tag.id, "code": tag.code})


async def tag_members(*, tag_id: int, member_ids: list[int], actor: audit.Actor) -> dict[str, Any]:
    """Apply a manual tag to active members; members who already carry it are left as they are."""
    tag = await get_or_raise(tag_id=tag_id)
    _manual(tag)
    ids = list(dict.fromkeys(member_ids))
    added: list[int] = []
    active: set[int] = set()
    async with in_transaction() as conn:
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            marks = ", ".join(f"${i}" for i in range(3, len(chunk) + 3))
            rows = await db.fetch(
                f"INSERT INTO member_tags (member_id, tag_id, source, created_at) SELECT m.id, $1, 'manual', "
                f"{_ts('$2')} FROM members m WHERE m.id IN ({marks}) AND m.status = 'active' "
                "ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING member_id",
                tag.id, clock.now(), *chunk, conn=conn)
            added += [int(r["member_id"]) for r in rows]
            active.update(await _active(chunk, conn))
        await audit.record(actor=actor, action="tag.members_add", target_type="tag", target_id=tag.id,
                           after={"member_ids": added}, using_db=conn)
    return {"tagged": len(added), "already": len(active) - len(added),
            "not_found": [i for i in ids if i not in active]}


async def _active(ids: list[int], conn: BaseDBAsyncClient) -> set[int]:
    marks = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
    rows = await db.fetch(f"SELECT id FROM members WHERE id IN ({marks}) AND status = 'active'", *ids, conn=conn)
    return {int(r["id"]) for r in rows}


async def untag_member(*, tag_id: int, member_id: int, actor: audit.Actor) -> bool:
    """Remove a manual tag from a member; True when it was there."""
    tag = await get_or_raise(tag_id=tag_id)
    _manual(tag)
    async with in_transaction() as conn:
        rows = await db.fetch("DELETE FROM member_tags WHERE tag_id = $1 AND member_id = $2 RETURNING member_id",
                              tag.id, member_id, conn=conn)
        if rows:
            await audit.record(actor=actor, action="tag.member_remove", member_id=member_id, target_type="tag",
                               target_id=tag.id, using_db=conn)
    return bool(rows)


async def tags_of(*, member_id: int) -> list[dict[str, Any]]:
    """A member's tags, manual first, then by code."""
    if not await Member.exists(id=member_id):
        raise MemberNotFound(details={"member_id": member_id})
    rows = await db.fetch(
        'SELECT t.id, t.code, t.name, t.kind, t."group", mt.source, mt.created_at FROM member_tags mt '
        "JOIN tags t ON t.id = mt.tag_id WHERE mt.member_id = $1 ORDER BY t.kind DESC, t.code", member_id)
    return [{"id": r["id"], "code": r["code"], "name": r["name"], "kind": r["kind"], "group": r["group"],
             "source": r["source"], "tagged_at": db.to_datetime(r["created_at"]).isoformat()} for r in rows]


# --- automatic tags ----------------------------------------------------------------------------

_EFFECTIVE = "o.status <> 'refunded'"
# Sorting and hashing a million members' figures in memory rather than in batches on disk; a plan this big
# is run once, so compiling it (JIT) costs more than it saves. For the recompute's own transactions only.
_BATCH_SETTINGS = "SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"


class _Sql:
    """Parameters for one group's statements, numbered ``$1``… in the order they are added."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


def _window_sql(since: str) -> str:
    """The one pass over the window's orders: per active member, channel and store, the orders that count
    (``n``), their net amount and the last placed."""
    return ("SELECT o.member_id, o.channel, o.store_id, COUNT(*) AS n, "
            "CAST(SUM(o.amount_cents - o.refunded_cents) AS BIGINT) AS net, MAX(o.placed_at) AS last_at "
            f"FROM orders o JOIN members m ON m.id = o.member_id WHERE m.status = 'active' AND {_EFFECTIVE} "
            f"AND o.placed_at >= {since} GROUP BY o.member_id, o.channel, o.store_id")


def _members_sql(window: str) -> str:
    """Per active member with an order in the window: its count ``f``, net amount ``net`` and last ``last_at``.
    Since ``rfm_recency_days`` is within the window, "the last order is recent" reads the same from here."""
    return (f"SELECT w.member_id, SUM(w.n) AS f, CAST(SUM(w.net) AS BIGINT) AS net, MAX(w.last_at) AS last_at "
            f"FROM {window} w GROUP BY w.member_id")


@dataclass(frozen=True)
class _Window:
    """Where a group reads the window's figures: ``orders`` (member, channel, store) and ``members``.
    Subqueries on SQLite; on PostgreSQL, the tables the recompute filled once for all the groups."""

    orders: str
    members: str


def _group_codes(group: str, q: _Sql, rules: TagRules, now: datetime, window: _Window) -> tuple[str, dict[str, str]]:
    """The SQL selecting (member_id, code) for one group, and the group's fixed tags (code -> name)."""
    def ago(days: int) -> str:
        return q.p(now - timedelta(days=days))

    if group == "rfm":
        recent, freq, money = ago(rules.rfm_recency_days), q.p(rules.rfm_frequency), q.p(rules.rfm_monetary_yuan * 100)
        sql = (f"SELECT s.member_id, 'rfm:' || (CASE WHEN s.net >= {money} THEN '重要' ELSE '一般' END) || "
               f"(CASE WHEN s.last_at >= {recent} THEN (CASE WHEN s.f >= {freq} THEN '价值' ELSE '发展' END) "
               f"ELSE (CASE WHEN s.f >= {freq} THEN '保持' ELSE '挽留' END) END) AS code FROM {window.members} s")
        return sql, {f"rfm:{c}": f"{c}客户" for c in RFM_CLASSES}
    if group == "value":  # 流失 is about the last order ever: the order figures
        sql = (f"SELECT s.member_id, 'value:忠诚' AS code FROM {window.members} s "
               f"WHERE s.f >= {q.p(rules.loyal_min_orders)} AND s.last_at >= {ago(rules.rfm_recency_days)} "
               f"UNION ALL SELECT s.member_id, 'value:大客户' FROM {window.members} s "
               f"WHERE s.net >= {q.p(rules.big_spender_yuan * 100)} "
               f"UNION ALL SELECT s.member_id, 'value:回头客' FROM {window.members} s "
               f"WHERE s.f >= {q.p(rules.returning_min_orders)} "
               "UNION ALL SELECT s.member_id, 'value:流失' FROM member_order_stats s JOIN members m ON m.id = s.member_id "
               f"WHERE m.status = 'active' AND s.order_count > 0 AND s.last_order_at < {ago(rules.churn_days)}")
        return sql, {f"value:{c}": name for c, name in VALUE_CLASSES.items()}
    if group == "activity":  # the last order ever: the figures alone (none that counts: no row or no last order)
        sql = ("SELECT m.id AS member_id, 'activity:' || (CASE WHEN s.last_order_at IS NULL THEN '未消费' "
               f"WHEN s.last_order_at >= {ago(rules.active_days)} THEN '活跃' "
               f"WHEN s.last_order_at >= {ago(rules.dormant_days)} THEN '沉默' "
               f"WHEN s.last_order_at >= {ago(rules.churn_days)} THEN '沉睡' ELSE '流失' END) AS code "
               "FROM members m LEFT JOIN member_order_stats s ON s.member_id = m.id WHERE m.status = 'active'")
        return sql, {f"activity:{c}": c for c in ACTIVITY_CLASSES}
    if group in ("channel", "store"):
        column = "w.channel" if group == "channel" else "w.store_id"
        ranked = (f"SELECT w.member_id, {column} AS ref, ROW_NUMBER() OVER (PARTITION BY w.member_id "
                  f"ORDER BY SUM(w.n) DESC, MAX(w.last_at) DESC, {column}) AS rn FROM {window.orders} w "
                  f"WHERE {column} IS NOT NULL GROUP BY w.member_id, {column}")
        sql = (f"SELECT x.member_id, '{group}:' || CAST(x.ref AS TEXT) AS code, x.ref FROM ({ranked}) x "
               "WHERE x.rn = 1")
        fixed = {f"channel:{c}": f"偏好渠道：{CHANNEL_NAMES.get(c, c)}" for c in CHANNELS} if group == "channel" else {}
        return sql, fixed
    bands = rules.spend_bands()
    cases = " ".join(f"WHEN s.net < {hi} THEN '{code}'" for _, hi, code in bands if hi is not None)
    sql = f"SELECT s.member_id, CASE {cases} ELSE '{bands[-1][2]}' END AS code FROM {window.members} s"
    return sql, {code: f"消费 {code.removeprefix('spend:')} 元" for _, _, code in bands}


_UPSERT_TAG = ('INSERT INTO tags (code, name, kind, "group", created_at) {values} '
               "ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE tags.kind = 'auto'")
_STORE_TAGS = ("SELECT DISTINCT d.code, substr('偏好门店：' || COALESCE(st.name, d.code), 1, 64), 'auto', {g}, {at} "
               "FROM ({codes}) d LEFT JOIN stores st ON st.id = d.ref WHERE TRUE")
_GROUP_TAGS = 'SELECT id FROM tags WHERE kind = \'auto\' AND "group" = $1 ORDER BY id'


def _desired(codes: str, g: str) -> str:
    return (f"SELECT d.member_id, t.id AS tag_id FROM ({codes}) d "
            f"JOIN tags t ON t.code = d.code AND t.kind = 'auto' AND t.\"group\" = {g}")


def _diff_sql(desired: str, n: int) -> str:
    """PostgreSQL: one statement that makes the member tags of the tag ids ``$n+1`` exactly the rows of
    ``desired`` (placeholders $1…$n), ``$n+2`` the time of the new ones. The wanted and the current rows are
    compared once (a full join), and only the differences are written, in member order (the indexes of
    member_tags grow at a few places instead of all over: a first recompute writes millions); the counts
    come back."""
    return (f"WITH wanted AS ({desired}), "
            f"current AS (SELECT mt.member_id, mt.tag_id FROM member_tags mt WHERE mt.tag_id = ANY(${n + 1}::int[])), "
            "diff AS MATERIALIZED (SELECT COALESCE(w.member_id, c.member_id) AS member_id, "
            "COALESCE(w.tag_id, c.tag_id) AS tag_id, c.member_id IS NULL AS missing FROM wanted w "
            "FULL JOIN current c ON c.member_id = w.member_id AND c.tag_id = w.tag_id "
            "WHERE w.member_id IS NULL OR c.member_id IS NULL), "
            "added AS (INSERT INTO member_tags (member_id, tag_id, source, created_at) "
            f"SELECT member_id, tag_id, 'auto', ${n + 2} FROM diff WHERE missing ORDER BY member_id, tag_id "
            "ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING 1), "
            "removed AS (DELETE FROM member_tags mt USING diff WHERE NOT diff.missing "
            "AND mt.member_id = diff.member_id AND mt.tag_id = diff.tag_id RETURNING 1) "
            "SELECT (SELECT COUNT(*) FROM added) AS added, (SELECT COUNT(*) FROM removed) AS removed")


async def _sync(conn: BaseDBAsyncClient, *, desired: str, params: list[Any], tag_ids: list[int],
                now: datetime) -> dict[str, int]:
    """Make the member tags of ``tag_ids`` exactly the (member_id, tag_id) rows of ``desired`` (placeholders
    $1…$n for ``params``): insert what is missing, delete what is stale."""
    if db.is_postgres():
        row = await db.fetch_one(_diff_sql(desired, len(params)), *params, tag_ids, now, conn=conn)
        assert row is not None
        return {"added": int(row["added"]), "removed": int(row["removed"])}
    at = f"${len(params) + 1}"
    added = await db.fetch(
        f"INSERT INTO member_tags (member_id, tag_id, source, created_at) SELECT x.member_id, x.tag_id, 'auto', "
        f"{at} FROM ({desired}) x WHERE TRUE ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING member_id",
        *params, now, conn=conn)
    if not tag_ids:
        return {"added": len(added), "removed": 0}
    mine = ", ".join(f"${n}" for n in range(len(params) + 1, len(params) + len(tag_ids) + 1))
    # A row-value NOT IN evaluates the subquery once on SQLite.
    removed = await db.fetch(
        f"DELETE FROM member_tags WHERE member_tags.tag_id IN ({mine}) AND (member_tags.member_id, "
        f"member_tags.tag_id) NOT IN (SELECT x.member_id, x.tag_id FROM ({desired}) x) RETURNING member_id",
        *params, *tag_ids, conn=conn)
    return {"added": len(added), "removed": len(removed)}


async def _recompute_sqlite(group: str, rules: TagRules, now: datetime) -> dict[str, int]:
    q = _Sql()
    orders = f"({_window_sql(q.p(now - timedelta(days=rules.window_days)))})"
    codes, fixed = _group_codes(group, q, rules, now, _Window(orders, f"({_members_sql(orders)})"))
    base = list(q.params)
    g, at = f"${len(base) + 1}", f"${len(base) + 2}"
    async with in_transaction() as conn:
        for code, name in fixed.items():
            await db.fetch(_UPSERT_TAG.format(values="VALUES ($1, $2, 'auto', $3, $4)"), code, name, group, now,
                           conn=conn)
        if group == "store":
            await db.fetch(_UPSERT_TAG.format(values=_STORE_TAGS.format(g=g, at=at, codes=codes)), *base, group, now,
                           conn=conn)
        tag_ids = [int(r["id"]) for r in await db.fetch(_GROUP_TAGS, group, conn=conn)]
        return await _sync(conn, desired=_desired(codes, g), params=[*base, group], tag_ids=tag_ids, now=now)


async def _recompute_postgres(rules: TagRules, now: datetime) -> dict[str, dict[str, int]]:
    """Every group on one pooled connection: the window's figures computed once into temporary tables of the
    connection (one pass over the window's orders), then each group in its own transaction reading them."""
    from tortoise import connections

    groups: dict[str, dict[str, int]] = {}
    async with connections.get("default").acquire_connection() as raw:
        try:
            async with raw.transaction():
                await raw.execute(_BATCH_SETTINGS)
                await raw.execute("CREATE TEMP TABLE auto_window (member_id BIGINT NOT NULL, channel TEXT NOT NULL, "
                                  "store_id INT, n BIGINT NOT NULL, net BIGINT NOT NULL, last_at TIMESTAMPTZ NOT NULL)")
                await raw.execute(f"INSERT INTO auto_window {_window_sql('$1')}",
                                  now - timedelta(days=rules.window_days))
                await raw.execute("CREATE TEMP TABLE auto_members AS " + _members_sql("auto_window"))
                await raw.execute("ANALYZE auto_window; ANALYZE auto_members")
            for group in GROUPS:
                groups[group] = await _recompute_group_postgres(raw, group, rules, now)
        finally:
            if not raw.is_in_transaction():
                await raw.execute("DROP TABLE IF EXISTS pg_temp.auto_window, pg_temp.auto_members")
    return groups


async def _recompute_group_postgres(raw: Any, group: str, rules: TagRules, now: datetime) -> dict[str, int]:
    q = _Sql()
    codes, fixed = _group_codes(group, q, rules, now, _Window("auto_window", "auto_members"))
    base = list(q.params)
    async with raw.transaction():
        await raw.execute(_BATCH_SETTINGS)
        for code, name in fixed.items():
            await raw.execute(_UPSERT_TAG.format(values="VALUES ($1, $2, 'auto', $3, $4)"), code, name, group, now)
        if group == "store":  # its codes once: the store tags are named from them, then the sync reads them
            await raw.execute("CREATE TEMP TABLE auto_codes (member_id BIGINT NOT NULL, code TEXT NOT NULL, ref INT) "
                              "ON COMMIT DROP")
            await raw.execute(f"INSERT INTO auto_codes SELECT d.member_id, d.code, d.ref FROM ({codes}) d", *base)
            codes, base = "SELECT member_id, code, ref FROM auto_codes", []
            await raw.execute(_UPSERT_TAG.format(values=_STORE_TAGS.format(
                g="$1", at="CAST($2 AS TIMESTAMPTZ)", codes=codes)), group, now)
        tag_ids = [int(r["id"]) for r in await raw.fetch(_GROUP_TAGS, group)]
        row = await raw.fetchrow(_diff_sql(_desired(codes, f"${len(base) + 1}"), len(base) + 1), *base, group,
                                 tag_ids, now)
    return {"added": int(row["added"]), "removed": int(row["removed"])}


async def set_auto_tag(code: str, *, name: str, group: str, member_sql: str, params: list[Any],
                       now: datetime | None = None) -> dict[str, int]:
    """Make the automatic tag ``code`` mark exactly the members ``member_sql`` selects (one column
    ``id``, placeholders $1…); the tag is created on first use. For other jobs' own tags."""
    now = now or clock.now()
    async with in_transaction() as conn:
        await db.fetch(_UPSERT_TAG.format(values="VALUES ($1, $2, 'auto', $3, $4)"), code, name, group, now,
                       conn=conn)
        row = await db.fetch_one("SELECT id, kind FROM tags WHERE code = $1", code, conn=conn)
        if row is None or row["kind"] != "auto":
            raise TagCodeTaken(details={"code": code})
        tag_id = int(row["id"])
        return await _sync(conn, params=list(params), now=now, tag_ids=[tag_id],
                           desired=f"SELECT s.id AS member_id, {tag_id} AS tag_id FROM ({member_sql}) s")


async def recompute_auto_tags(now: datetime | None = None) -> dict[str, Any]:
    """Recompute every automatic tag from orders and members, one transaction per group."""
    now = now or clock.now()
    rules = await load_settings(fresh=True)
    if db.is_postgres():
        groups = await _recompute_postgres(rules, now)
    else:
        groups = {group: await _recompute_sqlite(group, rules, now) for group in GROUPS}
    rows = await db.fetch(
        "SELECT t.code, COUNT(mt.id) AS n FROM tags t LEFT JOIN member_tags mt ON mt.tag_id = t.id "
        "WHERE t.kind = 'auto' GROUP BY t.code ORDER BY t.code")
    counts = {r["code"]: int(r["n"]) for r in rows}
    log.info("auto tags recomputed", extra={"groups": groups})
    return {"at": now.isoformat(), "groups": groups, "tags": counts}
