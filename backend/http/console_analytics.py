"""Console API for the analytics under /api/v1/admin/analytics: overview, members, sales, points, stored value,
coupons, messages and one touch's funnel and lift; and each table as CSV or XLSX (``/{area}/export``).

Every answer names its window (``from``, ``to``: merchant dates, at most 366 days; default the last 30 days to
today) with the previous period (环比) and the same days a year earlier (同比). Figures read the daily aggregates
(``backend.analytics``) for closed days and the base tables for today; member-state and finance figures (totals,
activity, balances, lots) read the base tables as they are now. Marketers and admins.
"""

from __future__ import annotations

import typing
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.analytics import exports as analytics_exports
from backend.analytics import lift, read
from backend.analytics.build import day_bounds, today
from backend.analytics.errors import MAX_DAYS, AnalyticsRangeInvalid, AnalyticsRangeTooLong
from backend.analytics.read import Filters, Reader, SplitReader, Window, figure, share
from backend.coupons.models import CouponTemplate
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok
from backend.http.console_exports import FILE, Day, _send
from backend.http.docs import Out, endpoint
from backend.http.validation import Id, Id32, parse_query
from backend.loyalty import program as programs
from backend.members.models import CHANNELS
from backend.stores.models import Store
from jobs import service as jobs_service

bp = Blueprint("console_analytics", url_prefix="/api/v1/admin/analytics")
TAG = "console"
RANGE = [*STAFF_AUTH_ERRORS, "ANALYTICS_RANGE_INVALID", "ANALYTICS_RANGE_TOO_LONG"]
DEFAULT_DAYS = 30
OrderChannel = Literal[CHANNELS]  # type: ignore[valid-type]
MessageChannel = Literal["sms", "email", "wechat"]
CHANNEL_NAMES = {"miniprogram": "小程序", "pos": "门店", "online": "线上商城", "third_party": "第三方平台",
                 "console": "后台", "sms": "短信", "email": "邮件", "wechat": "微信", "": "无"}
WAY_NAMES = {"claim": "领取", "admin": "发放", "mall": "积分商城", "reward": "奖励", "other": "其他"}
REASON_NAMES = {"no_consent": "未授权", "capped": "频次上限", "quiet_hours": "免打扰时段后过期", "expired": "过期",
                "cancelled": "已取消"}


# -- query ------------------------------------------------------------------------------------------------


class AnalyticsRangeQuery(BaseModel):
    from_: Day | None = Field(None, alias="from", description="YYYY-MM-DD, merchant time, inclusive; default: "
                                                              f"{DEFAULT_DAYS - 1} days before to")
    to: Day | None = Field(None, description=f"YYYY-MM-DD, merchant time, inclusive (default today); at most "
                                             f"{MAX_DAYS} days in all")


class AnalyticsMemberQuery(AnalyticsRangeQuery):
    store: Id32 | None = Field(None, description="members who registered at this store; orders, ledger entries "
                                                 "and redemptions at this store. Tier movements and coupons issued "
                                                 "or expired have no store or channel: store and channel do not "
                                                 "apply to them")
    channel: OrderChannel | None = Field(None, description="registration channel; order, entry or redemption "
                                                           "channel")
    tier: str | None = Field(None, pattern=r"^[a-z0-9_]{1,20}$", description="tier code (the tier at the time "
                                                                                "for daily figures, buyers and "
                                                                                "activity; the current one for "
                                                                                "member totals and the funnel)")


class AnalyticsSalesQuery(AnalyticsMemberQuery):
    pass


class AnalyticsPointsQuery(AnalyticsMemberQuery):
    pass


class AnalyticsCouponQuery(AnalyticsMemberQuery):
    template_id: Id | None = Field(None, description="one coupon template")


class AnalyticsMessageQuery(AnalyticsRangeQuery):
    channel: MessageChannel | None = Field(None, description="the channel a message went out on")
    purpose: Literal["marketing", "service"] | None = None


class ExportFormat(BaseModel):
    format: Literal["csv", "xlsx"] = Field("csv", description="csv (UTF-8 with BOM) or xlsx")


TABLE = ("daily: the area's daily aggregate rows (day × dimension values); any other: that table of the area's "
         "answer, the rows and columns the page shows")
Groups = Literal["daily", "series", "by_tier", "by_store", "by_channel"]


class AnalyticsMembersExportQuery(AnalyticsMemberQuery, ExportFormat):
    table: Literal["daily", "series", "by_tier", "by_store", "by_channel", "funnel"] = Field("daily", description=TABLE)


class AnalyticsSalesExportQuery(AnalyticsMemberQuery, ExportFormat):
    table: Groups = Field("daily", description=TABLE)


class AnalyticsStoredValueExportQuery(AnalyticsMemberQuery, ExportFormat):
    table: Literal["daily", "series", "by_tier", "by_store", "by_channel", "by_store_outstanding"] = Field(
        "daily", description=TABLE)


class AnalyticsCouponExportQuery(AnalyticsCouponQuery, ExportFormat):
    table: Literal["daily", "series", "by_template", "issued_by_way"] = Field("daily", description=TABLE)


class AnalyticsMessageExportQuery(AnalyticsMessageQuery, ExportFormat):
    table: Literal["daily", "series", "by_channel", "by_purpose", "not_sent_by_reason"] = Field(
        "daily", description=TABLE)


# -- answers ----------------------------------------------------------------------------------------------


