"""The console's paid membership (付费会员) in a real browser: an admin edits the plans on the loyalty screen, sees a
duplicate code, an unknown coupon template and a pack typed wrong on their fields, then saves; the member page shows
a member's membership and orders, and an admin refunds the last period after the server refused an earlier one."""

from __future__ import annotations

import pytest

from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, make_staff, member_token
from tests.jobs_helpers import coupon_template

pytestmark = pytest.mark.sqlite_only

PLANS = "/api/v1/admin/membership-plans"
NOTIFY_PATH = "/api/v1/callbacks/wechatpay"


def plan_box(page, i):
    return page.locator(f'fieldset[data-field="plans.{i}"]')


async def test_an_admin_edits_the_membership_plans_and_sees_refused_values_on_their_fields(stack, console_page,
                                                                                           console_shots):
    page = console_page
    _, token = await log_in(page, stack, "admin")
    assert (await stack.http.put(PLANS, json={"plans": [], "refund_days": 7},
                                 headers=bearer(token))).status_code == 200
    template_id = await coupon_template(stack, token, "会员月度券")
    await open_screen(page, "/loyalty", "等级与规则")
    await page.get_by_role("button", name="添加会员方案").click()
    first = plan_box(page, 0)
    await first.get_by_label("方案代码").fill("vip_month")
    await first.get_by_label("方案名称").fill("月卡会员")
    await first.get_by_label("价格（元）").fill("19.9")
    await first.get_by_label("会员价（%）").fill("95")
    await first.get_by_label("积分倍数（%）").fill("200")
    await first.get_by_label("每月券包").fill(f"{template_id}×2")
    await first.get_by_label("线上包邮").check()
    await first.get_by_label("领券优先").check()
    await page.get_by_role("button", name="添加会员方案").click()
    second = plan_box(page, 1)
    # The first row kept what was typed when the second was added.
    await expect(first.get_by_label("方案代码")).to_have_value("vip_month")
    await second.get_by_label("方案代码").fill("vip_month")
    await second.get_by_label("方案名称").fill("年卡会员")
    await second.get_by_label("周期").select_option("year")
    await second.get_by_label("价格（元）").fill("168")
    # A pack typed wrong is said on its field before anything is sent.
    await second.get_by_label("每月券包").fill("月度券两张")
    await page.get_by_role("button", name="保存付费会员").click()
    await expect(page.locator('[data-field="plans.1.monthly_coupons"] .field-error')).to_contain_text("券模板 ID×张数")
    # The server's refusals: the repeated code and a template that does not exist, each on its field.
    await second.get_by_label("每月券包").fill("999999×1")
    await page.get_by_role("button", name="保存付费会员").click()
    await expect(page.locator('[data-field="plans.1.code"] .field-error')).to_contain_text("不能重复")
    await expect(page.locator('[data-field="plans.1.monthly_coupons"] .field-error')).to_contain_text("券模板不存在")
    await expect(second.get_by_label("方案代码")).to_have_attribute("aria-invalid", "true")
    assert (await stack.http.get(PLANS, headers=bearer(token))).json()["plans"] == []
    assert not await axe_violations(page)
    await console_shots("membership-refused")

    await second.get_by_label("方案代码").fill("vip_year")
    await second.get_by_label("每月券包").fill("")
    await second.get_by_label("在售（小程序可购买）").uncheck()
    await page.get_by_label("退款冷静期（天）").fill("3")
    await page.get_by_role("button", name="保存付费会员").click()
    await expect(page.get_by_text("付费会员方案已保存")).to_be_visible()
    saved = (await stack.http.get(PLANS, headers=bearer(token))).json()
    assert saved["refund_days"] == 3
    month, year = saved["plans"]
    assert month == {"code": "vip_month", "name": "月卡会员", "period": "month", "price_cents": 1990, "on_sale": True,
                     "discount_pct": 95, "points_multiplier_pct": 200, "free_shipping": True,
                     "monthly_coupons": [{"template_id": template_id, "count": 2}], "coupon_center_priority": True}
    assert (year["code"], year["period"], year["price_cents"], year["on_sale"], year["monthly_coupons"],
            year["discount_pct"], year["points_multiplier_pct"]) == ("vip_year", "year", 16800, False, [], 100, 100)
    # Drawn again from the server, the pack names its template; saved untouched, nothing changes.
    await expect(plan_box(page, 0).get_by_text("会员月度券 ×2")).to_be_visible()
    await page.get_by_role("button", name="保存付费会员").click()
    await expect(page.get_by_text("付费会员方案已保存").last).to_be_visible()
    assert (await stack.http.get(PLANS, headers=bearer(token))).json() == saved
    await console_shots("membership-saved")


