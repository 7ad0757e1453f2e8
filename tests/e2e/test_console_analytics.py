"""The console's 数据分析 in a real browser, against a shop's few days of history written through the services: the
dashboard shows the API's figures with 环比 / 同比 for the same filters; a filter changes the numbers and the URL,
and reloading the URL restores the view; each area page draws its chart and its table holds the API's rows; an
export downloads a file whose rows add up to the table; a touch's page shows its lift and a verdict."""

from __future__ import annotations

import codecs
import csv
import io
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from backend.analytics import build
from tests.conftest import START
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer
from tests.integration.test_analytics import Shop

pytestmark = pytest.mark.sqlite_only

ZONE = ZoneInfo("Asia/Shanghai")
BASE = "/api/v1/admin/analytics"
MINUS = "\u2212"


# -- the shop's history ------------------------------------------------------------------------------------------


async def seed(stack: Any, days: int = 3) -> Shop:
    """Members registering, ordering (two stores, two channels, coupons, points, stored value), topping up,
    claiming coupons and getting messages over ``days`` days, through the services; the closed days built."""
    shop = Shop(stack)
    await shop.open()
    for day in range(days):
        for n in range(4):
            await shop.run(("register", n + day, n, n))
            await shop.run(("order", n + day, n, n))
            await shop.run(("order", n, n + 1, n + day))
            await shop.run(("topup", n, n, n))
            await shop.run(("issue", n, n, n))
            await shop.run(("message", n, n, n))
        shop.advance(24 * 60)
    await shop.run(("order", 1, 3, 3))  # today's, read live
    await build.rebuild_range(first=START.astimezone(ZONE).date(), last=today(stack), tz=ZONE)
    return shop


def today(stack: Any):
    return stack.clock.now().astimezone(ZONE).date()


