"""The segments screens in a real browser: a marketer builds a nested rule by clicking, the live count
is the API's for the rule the page saved, the segment is saved and renamed, and deleting a segment a
touch uses says so."""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, member_token
from tests.notify_helpers import add_promo, admin_token

pytestmark = pytest.mark.sqlite_only


async def test_a_marketer_builds_saves_renames_and_cannot_delete_a_segment_in_use(stack, console_page,
                                                                                  console_shots):
    page = console_page
    for _ in range(3):
        await member_token(stack)
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/segments", "人群")
    await expect(page.get_by_role("link", name="人群", exact=True)).to_have_attribute("aria-current", "page")

    await page.get_by_role("link", name="新建人群").click()
    await expect(page.locator(".screen-header h2")).to_have_text("新建人群")
    await page.get_by_label("人群名称").fill("有手机的小程序会员")
    top = page.locator(".seg-group.depth-1")
    await top.locator("> .seg-actions [data-act=add-condition]").click()
    await top.get_by_label("条件 1 的字段").select_option("has_phone")
    await top.locator("> .seg-actions [data-act=add-group]").click()
    nested = page.locator(".seg-group.depth-2")
    await expect(nested).to_have_count(1)
    await nested.get_by_label("条件 1 的字段").select_option("registration_channel")
    await nested.get_by_label("条件 1 的值").select_option("miniprogram")
    await nested.locator("> .seg-actions [data-act=add-condition]").click()
    await nested.get_by_label("条件 2 的字段").select_option("orders.amount_cents")
    await nested.get_by_label("条件 2 的运算").select_option("gte")
    await nested.get_by_label("条件 2 的值（元）").fill("100")
    count = page.get_by_test_id("segment-count")
    await expect(count).to_have_attribute("data-count", "3")
    await expect(page.locator(".seg-layout table tbody tr")).to_have_count(3)
    # A condition the API refuses (a tag condition with no tag): the preview says why, and saving puts
    # the API's message on that condition.
    await top.locator("> .seg-actions [data-act=add-condition]").click()
    await top.get_by_label("条件 3 的字段").select_option("tag")
    await expect(page.locator(".seg-layout [data-code=SEGMENT_RULE_INVALID]")).to_be_visible()
    await page.get_by_role("button", name="保存人群").click()
    problem = page.locator('[data-field="rule.all[2]"] .field-error')
    await expect(problem).to_contain_text("标签")
    await top.get_by_role("button", name="删除条件 3").click()
    await expect(count).to_have_attribute("data-count", "3")

    await page.get_by_role("button", name="保存人群").click()
    await expect(page.locator(".screen-header h2")).to_have_text("编辑人群：有手机的小程序会员")
    segment_id = int(re.search(r"#/segments/(\d+)$", page.url).group(1))
    saved = (await stack.http.get(f"/api/v1/admin/segments/{segment_id}", headers=bearer(token))).json()
    assert saved["rule"] == {"all": [{"field": "has_phone", "op": "eq", "value": True}, {"any": [
        {"field": "registration_channel", "op": "eq", "value": "miniprogram"},
        {"field": "orders.amount_cents", "op": "gte", "value": 10000}]}]}
    preview = (await stack.http.post("/api/v1/admin/segments/preview", json={"rule": saved["rule"]},
                                     headers=bearer(token))).json()
    await expect(count).to_have_attribute("data-count", str(preview["count"]))
    await expect(page.locator(".seg-group.depth-2 .seg-cond")).to_have_count(2)
    assert not await axe_violations(page)
    await console_shots("segment-builder")

    await page.get_by_role("button", name="重命名").click()
    await page.locator("#confirm-dialog").get_by_label("新名称").fill("小程序会员")
    await page.locator("#confirm-ok").click()
    await expect(page.locator(".screen-header h2")).to_have_text("编辑人群：小程序会员")

    admin = await admin_token(stack)
    await add_promo(stack, admin)
    touch = await stack.http.post("/api/v1/admin/touches", headers=bearer(admin), json={
        "name": "春季促销", "channels": ["sms"], "template_key": "promo", "audience": {"segment_id": segment_id},
        "schedule": {"at": stack.clock.now().isoformat()}})
    assert touch.status_code == 201, touch.text
    await page.get_by_role("button", name="删除", exact=True).click()
    await page.locator("#confirm-ok").click()
    in_use = page.locator("[data-code=SEGMENT_IN_USE]")
    await expect(in_use).to_contain_text("有未结束的触达正在使用此人群")
    await expect(in_use.get_by_role("link", name=f"查看触达 #{touch.json()['id']}")).to_be_visible()
    await expect(count).to_have_attribute("data-count", str(preview["count"]))
    await console_shots("segment-in-use")

    await open_screen(page, "/segments", "人群")
    row = page.locator("table tbody tr", has_text="小程序会员")
    await expect(row.locator("td.num")).to_have_text(str(preview["count"]))
    assert not await axe_violations(page)
    await console_shots("segment-list")


async def test_every_described_field_gets_its_own_input(stack, console_page):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    described = (await stack.http.get("/api/v1/admin/segment-fields", headers=bearer(token))).json()
    await open_screen(page, "/segments/new", "新建人群")
    await page.locator(".seg-group.depth-1 > .seg-actions [data-act=add-condition]").click()
    field = page.get_by_label("条件 1 的字段")
    options = await field.locator("option").evaluate_all("(nodes) => nodes.map((n) => n.value)")
    assert options == [f["field"] for f in described["fields"]]  # nothing listed that the API does not describe
    for name in options:
        await field.select_option(name)
        await expect(page.locator(".seg-cond-wrap").first).to_have_attribute("data-cond", re.compile(r"."))
    await field.select_option("registered_at")
    await expect(page.get_by_label("条件 1 的值")).to_have_attribute("type", "date")
    await field.select_option("tier")
    tiers = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(token))).json()["tiers"]
    assert await page.get_by_label("条件 1 的值").locator("option").count() == len(tiers)
    await field.select_option("balance_cents")
    await expect(page.get_by_label("条件 1 的值（元）")).to_be_visible()
    await page.get_by_label("条件 1 的运算").select_option("between")
    await page.get_by_label("条件 1 的值（最小）（元）").fill("10")
    await page.get_by_label("条件 1 的值（最大）（元）").fill("20.5")
    await expect(page.get_by_test_id("segment-count")).to_have_attribute("data-count", "0")