class AnalyticsRange(Out):
    from_: date = Field(alias="from")
    to: date
    days: int
    previous_from: date = Field(description="the previous period of equal length (环比)")
    previous_to: date
    last_year_from: date = Field(description="the same days a year earlier (同比)")
    last_year_to: date
    live: bool = Field(description="today is in the window: its figures are read from the base tables")
    built_through: date | None = Field(description="the last day the aggregates hold; null: none built yet")


class Figure(Out):
    """A count or an amount with its comparisons; change and yoy are (value - base) / base, null when the base
    is zero (shown as —)."""

    value: int
    previous: int | None = Field(description="the previous period's value (环比 base); null: not comparable")
    last_year: int | None = Field(description="the same days a year earlier (同比 base); null: not comparable")
    change: float | None = Field(description="环比 ratio")
    yoy: float | None = Field(description="同比 ratio")


class RateFigure(Out):
    """A rate (0..1, or a frequency) with its comparisons; null when its denominator is zero."""

    value: float | None
    previous: float | None
    last_year: float | None
    change: float | None
    yoy: float | None


class FunnelStep(Out):
    step: str
    label: str
    count: int
    rate: float | None = Field(description="count ÷ the first step's count")
    step_rate: float | None = Field(description="count ÷ the previous step's count")


class Labelled(Out):
    key: str = Field(description="tier code, store id, channel, template id …")
    label: str


class MemberGroup(Labelled):
    new_members: int


class TierCount(Labelled):
    members: int = Field(description="active members in the tier now")
    new_members: int = Field(description="registered in the window at that tier")
    upgrades: int
    downgrades: int


class MemberPoint(Out):
    day: date
    new_members: int
    upgrades: int
    downgrades: int


class MemberFigures(Out):
    total: Figure = Field(description="active members registered by the window's end (previous / last year: by "
                                      "those periods' ends)")
    new_members: Figure
    active_30: Figure = Field(description="members with an order that counts in the 30 days to the window's last "
                                          "day (previous / last year: to those periods' last days)")
    active_90: Figure = Field(description="the same in 90 days")
    churn_risk: Figure = Field(description="members who ordered in the 366 days to the window's last day, but not "
                                           "in its last 90")
    repurchase_rate: RateFigure = Field(description="members with ≥ 2 orders in the window ÷ members with ≥ 1")
    buyers: Figure = Field(description="members with an order that counts (not refunded in full) in the window")
    upgrades: Figure
    downgrades: Figure


class MemberAnalytics(Out):
    range: AnalyticsRange
    figures: MemberFigures
    funnel: list[FunnelStep] = Field(description="registered in the window → first order → repeat order (so far)")
    series: list[MemberPoint]
    by_tier: list[TierCount]
    by_store: list[MemberGroup]
    by_channel: list[MemberGroup]


class SalesFigures(Out):
    orders: Figure
    gmv_cents: Figure = Field(description="member orders' amounts before discounts")
    discount_cents: Figure
    refund_cents: Figure = Field(description="refunded in the window (of orders of any day)")
    net_cents: Figure = Field(description="gmv − refunds")
    aov_cents: Figure = Field(description="客单价: gmv ÷ orders")
    buyers: Figure = Field(description="distinct members with an order that counts")
    frequency: RateFigure = Field(description="orders that count ÷ buyers")
    points_share: RateFigure = Field(description="orders paid partly with points ÷ orders")
    balance_share: RateFigure = Field(description="orders paid partly with stored value ÷ orders")
    coupon_share: RateFigure = Field(description="orders with a coupon discount ÷ orders")


class SalesPoint(Out):
    day: date
    orders: int
    gmv_cents: int
    discount_cents: int
    refund_cents: int
    aov_cents: int


class SalesGroup(Labelled):
    orders: int
    gmv_cents: int
    aov_cents: int
    refund_cents: int
    share: float | None = Field(description="of the window's gmv")


class SalesAnalytics(Out):
    range: AnalyticsRange
    figures: SalesFigures
    series: list[SalesPoint]
    by_tier: list[SalesGroup]
    by_store: list[SalesGroup]
    by_channel: list[SalesGroup]


class PointsFigures(Out):
    issued: Figure
    spent: Figure
    expired: Figure
    reversed: Figure = Field(description="clawed back by refunds")
    restored: Figure = Field(description="spent points given back by refunds")
    breakage: RateFigure = Field(description="expired ÷ issued")
    balance: Figure = Field(description="points held at the end of the window's last day (now when it is today), "
                                        "of the previous period's and a year earlier: the balance now less the "
                                        "ledger's changes since; previous and last_year null under filters")


class PointsLiability(Out):
    """Now, of the accounts: the tier filter applies (the current tier), store and channel do not; the points
    expiring take no filter."""

    balance: int = Field(description="points members hold now")
    debt: int = Field(description="points owed by members (refunds of spent points)")
    points_per_yuan: int = Field(description="the program's point value: points worth one yuan when spent")
    liability_cents: int = Field(description="balance at the point value")
    expiring_30: int = Field(description="points in lots expiring within 30 days")
    expiring_60: int
    expiring_90: int


class PointsPoint(Out):
    day: date
    issued: int
    spent: int
    expired: int
    reversed: int


class PointsGroup(Labelled):
    issued: int
    spent: int
    expired: int


class PointsAnalytics(Out):
    range: AnalyticsRange
    figures: PointsFigures
    liability: PointsLiability
    series: list[PointsPoint]
    by_tier: list[PointsGroup]
    by_store: list[PointsGroup]
    by_channel: list[PointsGroup]


