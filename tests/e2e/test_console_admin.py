"""The 系统管理 screens in a real browser: an admin creates a clerk with a store and deactivates a staff
member (whose token the API then refuses), works the stores, app keys, custom fields and audit log; a
marketer is kept out of all of them, by the page and by the API."""

from __future__ import annotations

import pytest

from backend.stores.models import StaffAccount
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, make_staff, make_store

pytestmark = pytest.mark.sqlite_only


async def test_an_admin_creates_a_clerk_and_deactivates_a_staff_member(stack, console_page, console_shots):
    page = console_page
    store = await make_store(name="南京西路店")
    victim, victim_token = await make_staff(stack, role="marketer")
    await log_in(page, stack, "admin")
    await expect(page.locator("#nav")).to_contain_text("系统管理")

    await open_screen(page, "/admin/staff", "员工账号")
    create = page.locator("section", has=page.get_by_role("heading", name="新建账号"))
    await create.get_by_label("用户名").fill("clerk-nanjing")
    await create.get_by_label("初始密码").fill("clerk-pass-2026")
    await create.get_by_label("角色").select_option("clerk")
    await create.get_by_role("button", name="创建账号").click()
    await expect(create.locator("[data-field=store] .field-error")).to_contain_text("店员必须绑定门店")
    await create.get_by_label("门店").select_option(store.code)
    await create.get_by_role("button", name="创建账号").click()
    row = page.locator("tr", has_text="clerk-nanjing")
    await expect(row).to_contain_text("南京西路店")
    clerk = await StaffAccount.get(username="clerk-nanjing")
    assert clerk.role == "clerk" and clerk.store_id == store.id

    await page.get_by_role("button", name=f"停用 {victim.username}").click()
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await page.locator("#confirm-ok").click()
    await expect(page.locator("tr", has_text=victim.username)).to_contain_text("已停用")
    refused = await stack.http.get("/api/v1/admin/members", headers=bearer(victim_token))
    assert refused.status_code == 401
    assert not await axe_violations(page)
    await console_shots("staff")

    await open_screen(page, "/admin/stores", "门店管理")
    await page.get_by_role("button", name="编辑门店 南京西路店").click()
    await page.locator(".admin-editor").get_by_label("门店名称").fill("南京西路旗舰店")
    await page.locator(".admin-editor").get_by_role("button", name="保存").click()
    await expect(page.locator("tr", has_text="南京西路旗舰店")).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("stores")

    await open_screen(page, "/admin/app-keys", "应用密钥")
    await page.get_by_label("应用名称").fill("线上商城")
    await page.get_by_role("button", name="创建密钥").click()
    await expect(page.locator(".admin-secret")).to_contain_text("只显示这一次")
    assert await page.locator(".admin-secret input.secret").input_value()
    await expect(page.locator("tr", has_text="线上商城")).to_contain_text("有效")
    first_secret = await page.locator(".admin-secret input.secret").input_value()
    await page.get_by_role("button", name="轮换 线上商城 的密钥").click()
    await page.locator(".admin-editor").get_by_role("button", name="轮换").click()
    await expect(page.locator(".admin-secret input.secret")).not_to_have_value(first_secret)
    await page.get_by_role("button", name="吊销 线上商城").click()
    await page.locator("#confirm-ok").click()
    await expect(page.locator("tr", has_text="线上商城")).to_contain_text("已吊销")
    assert not await axe_violations(page)
    await console_shots("app-keys")

    await open_screen(page, "/admin/custom-fields", "自定义字段")
    await page.get_by_label("键").fill("favourite_drink")
    await page.get_by_label("名称").fill("喜欢的饮品")
    await page.get_by_role("button", name="创建字段").click()
    await expect(page.locator("tr", has_text="favourite_drink")).to_contain_text("喜欢的饮品")
    assert not await axe_violations(page)
    await console_shots("custom-fields")

    await open_screen(page, "/admin/audit", "审计日志")
    await page.get_by_label("动作").fill("staff.*")
    await page.get_by_role("button", name="筛选", exact=True).click()
    await expect(page.locator("table.grid tbody")).to_contain_text("staff.update")
    await expect(page.locator("table.grid tbody")).not_to_contain_text("store.update")
    assert not await axe_violations(page)
    await console_shots("audit")


async def test_a_marketer_cannot_reach_the_admin_screens(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await expect(page.locator("#nav")).to_be_visible()
    await expect(page.locator("#nav")).not_to_contain_text("系统管理")
    for path, title in (("/admin/staff", "员工账号"), ("/admin/stores", "门店管理"), ("/admin/app-keys", "应用密钥"),
                        ("/admin/custom-fields", "自定义字段"), ("/admin/audit", "审计日志")):
        await open_screen(page, path, title)
        await expect(page.locator(".screen")).to_contain_text("无权访问")
    assert not await axe_violations(page)
    await console_shots("refused")
    for path in ("/api/v1/admin/staff", "/api/v1/admin/audit-log", "/api/v1/admin/app-keys"):
        response = await stack.http.get(path, headers=bearer(token))
        assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"
    response = await stack.http.patch("/api/v1/admin/staff/1", headers=bearer(token), json={"active": False})
    assert response.status_code == 403