async def api(stack: Any, token: str, path: str, **params: Any) -> Any:
    response = await stack.http.get(f"{BASE}/{path}", params={k: v for k, v in params.items() if v},
                                    headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


# -- what the page should show, formatted as the console formats ---------------------------------------------------


def yuan(cents: int | None) -> str:
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}¥{cents // 100:,}.{cents % 100:02d}"


def number(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def signed(ratio: float | None, digits: int = 1) -> str:
    if ratio is None:
        return "—"
    text = f"{abs(ratio) * 100:.{digits}f}%"
    return f"{MINUS}{text}" if ratio < 0 else f"+{text}"


def card(figure: Any, show=number) -> tuple[str, str, str]:
    if isinstance(figure, dict):
        return show(figure["value"]), signed(figure["change"]), signed(figure["yoy"])
    return show(figure), "—", "—"


async def dashboard_expected(stack: Any, token: str, **filters: Any) -> dict[str, tuple[str, str, str]]:
    x = (await api(stack, token, "overview", **filters))["figures"]
    return {
        "members": card(x["members"]),
        "active": card(x["active_30"]),
        "repurchase_rate": card(x["repurchase_rate"], percent),
        "gmv": card(x["gmv_cents"], yuan),
        "aov": card(x["aov_cents"], yuan),
        "points_liability": card(x["points_liability_cents"], yuan),
        "stored_value": card(x["outstanding_principal_cents"], yuan),
        "coupon_redemption_rate": card(x["coupon_redemption_rate"], percent),
        "messages_sent": card(x["messages_sent"]),
    }


# -- reading the page ------------------------------------------------------------------------------------------------


async def settled(page: Any) -> None:
    """The view of the current URL has been drawn (the analytics body marks the hash it drew)."""
    await page.wait_for_function("""() => {
        const body = document.querySelector('.analytics-body');
        return body && !body.hasAttribute('aria-busy') && body.dataset.hash === location.hash;
    }""")


async def cards_on(page: Any) -> dict[str, tuple[str, str, str]]:
    return {key: tuple(texts) for key, texts in (await page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('.kpi')].map((kpi) => [kpi.dataset.figure, [
            kpi.querySelector('.kpi-value').textContent,
            kpi.querySelector('[data-compare=change]').textContent,
            kpi.querySelector('[data-compare=yoy]').textContent]]))""")).items()}


async def rows_on(page: Any, name: str) -> list[list[str]]:
    return await page.evaluate("""(name) => [...document.querySelectorAll(`[data-table="${name}"] tbody tr`)]
        .filter((tr) => !tr.querySelector('td.empty'))
        .map((tr) => [...tr.cells].map((td) => td.textContent.trim()))""", name)


async def has_chart(page: Any, name: str) -> bool:
    return await page.evaluate("""(name) => !!document.querySelector(
        `[data-block="${name}"] .chart svg, [data-block="${name}"] .chart canvas`)""", name)


def hash_query(page: Any) -> dict[str, str]:
    from urllib.parse import parse_qsl

    fragment = page.url.split("#", 1)[1]
    return dict(parse_qsl(fragment.split("?", 1)[1])) if "?" in fragment else {}


# -- the dashboard ---------------------------------------------------------------------------------------------------


async def test_the_dashboard_shows_the_apis_figures_and_keeps_its_filters_in_the_url(stack, console_page,
                                                                                     console_shots):
    page = console_page
    shop = await seed(stack)
    await page.clock.set_fixed_time(stack.clock.now())
    _, token = await log_in(page, stack, "marketer")
    await expect(page.locator("#nav").get_by_role("link", name="数据概览")).to_be_visible()
    # The home page shows the dashboard's headline figures (the last 30 days).
    unfiltered = await dashboard_expected(stack, token)
    await expect(page.locator('[data-home="analytics"] .kpi')).to_have_count(len(unfiltered))
    assert await cards_on(page) == unfiltered
    await open_screen(page, "/analytics/overview", "数据概览")
    await settled(page)

    # The API's default window (the last 30 days), every headline figure with its comparisons.
    assert await cards_on(page) == unfiltered
    assert unfiltered["gmv"][1] == "—"  # nothing before the shop opened: a zero base is —, not infinity
    series = (await api(stack, token, "sales"))["series"]
    assert [row[:3] for row in await rows_on(page, "series")] == [
        [p["day"], yuan(p["gmv_cents"]), number(p["orders"])] for p in series]
    assert await has_chart(page, "trend")
    assert not await axe_violations(page)
    await console_shots("dashboard")

    # A store: the URL says so, the numbers are that store's.
    store = shop.stores[0]
    await page.get_by_label("门店", exact=True).select_option(str(store))
    await expect(page).to_have_url(f"{stack.base_url}/console/#/analytics/overview?store={store}")
    await settled(page)
    filtered = await dashboard_expected(stack, token, store=store)
    assert filtered["gmv"] != unfiltered["gmv"]
    assert await cards_on(page) == filtered

    # A preset: the dates join the store in the URL.
    current = today(stack)
    await page.get_by_role("button", name="近7天").click()
    await expect(page).to_have_url(f"{stack.base_url}/console/#/analytics/overview?store={store}"
                                   f"&from={current - timedelta(days=6)}&to={current}")
    await settled(page)
    week = {"store": store, "from": str(current - timedelta(days=6)), "to": str(current)}
    assert await cards_on(page) == await dashboard_expected(stack, token, **week)
    await expect(page.get_by_role("button", name="近7天")).to_have_attribute("aria-pressed", "true")

    # Reloading the URL (or opening it shared) draws the same view.
    shown = await cards_on(page)
    await page.reload()
    await expect(page.locator(".screen-header h2")).to_have_text("数据概览")
    await settled(page)
    assert hash_query(page) == {k: str(v) for k, v in week.items()}
    await expect(page.get_by_label("门店", exact=True)).to_have_value(str(store))
    await expect(page.get_by_label("开始日期")).to_have_value(week["from"])
    assert await cards_on(page) == shown


# -- one page per area -----------------------------------------------------------------------------------------------


def rows(items: list[dict], *cells: Any) -> list[list[str]]:
    """The API's rows as the page shows them: each cell a key (text) or (key, formatter)."""
    out = []
    for item in items:
        row = []
        for c in cells:
            key, show = (c, str) if isinstance(c, str) else c
            row.append(show(item[key]))
        out.append(row)
    return out


N, Y, P = number, yuan, percent
AREAS = {
    # path: {table: cells}; each page's chart is the first table's block.
    "members": {
        "series": ("day", ("new_members", N), ("upgrades", N), ("downgrades", N)),
        "by_tier": ("label", ("members", N), ("new_members", N), ("upgrades", N), ("downgrades", N)),
        "funnel": ("label", ("count", N), ("rate", P), ("step_rate", P)),
        "by_store": ("label", ("new_members", N)),
    },
    "sales": {
        "series": ("day", ("orders", N), ("gmv_cents", Y), ("discount_cents", Y), ("refund_cents", Y),
                   ("aov_cents", Y)),
        "by_tier": ("label", ("orders", N), ("gmv_cents", Y), ("aov_cents", Y), ("refund_cents", Y), ("share", P)),
        "by_store": ("label", ("orders", N), ("gmv_cents", Y), ("aov_cents", Y), ("refund_cents", Y), ("share", P)),
    },
    "points": {
        "series": ("day", ("issued", N), ("spent", N), ("expired", N), ("reversed", N)),
        "by_tier": ("label", ("issued", N), ("spent", N), ("expired", N)),
    },
    "stored-value": {
        "by_store_outstanding": ("label", ("principal_cents", Y), ("bonus_cents", Y)),
        "series": ("day", ("topup_principal_cents", Y), ("topup_bonus_cents", Y), ("spend_principal_cents", Y),
                   ("spend_bonus_cents", Y)),
    },
    "coupons": {
        "by_template": ("label", ("issued", N), ("redeemed", N), ("expired", N), ("redemption_rate", P),
                        ("discount_cents", Y), ("order_gmv_cents", Y)),
        "issued_by_way": ("label", ("issued", N)),
    },
    "messages": {
        "by_channel": ("label", ("queued", N), ("sent", N), ("delivered", N), ("failed", N), ("not_sent", N),
                       ("unsubscribes", N)),
        "not_sent_by_reason": ("label", ("count", N)),
        "series": ("day", ("queued", N), ("sent", N), ("delivered", N), ("failed", N)),
    },
}
TITLES = {"members": "会员分析", "sales": "销售分析", "points": "积分分析", "stored-value": "储值分析",
          "coupons": "优惠券分析", "messages": "消息分析"}


def export_tables(document: dict, area: str) -> set[str]:
    """The values the served document allows for ``table`` on the area's export."""
    parameters = document["paths"][f"{BASE}/{area}/export"]["get"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == "table")
    return set(schema.get("enum") or next(s["enum"] for s in schema.get("anyOf", []) if "enum" in s))


async def test_each_area_page_draws_its_charts_and_its_tables_hold_the_apis_rows(stack, console_page, console_shots):
    page = console_page
    await seed(stack)
    await stack.dispatcher.drain()
    await page.clock.set_fixed_time(stack.clock.now())
    _, token = await log_in(page, stack, "admin")
    window = {"from": START.astimezone(ZONE).date().isoformat(), "to": today(stack).isoformat()}
    query = f"from={window['from']}&to={window['to']}"
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    for area, tables in AREAS.items():
        await open_screen(page, f"/analytics/{area}?{query}", TITLES[area])
        await settled(page)
        answer = await api(stack, token, area, **window)
        for name, cells in tables.items():
            assert await rows_on(page, name) == rows(answer[name], *cells), (area, name)
        # Every export button asks for a table the area's export knows (the document's choices for `table`).
        asked = set(await page.eval_on_selector_all("[data-block] button[data-table]", "bs => bs.map((b) => b.dataset.table)"))
        assert asked and asked <= export_tables(document, area), (area, asked)
        assert await has_chart(page, next(iter(tables))), area
        assert not await axe_violations(page), area
        await console_shots(area)
    # The points page's liability and what expires; the stored value's reconciliation.
    await open_screen(page, f"/analytics/points?{query}", "积分分析")
    await settled(page)
    points = await api(stack, token, "points", **window)
    assert (await cards_on(page))["liability"][0] == yuan(points["liability"]["liability_cents"])
    assert await rows_on(page, "expiring") == [[f"{d} 天内", number(points["liability"][f"expiring_{d}"])]
                                                for d in (30, 60, 90)]
    await open_screen(page, f"/analytics/stored-value?{query}", "储值分析")
    await settled(page)
    wallet = await api(stack, token, "stored-value", **window)
    assert wallet["reconciliation"]["reconciled"] is True
    await expect(page.locator("[data-reconciled]")).to_have_attribute("data-reconciled", "true")
    await expect(page.locator("[data-reconciled]")).to_contain_text("已对平")

    # A tier on the sales page: the URL keeps it and the rows become that tier's.
    tier = (await api(stack, token, "sales", **window))["by_tier"][0]["key"]
    await open_screen(page, f"/analytics/sales?{query}", "销售分析")
    await settled(page)
    await page.get_by_label("等级", exact=True).select_option(tier)
    await expect(page).to_have_url(f"{stack.base_url}/console/#/analytics/sales?{query}&tier={tier}")
    await settled(page)
    tiered = await api(stack, token, "sales", tier=tier, **window)
    assert await rows_on(page, "by_store") == rows(tiered["by_store"], *AREAS["sales"]["by_store"])
    assert (await cards_on(page))["orders"][0] == number(tiered["figures"]["orders"]["value"])


# -- exports ---------------------------------------------------------------------------------------------------------


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


MONEY = {"销售额", "优惠金额", "退款金额", "充值本金", "充值赠送", "消费本金", "消费赠送"}


def by_day(table: list[list[Any]], *headings: str) -> dict[str, list[int]]:
    """The export's rows (day × store × channel × tier) summed per day for the given columns, money in cents."""
    head, body = table[0], table[1:]
    index = [head.index(h) for h in headings]
    sums: dict[str, list[int]] = defaultdict(lambda: [0] * len(index))
    for row in body:
        for n, i in enumerate(index):
            value = Decimal(str(row[i]))
            sums[str(row[0])[:10]][n] += int(value * 100) if head[i] in MONEY else int(value)
    return dict(sums)


async def download(page: Any, block: str, button: str) -> Any:
    async with page.expect_download() as info:
        await page.locator(f'[data-block="{block}"]').get_by_role("button", name=button).click()
    return await info.value


async def test_an_export_downloads_the_rows_the_table_shows(stack, console_page):
    page = console_page
    shop = await seed(stack)
    await page.clock.set_fixed_time(stack.clock.now())
    _, token = await log_in(page, stack, "marketer")
    store = shop.stores[1]
    window = {"from": START.astimezone(ZONE).date().isoformat(), "to": today(stack).isoformat(), "store": store}
    await open_screen(page, f"/analytics/sales?from={window['from']}&to={window['to']}&store={store}", "销售分析")
    await settled(page)

    # CSV: the day series as the page shows it, row for row (the store's orders and 销售额, in yuan).
    file = await download(page, "series", "导出 CSV")
    assert file.suggested_filename.endswith(".csv")
    table = csv_rows((await file.path()).read_bytes())
    assert table[0][:3] == ["日期", "订单数", "销售额"]
    shown = await rows_on(page, "series")
    api_series = (await api(stack, token, "sales", **window))["series"]
    assert [r[:3] for r in shown] == [[p["day"], number(p["orders"]), yuan(p["gmv_cents"])] for p in api_series]
    assert [[row[0], int(row[1]), cents(row[2])] for row in table[1:]] == [
        [p["day"], p["orders"], p["gmv_cents"]] for p in api_series]

    # 明细 CSV: the daily rows the series is summed from (day × channel × tier), all of the store, add up to it.
    file = await download(page, "series", "明细 CSV")
    detail = csv_rows((await file.path()).read_bytes())
    assert detail[0][0] == "日期" and "门店" in detail[0]
    assert {row[detail[0].index("门店")] for row in detail[1:]} <= {await store_code(store)}
    assert {p["day"]: [p["orders"], p["gmv_cents"]] for p in api_series if p["orders"]} == by_day(
        detail, "订单数", "销售额")

    # Excel: the points page's table by tier, row for row.
    await open_screen(page, f"/analytics/points?from={window['from']}&to={window['to']}", "积分分析")
    await settled(page)
    file = await download(page, "by_tier", "导出 Excel")
    assert file.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO((await file.path()).read_bytes()), read_only=True).worksheets[0]
    book = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert book[0] == ["代码", "名称", "发放", "消耗", "过期"]
    by_tier = (await api(stack, token, "points", **{k: window[k] for k in ("from", "to")}))["by_tier"]
    assert by_tier and book[1:] == [[g["key"], g["label"], g["issued"], g["spent"], g["expired"]] for g in by_tier]
    assert await rows_on(page, "by_tier") == [[g["label"], number(g["issued"]), number(g["spent"]),
                                               number(g["expired"])] for g in by_tier]


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


async def store_code(store_id: int) -> str:
    from backend.stores.models import Store

    return (await Store.get(id=store_id)).code


# -- a touch's lift --------------------------------------------------------------------------------------------------


async def test_a_touchs_page_shows_its_lift_with_the_interval_and_a_verdict(stack, console_page, console_shots):
    from backend.loyalty import orders
    from tests.factories import unique
    from tests.integration.test_touches import act, run, segment, touch
    from tests.notify_helpers import add_promo, admin_token, shopper

    page = console_page
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    shoppers = [(await shopper(stack, sms_marketing=True))[0] for _ in range(40)]
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience}, channels=["sms"], holdout_pct=30)
    await act(stack, admin, created["id"], "schedule")
    await run(stack, created["id"])
    await stack.dispatcher.drain()
    stack.clock.set(stack.clock.now() + timedelta(hours=1))
    for member_id in shoppers[::2]:
        await orders.place_order(orders.OrderInput(channel="pos", order_no=unique("T"), amount_cents=5000,
                                                   member_id=member_id), tz="Asia/Shanghai")
    await page.clock.set_fixed_time(stack.clock.now())
    await log_in(page, stack, "marketer")
    await open_screen(page, "/analytics/touches", "触达效果")
    await page.get_by_role("link", name=created["name"]).click()
    await expect(page.locator(".screen-header h2")).to_have_text("触达效果")
    await settled(page)
    answer = await api(stack, admin, f"touches/{created['id']}")
    groups = [{"label": "触达组", **answer["treatment"]}, {"label": "对照组", **answer["holdout"]}]
    assert await rows_on(page, "conversion") == rows(groups, "label", ("members", N), ("converted", N),
                                                     ("conversion_rate", P), ("orders", N), ("revenue_cents", Y))
    assert await rows_on(page, "funnel") == rows(answer["funnel"], "label", ("count", N), ("rate", P))
    lift = answer["lift"]
    assert (await rows_on(page, "lift"))[0][:3] == [signed(lift[k], 2) for k in ("lift", "ci_low", "ci_high")]
    verdict = page.locator(".analytics-verdict")
    await expect(verdict).to_have_attribute("data-significant", str(lift["significant"]).lower())
    await expect(verdict).to_contain_text("效果显著" if lift["significant"] and lift["lift"] > 0 else
                                          "显著变差" if lift["significant"] else "差异不显著")
    await expect(verdict).to_contain_text("95% 置信区间")
    for block in ("conversion", "funnel", "lift"):
        assert await has_chart(page, block), block
    assert not await axe_violations(page)
    await console_shots("touch-lift")


async def test_a_window_the_api_refuses_is_said_on_the_page_with_the_filters_still_there(stack, console_page):
    page = console_page
    await page.clock.set_fixed_time(stack.clock.now())
    await log_in(page, stack, "marketer")
    await open_screen(page, "/analytics/members?from=2026-03-02&to=2026-02-01", "会员分析")
    await settled(page)
    await expect(page.locator('[data-code="ANALYTICS_RANGE_INVALID"]')).to_be_visible()
    await page.get_by_role("button", name="近30天").click()
    await settled(page)
    await expect(page.locator("[data-code]")).to_have_count(0)
    await expect(page.locator('[data-table="series"] tbody tr')).to_have_count(30)