class StoredValueFigures(Out):
    topups: Figure
    topup_principal_cents: Figure
    topup_bonus_cents: Figure
    spend_principal_cents: Figure
    spend_bonus_cents: Figure
    refund_principal_cents: Figure
    refund_bonus_cents: Figure
    outstanding_principal_cents: Figure = Field(description="principal held at the end of the window's last day "
                                                            "(now when it is today), with the previous period's "
                                                            "and a year earlier's, from the ledger's changes "
                                                            "since; the filters do not apply to it")
    outstanding_bonus_cents: Figure


class Reconciliation(Out):
    balance_principal_cents: int = Field(description="the sum of the members' principal balances")
    balance_bonus_cents: int
    entries_principal_cents: int = Field(description="the sum of every wallet entry's principal change")
    entries_bonus_cents: int
    difference_cents: int = Field(description="balances − entries, principal and bonus together")
    reconciled: bool


class StoreBalance(Labelled):
    principal_cents: int = Field(description="top-ups − spend + refunds at this store, ever (0: no store)")
    bonus_cents: int


class StoredValuePoint(Out):
    day: date
    topup_principal_cents: int
    topup_bonus_cents: int
    spend_principal_cents: int
    spend_bonus_cents: int


class StoredValueGroup(Labelled):
    topups: int
    topup_principal_cents: int
    spend_principal_cents: int
    spend_bonus_cents: int


class StoredValueAnalytics(Out):
    range: AnalyticsRange
    figures: StoredValueFigures
    outstanding_principal_cents: int = Field(description="held now, by every member (no filter applies)")
    outstanding_bonus_cents: int
    reconciliation: Reconciliation = Field(description="of every account and entry (no filter applies)")
    by_store_outstanding: list[StoreBalance]
    series: list[StoredValuePoint]
    by_tier: list[StoredValueGroup]
    by_store: list[StoredValueGroup]
    by_channel: list[StoredValueGroup]


class CouponFigures(Out):
    issued: Figure
    redeemed: Figure
    expired: Figure
    redemption_rate: RateFigure = Field(description="redeemed ÷ issued")
    discount_cents: Figure = Field(description="discount cost of the redemptions")
    order_gmv_cents: Figure = Field(description="amounts of the orders a coupon was used on")


class WayCount(Labelled):
    issued: int


class TemplateRow(Labelled):
    issued: int
    redeemed: int
    expired: int
    redemption_rate: float | None
    discount_cents: int
    order_gmv_cents: int


class CouponPoint(Out):
    day: date
    issued: int
    redeemed: int
    expired: int
    discount_cents: int


class CouponAnalytics(Out):
    range: AnalyticsRange
    figures: CouponFigures
    issued_by_way: list[WayCount]
    by_template: list[TemplateRow]
    series: list[CouponPoint]


class MessageFigures(Out):
    queued: Figure
    sent: Figure
    delivered: Figure
    failed: Figure
    not_sent: Figure = Field(description="no consent, capped, expired (quiet hours or otherwise), cancelled")
    unsubscribes: Figure
    sent_rate: RateFigure = Field(description="sent ÷ queued")
    delivery_rate: RateFigure = Field(description="delivered ÷ sent")
    unsubscribe_rate: RateFigure = Field(description="unsubscribes ÷ sent")


class ReasonCount(Labelled):
    count: int


class MessageGroup(Labelled):
    queued: int
    sent: int
    delivered: int
    failed: int
    not_sent: int
    unsubscribes: int


class MessagePoint(Out):
    day: date
    queued: int
    sent: int
    delivered: int
    failed: int


class MessageAnalytics(Out):
    range: AnalyticsRange
    figures: MessageFigures
    not_sent_by_reason: list[ReasonCount]
    by_channel: list[MessageGroup]
    by_purpose: list[MessageGroup]
    series: list[MessagePoint]


class OverviewFigures(Out):
    """The areas' headline figures, with the same filters (messages take none of them)."""

    members: Figure
    new_members: Figure
    active_30: Figure = Field(description="as in the members answer")
    active_90: Figure
    buyers: Figure
    repurchase_rate: RateFigure
    orders: Figure
    gmv_cents: Figure
    aov_cents: Figure
    points_issued: Figure
    points_balance: Figure = Field(description="held at the window's end, as in the points answer")
    points_liability_cents: int = Field(description="the balance now at the point value")
    topup_principal_cents: Figure
    outstanding_principal_cents: Figure = Field(description="stored value held at the window's end (no filter "
                                                            "applies)")
    outstanding_bonus_cents: Figure
    coupons_redeemed: Figure
    coupon_redemption_rate: RateFigure
    messages_sent: Figure


class OverviewPoint(Out):
    day: date
    new_members: int
    orders: int
    gmv_cents: int
    aov_cents: int


class Overview(Out):
    range: AnalyticsRange
    figures: OverviewFigures
    series: list[OverviewPoint]


class TouchGroup(Out):
    members: int
    converted: int
    orders: int
    revenue_cents: int
    conversion_rate: float | None


class TouchLift(Out):
    lift: float | None = Field(description="treatment's conversion rate − the hold-out's")
    ci_low: float | None = Field(description="95 % confidence interval (two-proportion z-test), low end")
    ci_high: float | None
    z: float | None
    p_value: float | None
    significant: bool = Field(description="the interval leaves out zero")