async def _paid_period(stack, fake_wechatpay, member: str) -> str:
    made = await stack.http.post("/api/v1/mp/membership/orders", json={"plan_code": "vip_month"},
                                 headers=bearer(member))
    assert made.status_code == 201, made.text
    no = made.json()["out_trade_no"]
    headers, body = fake_wechatpay.notification(fake_wechatpay.pay(no))
    answer = await stack.http.post(NOTIFY_PATH, content=body, headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code == 204, answer.text
    return no


async def test_the_member_page_shows_the_membership_and_an_admin_refunds_the_last_period(stack, console_page,
                                                                                          console_shots,
                                                                                          fake_wechatpay):
    page = console_page
    fake_wechatpay.reset()
    _, token = await log_in(page, stack, "admin")
    answer = await stack.http.put(PLANS, headers=bearer(token), json={"refund_days": 7, "plans": [
        {"code": "vip_month", "name": "月卡会员", "period": "month", "price_cents": 1900}]})
    assert answer.status_code == 200, answer.text
    member_id, member = await member_token(stack)
    first = await _paid_period(stack, fake_wechatpay, member)
    second = await _paid_period(stack, fake_wechatpay, member)
    status = (await stack.http.get(f"/api/v1/admin/members/{member_id}/membership", headers=bearer(token))).json()
    assert status["active"] and len(status["periods"]) == 2

    await open_screen(page, f"/members/{member_id}", "会员详情")
    await expect(page.locator("#membership-status")).to_contain_text("月卡会员，有效期至")
    periods = page.get_by_role("table", name="会员期")
    await expect(periods.locator("tbody tr")).to_have_count(2)
    orders = page.get_by_role("table", name="会员订单")
    await expect(orders.locator("tbody tr")).to_have_count(2)
    assert not await axe_violations(page)
    await console_shots("member-membership")

    # The earlier period is not the last one: the server refuses and the page says why.
    await page.get_by_role("button", name=f"退款 {first}").click()
    await page.locator("#confirm-dialog").get_by_label("退款原因").fill("七天无理由")
    await page.locator("#confirm-ok").click()
    await expect(page.get_by_text("无法退款：只能退最后购买的一期")).to_be_visible()

    await page.get_by_role("button", name=f"退款 {second}").click()
    await page.locator("#confirm-dialog").get_by_label("退款原因").fill("七天无理由")
    await page.locator("#confirm-ok").click()
    await expect(page.get_by_text("已提交退款，微信支付处理中")).to_be_visible()
    await expect(orders.get_by_role("row").filter(has_text=second)).to_contain_text("退款中")
    await expect(periods.get_by_text("已退款")).to_have_count(1)
    await expect(page.get_by_role("button", name=f"退款 {second}")).to_have_count(0)
    status = (await stack.http.get(f"/api/v1/admin/members/{member_id}/membership", headers=bearer(token))).json()
    assert [p["status"] for p in status["periods"]] == ["refunded", "active"]
    await console_shots("member-membership-refunded")


async def test_a_marketer_reads_the_membership_plans_but_cannot_change_them(stack, console_page):
    page = console_page
    _, admin = await make_staff(stack, role="admin")
    answer = await stack.http.put(PLANS, headers=bearer(admin), json={"refund_days": 7, "plans": [
        {"code": "vip_month", "name": "月卡会员", "period": "month", "price_cents": 1900}]})
    assert answer.status_code == 200, answer.text
    await log_in(page, stack, "marketer")
    await open_screen(page, "/loyalty", "等级与规则")
    await expect(page.get_by_role("button", name="保存付费会员")).to_be_hidden()
    await expect(plan_box(page, 0).get_by_label("方案代码")).to_be_disabled()
    await expect(plan_box(page, 0).get_by_label("方案代码")).to_have_value("vip_month")
    await expect(page.get_by_role("button", name="添加会员方案")).to_be_disabled()
