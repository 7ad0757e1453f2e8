"""Each analytics table as an export: its daily rows (day and dimension values) over a window, with the filters;
closed days from the aggregates, today's rows read live, as the dashboard reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend import db
from backend.analytics.build import today
from backend.analytics.facts import FACTS
from backend.analytics.read import Filters, Reader, Window
from backend.exports.service import BATCH, Export
from backend.exports.writers import Column
from backend.stores.models import Store

TITLES = {"members": ("会员分析", "analytics-members"), "sales": ("销售分析", "analytics-sales"),
          "points": ("积分分析", "analytics-points"), "stored_value": ("储值分析", "analytics-stored-value"),
          "coupons": ("优惠券分析", "analytics-coupons"), "messages": ("消息分析", "analytics-messages")}
HEADINGS = {
    "store_id": Column("门店"), "channel": Column("渠道"), "tier": Column("等级"), "template_id": Column("券模板ID", "int"),
    "purpose": Column("用途"),
    "new_members": Column("新会员", "int"), "upgrades": Column("升级", "int"), "downgrades": Column("降级", "int"),
    "orders": Column("订单数", "int"), "buyers": Column("当日购买会员数", "int"), "gmv_cents": Column("销售额", "money"),
    "discount_cents": Column("优惠金额", "money"), "points_orders": Column("积分抵扣订单", "int"),
    "points_value_cents": Column("积分抵扣金额", "money"), "balance_orders": Column("储值支付订单", "int"),
    "balance_cents": Column("储值支付金额", "money"), "coupon_orders": Column("用券订单", "int"),
    "coupon_gmv_cents": Column("用券订单金额", "money"), "refunds": Column("退款笔数", "int"),
    "refund_cents": Column("退款金额", "money"),
    "issued": Column("发放", "int"), "spent": Column("消耗", "int"), "expired": Column("过期", "int"),
    "reversed": Column("退款扣回", "int"), "restored": Column("退款退回", "int"), "adjusted_out": Column("调减", "int"),
    "net": Column("净变动", "int"),
    "topups": Column("充值笔数", "int"), "topup_principal_cents": Column("充值本金", "money"),
    "topup_bonus_cents": Column("充值赠送", "money"), "spend_principal_cents": Column("消费本金", "money"),
    "spend_bonus_cents": Column("消费赠送", "money"), "refund_principal_cents": Column("退回本金", "money"),
    "refund_bonus_cents": Column("退回赠送", "money"), "net_principal_cents": Column("本金净变动", "money"),
    "net_bonus_cents": Column("赠送净变动", "money"),
    "issued_claim": Column("领取", "int"), "issued_admin": Column("发放（后台）", "int"),
    "issued_mall": Column("积分商城", "int"), "issued_reward": Column("奖励", "int"),
    "issued_other": Column("其他方式", "int"), "redeemed": Column("核销", "int"),
    "order_gmv_cents": Column("用券订单金额", "money"),
    "queued": Column("排队", "int"), "sent": Column("已发送", "int"), "delivered": Column("已送达", "int"),
    "failed": Column("失败", "int"), "no_consent": Column("未授权", "int"), "capped": Column("频次上限", "int"),
    "quiet_hours": Column("免打扰过期", "int"), "cancelled": Column("已取消", "int"), "pending": Column("处理中", "int"),
    "unsubscribes": Column("退订", "int"),
}
# The coupon table's issue column reads 发放 in the points table too; in its own table it is the total.
_COUPON_HEADINGS = {"issued": Column("发放合计", "int"), "expired": Column("过期", "int"),
                    "discount_cents": Column("优惠成本", "money")}


def columns(area: str) -> list[Column]:
    fact = FACTS[area]
    headings = {**HEADINGS, **(_COUPON_HEADINGS if area == "coupons" else {})}
    return [Column("日期", "date"), *(headings[name] for name in fact.columns)]


def export(*, area: str, window: Window, filters: Filters, tz: ZoneInfo, batch: int = BATCH) -> Export:
    """The area's rows by day, then dimension values."""
    title, slug = TITLES[area]
    applying = filters.applying(FACTS[area])
    return Export(kind=f"analytics_{area}", title=title, slug=slug,
                  period=f"{window.first.isoformat()}_{window.last.isoformat()}", columns=columns(area),
                  filters={"from": window.first.isoformat(), "to": window.last.isoformat(), **applying},
                  batches=_batches(area, window, filters, tz, batch))