class TouchAnalytics(Out):
    touch_id: int
    name: str
    attribution_days: int
    funnel: list[FunnelStep] = Field(description="queued → sent → delivered → converted")
    treatment: TouchGroup | None
    holdout: TouchGroup | None
    lift: TouchLift


# -- helpers ----------------------------------------------------------------------------------------------


def _window(request: Request, params: AnalyticsRangeQuery) -> Window:
    tz = request.app.ctx.settings.tz
    last = params.to or today(tz)
    first = params.from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise AnalyticsRangeInvalid(details={"from": first.isoformat(), "to": last.isoformat()})
    if (last - first).days + 1 > MAX_DAYS:
        raise AnalyticsRangeTooLong(details={"max_days": MAX_DAYS, "days": (last - first).days + 1})
    return Window(first, last)


def _filters(params: BaseModel) -> Filters:
    return Filters(store_id=getattr(params, "store", None), channel=getattr(params, "channel", None),
                   tier=getattr(params, "tier", None), template_id=getattr(params, "template_id", None),
                   purpose=getattr(params, "purpose", None))


async def _range(request: Request, window: Window) -> dict:
    previous, last_year = window.previous(), window.last_year()
    built = await read.built_through()
    current = today(request.app.ctx.settings.tz)
    return {"from": window.first, "to": window.last, "days": window.days, "previous_from": previous.first,
            "previous_to": previous.last, "last_year_from": last_year.first, "last_year_to": last_year.last,
            "live": window.first <= current <= window.last, "built_through": built}


def _figures(names: list[str], cur: dict, prev: dict, yoy: dict) -> dict:
    return {name: figure(cur[name], prev[name], yoy[name]) for name in names}


def _rate(fn, cur: dict, prev: dict, yoy: dict) -> dict:
    return figure(fn(cur), fn(prev), fn(yoy))


def _aov(t: dict) -> int:
    return t["gmv_cents"] // t["orders"] if t["orders"] else 0


def _funnel(steps: list[tuple[str, str, int]]) -> list[dict]:
    out, first, before = [], None, None
    for step, label, count in steps:
        first = count if first is None else first
        out.append({"step": step, "label": label, "count": count, "rate": share(count, first),
                    "step_rate": share(count, before) if before is not None else share(count, count)})
        before = count
    return out


async def _labels(kind: str) -> dict[str, str]:
    if kind == "tier":
        return {tier.code: tier.name for tier in (await programs.load()).tiers}
    if kind == "store_id":
        return {str(id_): name for id_, name in await Store.all().values_list("id", "name")} | {"0": "无门店"}
    if kind == "template_id":
        return {str(id_): name for id_, name in await CouponTemplate.all().values_list("id", "name")}
    return CHANNEL_NAMES


async def _groups(reader: Reader, fact: str, window: Window, group: str, build) -> list[dict]:
    labels = await _labels(group)
    rows = await reader.sums(read.fact(fact), window, group)
    out = [{"key": str(key), "label": labels.get(str(key), str(key)), **build(sums)} for key, sums in rows.items()]
    return sorted(out, key=lambda row: row["key"])


def _json(value):
    """Dates as ISO text for the JSON answer."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _answer(body: dict) -> HTTPResponse:
    return ok(_json(body))


# -- routes -----------------------------------------------------------------------------------------------


@bp.get("/overview")
@endpoint(summary="The dashboard: members, sales, points, stored value, coupons and messages in one answer",
          tag=TAG, query=AnalyticsMemberQuery, response=Overview, errors=RANGE, operation_id="getAnalyticsOverview")
@staff_required(*CONSOLE)
async def overview(request: Request) -> HTTPResponse:
    params = parse_query(request, AnalyticsMemberQuery)
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = Reader(tz, filters)
    windows = (window, window.previous(), window.last_year())
    members = await reader.compared(read.fact("members"), window)
    sales = await reader.compared(read.fact("sales"), window)
    points = await reader.compared(read.fact("points"), window)
    wallet = await reader.compared(read.fact("stored_value"), window)
    coupon_fact = read.fact("coupons")
    coupons = await SplitReader(tz, filters, loose=tuple(m for m in coupon_fact.measures if m.startswith("issued")
                                                         or m == "expired")).compared(coupon_fact, window)
    messages = await Reader(tz, Filters()).compared(read.fact("messages"), window)
    lowest = await reader.lowest()
    totals = await read.member_totals(before=[_end(w, tz) for w in windows], filters=filters, lowest=lowest, tz=tz)
    bought = await read.buyers(windows=list(windows), tz=tz, filters=filters, lowest=lowest)
    active = await read.activity(days=[w.last for w in windows], tz=tz, filters=filters, lowest=lowest)
    outstanding = await read.points_outstanding(filters=filters, lowest=lowest)
    held = await read.balances_at(reader=reader, days=[w.last for w in windows], now=outstanding)
    everyone = await read.points_outstanding(filters=Filters(), lowest=lowest)
    stored = await read.balances_at(reader=Reader(tz, Filters()), days=[w.last for w in windows], now=everyone)
    program = await programs.load()
    member_series = dict(await reader.series(read.fact("members"), window))
    sales_series = await reader.series(read.fact("sales"), window)
    return _answer({
        "range": await _range(request, window),
        "figures": {
            "members": figure(*totals),
            "new_members": figure(*(t["new_members"] for t in members)),
            "active_30": figure(*(a["active_30"] for a in active)),
            "active_90": figure(*(a["active_90"] for a in active)),
            "buyers": figure(*(b["buyers"] for b in bought)),
            "repurchase_rate": figure(*(share(b["repeat_buyers"], b["buyers"]) for b in bought)),
            "orders": figure(*(t["orders"] for t in sales)),
            "gmv_cents": figure(*(t["gmv_cents"] for t in sales)),
            "aov_cents": figure(*(_aov(t) for t in sales)),
            "points_issued": figure(*(t["issued"] for t in points)),
            "points_balance": figure(held[0]["balance"] if held[0] else outstanding["balance"],
                                     *(h["balance"] if h else None for h in held[1:])),
            "points_liability_cents": outstanding["balance"] * 100 // program.redeem_points_per_yuan,
            "topup_principal_cents": figure(*(t["topup_principal_cents"] for t in wallet)),
            "outstanding_principal_cents": figure(*(h["principal"] for h in stored if h)),
            "outstanding_bonus_cents": figure(*(h["bonus"] for h in stored if h)),
            "coupons_redeemed": figure(*(t["redeemed"] for t in coupons)),
            "coupon_redemption_rate": figure(*(share(t["redeemed"], t["issued"]) for t in coupons)),
            "messages_sent": figure(*(t["sent"] for t in messages)),
        },
        "series": [{"day": day, "new_members": member_series[day]["new_members"], "orders": s["orders"],
                    "gmv_cents": s["gmv_cents"], "aov_cents": _aov(s)} for day, s in sales_series],
    })


def _end(window: Window, tz) -> object:
    """The window's end as an instant: the end of its last day, or now when that is later."""
    return min(day_bounds(window.last, tz)[1], read.anchor())


