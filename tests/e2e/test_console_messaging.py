"""The console's messaging screens in a real browser: a marketer switches a lifecycle program off,
edits a template and watches the preview and its SMS length follow, and has a cap of 0 refused on its
field; each screen passes axe and leaves a screenshot."""

from __future__ import annotations

import pytest

from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer

pytestmark = pytest.mark.sqlite_only


async def test_a_marketer_switches_a_lifecycle_program_off(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/programs", "生命周期")
    card = page.locator('[data-program="winback"]')
    switch = card.get_by_role("switch", name="启用沉睡唤醒")
    await expect(switch).to_be_checked()
    await expect(card.get_by_role("table")).to_be_visible()  # its recent runs
    assert not await axe_violations(page)
    await console_shots("programs")
    await switch.uncheck()
    await expect(card.locator(".badge").first).to_have_text("已停用")
    programs = (await stack.http.get("/api/v1/admin/lifecycle-programs", headers=bearer(token))).json()["items"]
    assert {p["key"]: p["enabled"] for p in programs}["winback"] is False
    # A timing the API refuses is said on its field.
    await card.get_by_label("运行时间（cron，商户时区）").fill("every day")
    await card.get_by_role("button", name="保存设置").click()
    await expect(card.locator('[data-field="cron"] .field-error')).to_contain_text("cron")


async def test_editing_a_template_body_changes_the_preview_and_its_length(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/templates", "消息模板")
    assert not await axe_violations(page)
    await console_shots("templates")
    await page.get_by_role("link", name="生日祝福").click()
    await expect(page.locator(".screen-header h2")).to_have_text("编辑消息模板")
    preview = page.locator('[data-preview="sms"]')
    await expect(preview).to_contain_text("张三，生日快乐！")
    count = page.locator('[data-count="sms"]')
    await expect(count).to_contain_text("计费 1 条")
    long_text = "张三，生日快乐！" + "好" * 80 + "拒收请回复R"
    await page.get_by_label("短信正文").fill(long_text)
    await expect(preview).to_contain_text("好" * 80)
    await expect(count).to_contain_text("计费 2 条")
    await expect(page.locator('[data-channel="email"]')).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("template-editor")
    await page.get_by_role("button", name="停用模板").click()
    await expect(page.get_by_role("button", name="启用模板")).to_be_visible()
    saved = (await stack.http.get("/api/v1/admin/message-templates/birthday", headers=bearer(token))).json()
    assert saved["enabled"] is False


async def test_a_cap_of_zero_is_refused_on_its_field(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/policy", "发送策略")
    assert not await axe_violations(page)
    await console_shots("policy")
    limit = page.get_by_label("上限（条）（第 2 条）")
    await limit.fill("0")
    await page.get_by_role("button", name="保存发送策略").click()
    field = page.locator('[data-field="caps.1.limit"]')
    await expect(field.locator(".field-error")).to_be_visible()
    await expect(limit).to_have_attribute("aria-invalid", "true")
    await console_shots("policy-refused")
    caps = (await stack.http.get("/api/v1/admin/caps", headers=bearer(token))).json()["caps"]
    assert caps[1]["limit"] == 3
    await limit.fill("4")
    await page.get_by_role("button", name="保存发送策略").click()
    await expect(page.locator(".toast")).to_contain_text("发送策略已保存")
    caps = (await stack.http.get("/api/v1/admin/caps", headers=bearer(token))).json()["caps"]
    assert caps[1]["limit"] == 4


async def test_a_new_template_previews_before_it_is_saved_and_then_saves(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/templates/new", "新建消息模板")
    await page.get_by_label("模板代码").fill("spring_sale")
    await page.get_by_label("名称").fill("春季上新")
    await page.get_by_label("短信正文").fill("{{ member.name }}，春季新品上市")
    # A marketing SMS without an opt-out instruction: the preview says why it would be refused.
    await expect(page.locator(".msg-preview")).to_contain_text("退订说明")
    await page.get_by_label("短信正文").fill("{{ member.name }}，春季新品上市。拒收请回复R")
    await expect(page.locator('[data-preview="sms"]')).to_contain_text("张三，春季新品上市。拒收请回复R")
    assert not await axe_violations(page)
    await console_shots("new-template")
    await page.get_by_role("button", name="创建模板").click()
    await expect(page.locator(".screen-header h2")).to_have_text("编辑消息模板")
    saved = await stack.http.get("/api/v1/admin/message-templates/spring_sale", headers=bearer(token))
    assert saved.status_code == 200 and saved.json()["channels"] == ["sms"]


async def test_running_a_program_now_lists_the_run(stack, console_page):
    page = console_page
    await log_in(page, stack, "marketer")
    await open_screen(page, "/programs", "生命周期")
    card = page.locator('[data-program="birthday"]')
    await card.get_by_role("button", name="立即运行").click()
    await expect(card.get_by_role("table")).to_contain_text("完成")