async def _batches(area: str, window: Window, filters: Filters, tz: ZoneInfo,
                   batch: int) -> AsyncIterator[list[list[Any]]]:
    fact = FACTS[area]
    stores = {id_: code for id_, code in await Store.all().values_list("id", "code")}
    applying = filters.applying(fact)
    current = today(tz)
    closed_last = min(window.last, current - timedelta(days=1))

    def row(day: Any, values: dict[str, Any]) -> list[Any]:
        cells: list[Any] = [db.to_date(day)]
        for name in fact.columns:
            value = values[name]
            cells.append(stores.get(int(value), "") if name == "store_id" else
                         int(value) if name in fact.measures or name == "template_id" else value)
        return cells

    def day_param(day: Any) -> Any:
        return day if db.is_postgres() else day.isoformat()

    last_day, last_id = window.first - timedelta(days=1), 0
    while window.first <= closed_last:
        # Keyset on (day, id): the rows come day by day, each day's in the order the rebuild wrote them.
        where = ["day <= $1", "(day > $2 OR (day = $2 AND id > $3))"]
        args: list[Any] = [day_param(closed_last), day_param(last_day), last_id]
        for column, value in applying.items():
            args.append(value)
            where.append(f"{column} = ${len(args)}")
        rows = await db.fetch(f"SELECT id, day, {', '.join(fact.columns)} FROM {fact.table} "
                              f"WHERE {' AND '.join(where)} ORDER BY day, id LIMIT {batch}", *args)
        if not rows:
            break
        yield [row(r["day"], r) for r in rows]
        if len(rows) < batch:
            break
        last_day, last_id = db.to_date(rows[-1]["day"]), int(rows[-1]["id"])
    if window.first <= current <= window.last:
        live = [r for r in await Reader(tz, filters).live_rows(fact)
                if all(r[column] == value for column, value in applying.items())]
        if live:
            yield [row(current, r) for r in sorted(live, key=lambda r: tuple(str(r[d]) for d in fact.dims))]


# A table of an area's answer, as the page shows it: its columns by field name.
TABLE_TITLES = {"series": ("每日", "daily"), "by_tier": ("按等级", "by-tier"), "by_store": ("按门店", "by-store"),
                "by_channel": ("按渠道", "by-channel"), "funnel": ("转化漏斗", "funnel"),
                "by_template": ("按券模板", "by-template"), "issued_by_way": ("按发放方式", "by-way"),
                "by_purpose": ("按用途", "by-purpose"), "not_sent_by_reason": ("未发送原因", "not-sent"),
                "by_store_outstanding": ("各门店储值", "store-balances")}
TABLE_HEADINGS = {
    "day": Column("日期", "date"), "key": Column("代码"), "label": Column("名称"), "aov_cents": Column("客单价", "money"),
    "share": Column("占销售额"), "members": Column("当前会员", "int"), "redemption_rate": Column("核销率"),
    "count": Column("数量", "int"), "step": Column("阶段代码"), "rate": Column("占第一步"),
    "step_rate": Column("占上一步"), "principal_cents": Column("本金", "money"), "bonus_cents": Column("赠送", "money"),
    "not_sent": Column("未发送", "int"), "buyers": Column("购买会员数", "int"),
}
RATES = ("share", "redemption_rate", "rate", "step_rate")


def table_export(*, area: str, table: str, fields: list[str], rows: list[dict[str, Any]], window: Window,
                 filters: dict[str, Any]) -> Export:
    """One table of the area's answer (``rows``, its ``fields`` in order), as the page shows it."""
    title, slug = TITLES[area]
    part, part_slug = TABLE_TITLES[table]
    headings = {**HEADINGS, **(_COUPON_HEADINGS if area == "coupons" else {}), **TABLE_HEADINGS}
    columns = [headings.get(name, Column(name)) for name in fields]

    def cell(name: str, value: Any) -> Any:
        if name in RATES:
            return "" if value is None else f"{value * 100:.2f}%"
        if name == "day" or headings.get(name, Column(name)).kind != "text":
            return value
        return "" if value is None else str(value)

    async def batches() -> AsyncIterator[list[list[Any]]]:
        yield [[cell(name, row.get(name)) for name in fields] for row in rows]

    return Export(kind=f"analytics_{area}", title=f"{title}-{part}", slug=f"{slug}-{part_slug}",
                  period=f"{window.first.isoformat()}_{window.last.isoformat()}", columns=columns,
                  filters={"from": window.first.isoformat(), "to": window.last.isoformat(), "table": table, **filters},
                  batches=batches())