@bp.get("/members")
@endpoint(summary="Members: total, new, active, repurchase, tier movements, the registration → order funnel",
          tag=TAG, query=AnalyticsMemberQuery, response=MemberAnalytics, errors=RANGE, operation_id="getAnalyticsMembers")
@staff_required(*CONSOLE)
async def members(request: Request) -> HTTPResponse:
    return _answer(await _members(request, parse_query(request, AnalyticsMemberQuery)))


async def _members(request: Request, params: Any) -> dict:
    """The members answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = SplitReader(tz, filters, loose=("upgrades", "downgrades"))
    fact = read.fact("members")
    cur, prev, yoy = await reader.compared(fact, window)
    lowest = await reader.lowest()
    windows = (window, window.previous(), window.last_year())
    totals = await read.member_totals(before=[_end(w, tz) for w in windows], filters=filters, lowest=lowest, tz=tz)
    bought = await read.buyers(windows=list(windows), tz=tz, filters=filters, lowest=lowest)
    active = await read.activity(days=[w.last for w in windows], tz=tz, filters=filters, lowest=lowest)
    funnel = await read.funnel(window=window, tz=tz, filters=filters, lowest=lowest)
    everyone = None
    if filters.store_id is None and filters.channel is None:  # the tier counts need the active members now
        everyone = (await read.member_totals(before=[read.anchor()], filters=Filters(), lowest=lowest, tz=tz))[0]
    tiers = await read.members_by_tier(filters=filters, lowest=lowest, total=everyone)
    tier_rows = await reader.sums(fact, window, "tier")
    labels = await _labels("tier")
    zero = dict.fromkeys(fact.measures, 0)
    by_tier = [{"key": code, "label": labels.get(code, code), "members": tiers.get(code, 0),
                **{m: tier_rows.get(code, zero)[m] for m in fact.measures}}
               for code in [*labels, *sorted((set(tier_rows) | set(tiers)) - set(labels))]
               if filters.tier in (None, code)]
    return {
        "range": await _range(request, window),
        "figures": {
            "total": figure(*totals),
            "new_members": figure(cur["new_members"], prev["new_members"], yoy["new_members"]),
            **{key: figure(*(a[key] for a in active)) for key in ("active_30", "active_90", "churn_risk")},
            "repurchase_rate": figure(*(share(b["repeat_buyers"], b["buyers"]) for b in bought)),
            "buyers": figure(*(b["buyers"] for b in bought)),
            "upgrades": figure(cur["upgrades"], prev["upgrades"], yoy["upgrades"]),
            "downgrades": figure(cur["downgrades"], prev["downgrades"], yoy["downgrades"]),
        },
        "funnel": _funnel([("registered", "注册", funnel["registered"]), ("first_order", "首单", funnel["first_order"]),
                           ("repeat_order", "复购", funnel["repeat_order"])]),
        "series": [{"day": day, **sums} for day, sums in await reader.series(fact, window)],
        "by_tier": by_tier,
        "by_store": [row for row in await _groups(reader, "members", window, "store_id",
                                                  lambda s: {"new_members": s["new_members"]})
                     if row["new_members"]],
        "by_channel": [row for row in await _groups(reader, "members", window, "channel",
                                                    lambda s: {"new_members": s["new_members"]})
                       if row["new_members"]],
    }


def _sales_group(total_gmv: int):
    def build(s: dict) -> dict:
        return {"orders": s["orders"], "gmv_cents": s["gmv_cents"], "aov_cents": _aov(s),
                "refund_cents": s["refund_cents"], "share": share(s["gmv_cents"], total_gmv)}
    return build


@bp.get("/sales")
@endpoint(summary="Sales of member orders: orders, GMV, 客单价, frequency, refunds, how they were paid",
          tag=TAG, query=AnalyticsSalesQuery, response=SalesAnalytics, errors=RANGE, operation_id="getAnalyticsSales")
@staff_required(*CONSOLE)
async def sales(request: Request) -> HTTPResponse:
    return _answer(await _sales(request, parse_query(request, AnalyticsSalesQuery)))


async def _sales(request: Request, params: Any) -> dict:
    """The sales answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = Reader(tz, filters)
    fact = read.fact("sales")
    cur, prev, yoy = periods = await reader.compared(fact, window)
    lowest = await reader.lowest()
    bought = await read.buyers(windows=[window, window.previous(), window.last_year()], tz=tz, filters=filters,
                               lowest=lowest)
    for t in periods:
        t["net_cents"] = t["gmv_cents"] - t["refund_cents"]
        t["aov_cents"] = _aov(t)
    build = _sales_group(cur["gmv_cents"])
    return {
        "range": await _range(request, window),
        "figures": {
            **_figures(["orders", "gmv_cents", "discount_cents", "refund_cents", "net_cents", "aov_cents"],
                       cur, prev, yoy),
            "buyers": figure(*(b["buyers"] for b in bought)),
            "frequency": figure(*(share(b["orders"], b["buyers"]) for b in bought)),
            "points_share": _rate(lambda t: share(t["points_orders"], t["orders"]), cur, prev, yoy),
            "balance_share": _rate(lambda t: share(t["balance_orders"], t["orders"]), cur, prev, yoy),
            "coupon_share": _rate(lambda t: share(t["coupon_orders"], t["orders"]), cur, prev, yoy),
        },
        "series": [{"day": day, "orders": s["orders"], "gmv_cents": s["gmv_cents"],
                    "discount_cents": s["discount_cents"], "refund_cents": s["refund_cents"], "aov_cents": _aov(s)}
                   for day, s in await reader.series(fact, window)],
        "by_tier": await _groups(reader, "sales", window, "tier", build),
        "by_store": await _groups(reader, "sales", window, "store_id", build),
        "by_channel": await _groups(reader, "sales", window, "channel", build),
    }


