"""The console shell in a real browser: log in and out, the role-aware menu, an expired session,
a page that does not exist, and a clerk turned away; every step goes through the running server."""

from __future__ import annotations

import pytest

from backend.stores.models import StaffAccount
from tests.e2e.browser import expect
from tests.e2e.console_helpers import PASSWORD, axe_violations, log_in, open_screen
from tests.factories import make_staff

pytestmark = pytest.mark.sqlite_only


async def test_a_marketer_logs_in_sees_home_and_logs_out(stack, console_page, console_shots):
    page = console_page
    await page.goto("/console")  # without the slash: redirected
    assert page.url.endswith("/console/")
    await expect(page.locator("#login-view")).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("login")
    await log_in(page, stack, "marketer")
    await expect(page.locator("#who-role")).to_have_text("营销")
    await expect(page.locator(".screen-header h2")).to_have_text("首页")
    await expect(page.get_by_role("link", name="查找会员")).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("home")
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#nav")).to_be_hidden()
    # The token is gone from the tab: a reload stays logged out.
    await page.reload()
    await expect(page.locator("#login-view")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.getItem('console.session')") is None


async def test_wrong_password_is_said_on_the_login_form(stack, console_page):
    staff, _ = await make_staff(stack, role="marketer", password=PASSWORD)
    await console_page.goto("/console/")
    await console_page.get_by_label("用户名").fill(staff.username)
    await console_page.get_by_label("密码").fill("not-the-password")
    await console_page.get_by_role("button", name="登录").click()
    await expect(console_page.locator("#login-notice")).to_have_text("用户名或密码错误")
    await expect(console_page.locator("#who")).to_be_hidden()


async def test_a_clerk_is_sent_to_the_counter_page(stack, console_page):
    clerk, _ = await make_staff(stack, role="clerk", password=PASSWORD)
    await console_page.goto("/console/")
    await console_page.get_by_label("用户名").fill(clerk.username)
    await console_page.get_by_label("密码").fill(PASSWORD)
    await console_page.get_by_role("button", name="登录").click()
    await expect(console_page.locator("#login-notice")).to_contain_text("门店柜台")
    assert await console_page.evaluate("() => sessionStorage.getItem('console.session')") is None


async def test_a_revoked_session_prompts_to_log_in_again_and_returns_to_the_screen(stack, console_page,
                                                                                   console_shots):
    page = console_page
    staff, _ = await log_in(page, stack, "marketer")
    # An admin's password reset or deactivation bumps the token version: the API answers 401.
    await StaffAccount.filter(id=staff.id).update(token_version=staff.token_version + 1)
    await page.evaluate("() => { location.hash = '#/nowhere-yet'; location.hash = '#/'; }")
    dialog = page.locator("#expired-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("登录已过期")
    await console_shots("expired")
    await dialog.get_by_role("button", name="重新登录").click()
    await expect(page.locator("#login-notice")).to_have_text("登录已过期，请重新登录")
    await page.get_by_label("用户名").fill(staff.username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator(".screen-header h2")).to_have_text("首页")


async def test_an_unknown_screen_says_so(stack, console_page):
    await log_in(console_page, stack, "marketer")
    await open_screen(console_page, "/no-such-screen", "页面不存在")