@bp.get("/points")
@endpoint(summary="Points (finance): issued, spent, expired, reversed, breakage; the balance, its liability at "
                  "the point value and what expires in 30 / 60 / 90 days", tag=TAG, query=AnalyticsPointsQuery,
          response=PointsAnalytics, errors=RANGE, operation_id="getAnalyticsPoints")
@staff_required(*CONSOLE)
async def points(request: Request) -> HTTPResponse:
    return _answer(await _points(request, parse_query(request, AnalyticsPointsQuery)))


async def _points(request: Request, params: Any) -> dict:
    """The points answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = Reader(tz, filters)
    fact = read.fact("points")
    cur, prev, yoy = await reader.compared(fact, window)
    program = await programs.load()
    outstanding = await read.points_outstanding(filters=filters, lowest=await reader.lowest())
    expiring = await read.expiring(now=read.anchor())

    def group(s: dict) -> dict:
        return {"issued": s["issued"], "spent": s["spent"], "expired": s["expired"]}

    held = await read.balances_at(reader=reader, days=[w.last for w in (window, window.previous(),
                                                                        window.last_year())], now=outstanding)
    balance = figure(held[0]["balance"] if held[0] else outstanding["balance"],
                     *(h["balance"] if h else None for h in held[1:]))
    return {
        "range": await _range(request, window),
        "figures": {**_figures(["issued", "spent", "expired", "reversed", "restored"], cur, prev, yoy),
                    "breakage": _rate(lambda t: share(t["expired"], t["issued"]), cur, prev, yoy),
                    "balance": balance},
        "liability": {"balance": outstanding["balance"], "debt": outstanding["debt"],
                      "points_per_yuan": program.redeem_points_per_yuan,
                      "liability_cents": outstanding["balance"] * 100 // program.redeem_points_per_yuan,
                      **{f"expiring_{days}": expiring[days] for days in read.EXPIRING_DAYS}},
        "series": [{"day": day, "issued": s["issued"], "spent": s["spent"], "expired": s["expired"],
                    "reversed": s["reversed"]} for day, s in await reader.series(fact, window)],
        "by_tier": await _groups(reader, "points", window, "tier", group),
        "by_store": await _groups(reader, "points", window, "store_id", group),
        "by_channel": await _groups(reader, "points", window, "channel", group),
    }


@bp.get("/stored-value")
@endpoint(summary="Stored value (finance, 预付卡): top-ups, spend, refunds; outstanding principal and bonus, by "
                  "store; the reconciliation of balances against the wallet entries", tag=TAG, query=AnalyticsPointsQuery,
          response=StoredValueAnalytics, errors=RANGE, operation_id="getAnalyticsStoredValue")
@staff_required(*CONSOLE)
async def stored_value(request: Request) -> HTTPResponse:
    return _answer(await _stored_value(request, parse_query(request, AnalyticsPointsQuery)))


async def _stored_value(request: Request, params: Any) -> dict:
    """The stored-value answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = Reader(tz, filters)
    fact = read.fact("stored_value")
    cur, prev, yoy = await reader.compared(fact, window)
    balances = await read.points_outstanding(filters=Filters(), lowest=await reader.lowest())
    books = await read.wallet_reconciliation()
    ever = Window(date(2000, 1, 1), today(tz))
    labels = await _labels("store_id")
    by_store = await reader.sums(fact, ever, "store_id", filters=Filters())
    difference = (books["balance_principal"] + books["balance_bonus"] - books["entries_principal"]
                  - books["entries_bonus"])

    def group(s: dict) -> dict:
        return {m: s[m] for m in ("topups", "topup_principal_cents", "spend_principal_cents", "spend_bonus_cents")}

    held = await read.balances_at(reader=Reader(tz, Filters()), now=balances,
                                  days=[w.last for w in (window, window.previous(), window.last_year())])
    return {
        "range": await _range(request, window),
        "figures": {**_figures(["topups", "topup_principal_cents", "topup_bonus_cents", "spend_principal_cents",
                                "spend_bonus_cents", "refund_principal_cents", "refund_bonus_cents"], cur, prev, yoy),
                    "outstanding_principal_cents": figure(*(h["principal"] for h in held if h)),
                    "outstanding_bonus_cents": figure(*(h["bonus"] for h in held if h))},
        "outstanding_principal_cents": balances["principal"],
        "outstanding_bonus_cents": balances["bonus"],
        "reconciliation": {"balance_principal_cents": books["balance_principal"],
                           "balance_bonus_cents": books["balance_bonus"],
                           "entries_principal_cents": books["entries_principal"],
                           "entries_bonus_cents": books["entries_bonus"],
                           "difference_cents": difference, "reconciled": difference == 0},
        "by_store_outstanding": sorted(
            ({"key": str(key), "label": labels.get(str(key), str(key)), "principal_cents": s["net_principal_cents"],
              "bonus_cents": s["net_bonus_cents"]} for key, s in by_store.items()), key=lambda row: row["key"]),
        "series": [{"day": day, **{m: s[m] for m in ("topup_principal_cents", "topup_bonus_cents",
                                                     "spend_principal_cents", "spend_bonus_cents")}}
                   for day, s in await reader.series(fact, window)],
        "by_tier": await _groups(reader, "stored_value", window, "tier", group),
        "by_store": await _groups(reader, "stored_value", window, "store_id", group),
        "by_channel": await _groups(reader, "stored_value", window, "channel", group),
    }


@bp.get("/coupons")
@endpoint(summary="Coupons per template and in total: issued by way, redeemed, expired, redemption rate, "
                  "discount cost, GMV of the orders that used one", tag=TAG, query=AnalyticsCouponQuery,
          response=CouponAnalytics, errors=RANGE, operation_id="getAnalyticsCoupons")
@staff_required(*CONSOLE)
async def coupons(request: Request) -> HTTPResponse:
    return _answer(await _coupons(request, parse_query(request, AnalyticsCouponQuery)))


async def _coupons(request: Request, params: Any) -> dict:
    """The coupons answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    fact = read.fact("coupons")
    reader = SplitReader(tz, filters, loose=tuple(m for m in fact.measures if m.startswith("issued") or m == "expired"))
    cur, prev, yoy = await reader.compared(fact, window)

    def row(s: dict) -> dict:
        return {"issued": s["issued"], "redeemed": s["redeemed"], "expired": s["expired"],
                "redemption_rate": share(s["redeemed"], s["issued"]), "discount_cents": s["discount_cents"],
                "order_gmv_cents": s["order_gmv_cents"]}

    return {
        "range": await _range(request, window),
        "figures": {**_figures(["issued", "redeemed", "expired", "discount_cents", "order_gmv_cents"], cur, prev, yoy),
                    "redemption_rate": _rate(lambda t: share(t["redeemed"], t["issued"]), cur, prev, yoy)},
        "issued_by_way": [{"key": way, "label": label, "issued": cur[f"issued_{way}"]}
                          for way, label in WAY_NAMES.items()],
        "by_template": await _groups(reader, "coupons", window, "template_id", row),
        "series": [{"day": day, **{m: s[m] for m in ("issued", "redeemed", "expired", "discount_cents")}}
                   for day, s in await reader.series(fact, window)],
    }


NOT_SENT = ("no_consent", "capped", "quiet_hours", "expired", "cancelled")


def _not_sent(t: dict) -> int:
    return sum(t[m] for m in NOT_SENT)


@bp.get("/messages")
@endpoint(summary="Messages per channel and purpose: queued, sent, delivered, failed, not sent and why, "
                  "unsubscribes", tag=TAG, query=AnalyticsMessageQuery, response=MessageAnalytics, errors=RANGE,
          operation_id="getAnalyticsMessages",
          description="Messages count on the day they were queued, in the state they are in now.")
@staff_required(*CONSOLE)
async def messages(request: Request) -> HTTPResponse:
    return _answer(await _messages(request, parse_query(request, AnalyticsMessageQuery)))


async def _messages(request: Request, params: Any) -> dict:
    """The messages answer, before JSON (dates as dates): also what its table exports read."""
    window, tz, filters = _window(request, params), request.app.ctx.settings.tz, _filters(params)
    reader = Reader(tz, filters)
    fact = read.fact("messages")
    periods = await reader.compared(fact, window)
    for t in periods:
        t["not_sent"] = _not_sent(t)
    cur, prev, yoy = periods

    def group(s: dict) -> dict:
        return {"queued": s["queued"], "sent": s["sent"], "delivered": s["delivered"], "failed": s["failed"],
                "not_sent": _not_sent(s), "unsubscribes": s["unsubscribes"]}

    purposes = await reader.sums(fact, window, "purpose")
    return {
        "range": await _range(request, window),
        "figures": {**_figures(["queued", "sent", "delivered", "failed", "not_sent", "unsubscribes"], cur, prev, yoy),
                    "sent_rate": _rate(lambda t: share(t["sent"], t["queued"]), cur, prev, yoy),
                    "delivery_rate": _rate(lambda t: share(t["delivered"], t["sent"]), cur, prev, yoy),
                    "unsubscribe_rate": _rate(lambda t: share(t["unsubscribes"], t["sent"]), cur, prev, yoy)},
        "not_sent_by_reason": [{"key": m, "label": REASON_NAMES[m], "count": cur[m]} for m in NOT_SENT],
        "by_channel": await _groups(reader, "messages", window, "channel", group),
        "by_purpose": sorted(({"key": key, "label": {"marketing": "营销", "service": "服务"}.get(key, key), **group(s)}
                              for key, s in purposes.items()), key=lambda row: row["key"]),
        "series": [{"day": day, **{m: s[m] for m in ("queued", "sent", "delivered", "failed")}}
                   for day, s in await reader.series(fact, window)],
    }


@bp.get("/touches/<touch_id:id>")
@endpoint(summary="One touch: its funnel (queued → sent → delivered → converted) and its conversion lift against "
                  "the hold-out with a 95 % confidence interval", tag=TAG, response=TouchAnalytics,
          errors=[*STAFF_AUTH_ERRORS, "TOUCH_NOT_FOUND"], operation_id="getAnalyticsTouch")
@staff_required(*CONSOLE)
async def touch(request: Request, touch_id: int) -> HTTPResponse:
    row = await jobs_service.get_touch(touch_id)
    stats = await jobs_service.touch_stats(touch_id)
    from jobs import touches

    steps = touches.funnel(stats)
    conversions = stats["conversions"]
    treatment, holdout = conversions["treatment"], conversions["holdout"]
    tested = lift.two_proportions(treatment["converted"] if treatment else 0, treatment["members"] if treatment else 0,
                                  holdout["converted"] if holdout else 0, holdout["members"] if holdout else 0)
    return _answer({
        "touch_id": touch_id, "name": row.name, "attribution_days": conversions["attribution_days"],
        "funnel": _funnel([("queued", "已排队", steps["queued"]), ("sent", "已发送", steps["sent"]),
                           ("delivered", "已送达", steps["delivered"]), ("converted", "已转化", steps["converted"])]),
        "treatment": treatment, "holdout": holdout, "lift": tested,
    })


# -- exports ----------------------------------------------------------------------------------------------

EXPORT_DESCRIPTION = ("The area's daily aggregate rows (one per day and dimension values) of the window, with "
                      "the filters, or (``table``) one table of the area's answer as the page shows it; CSV (UTF-8 "
                      "with a BOM, Chinese headings) or XLSX. Audited (export.analytics_<area>).")
EXPORT_ERRORS = [*RANGE, "EXPORT_TOO_LARGE"]


async def _export(request: Request, area: str, model: type[BaseModel]) -> None:
    params = parse_query(request, model)
    window = _window(request, params)
    if params.table == "daily":
        export = analytics_exports.export(area=area, window=window, filters=_filters(params),
                                          tz=request.app.ctx.settings.tz)
    else:
        answer, shape = ANSWERS[area]
        body = await answer(request, params)
        row_model = typing.get_args(shape.model_fields[params.table].annotation)[0]
        filters = {k: v for k, v in vars(_filters(params)).items() if v is not None}
        export = analytics_exports.table_export(area=area, table=params.table, fields=list(row_model.model_fields),
                                                rows=body[params.table], window=window, filters=filters)
    await _send(request, export, params.format)


def _export_route(area: str, path: str, title: str, model: type[BaseModel], operation_id: str) -> None:
    async def handler(request: Request) -> None:
        await _export(request, area, model)

    handler.__name__ = f"export_analytics_{area}"
    wrapped = staff_required(*CONSOLE)(handler)
    wrapped = endpoint(summary=f"Export the {title} analytics table", tag=TAG, query=model, response=FILE,
                       errors=EXPORT_ERRORS, operation_id=operation_id, description=EXPORT_DESCRIPTION)(wrapped)
    bp.add_route(wrapped, f"/{path}/export", methods=["GET"], name=f"export_analytics_{area}")


ANSWERS = {"members": (_members, MemberAnalytics), "sales": (_sales, SalesAnalytics), "points": (_points, PointsAnalytics),
           "stored_value": (_stored_value, StoredValueAnalytics), "coupons": (_coupons, CouponAnalytics),
           "messages": (_messages, MessageAnalytics)}

for _area, _path, _title, _model, _op in (
        ("members", "members", "members", AnalyticsMembersExportQuery, "exportAnalyticsMembers"),
        ("sales", "sales", "sales", AnalyticsSalesExportQuery, "exportAnalyticsSales"),
        ("points", "points", "points", AnalyticsSalesExportQuery, "exportAnalyticsPoints"),
        ("stored_value", "stored-value", "stored-value", AnalyticsStoredValueExportQuery, "exportAnalyticsStoredValue"),
        ("coupons", "coupons", "coupons", AnalyticsCouponExportQuery, "exportAnalyticsCoupons"),
        ("messages", "messages", "messages", AnalyticsMessageExportQuery, "exportAnalyticsMessages")):
    _export_route(_area, _path, _title, _model, _op)
