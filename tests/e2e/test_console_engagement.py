"""The console's engagement screens in a real browser: a marketer creates a bonus-point campaign (a refused
end time is shown on its field first) and finds it in the list with its status, then pauses it; an admin
switches daily check-in on with a day-7 reward and sets the referral coupons, and the saved program has
them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer

pytestmark = pytest.mark.sqlite_only

# The stack's clock starts on Monday 2026-03-02, 10:00 in Shanghai (the browser's zone): the weekend is ahead.
SATURDAY = "2026-03-07T00:00"
SUNDAY_NIGHT = "2026-03-08T23:59"


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


async def _campaigns(stack, token: str) -> list[dict]:
    answer = await stack.http.get("/api/v1/admin/campaigns", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def _template(stack, token: str, name: str) -> int:
    made = await stack.http.post("/api/v1/admin/coupon-templates", headers=bearer(token), json={
        "name": name, "terms": {"kind": "amount_off", "amount_off_cents": 500, "valid_days": 30}})
    assert made.status_code == 201, made.text
    activated = await stack.http.post(f"/api/v1/admin/coupon-templates/{made.json()['id']}/status",
                                      headers=bearer(token), json={"status": "active"})
    assert activated.status_code == 200, activated.text
    return made.json()["id"]


async def test_a_marketer_creates_a_double_points_weekend_and_sees_it_in_the_list(stack, console_page,
                                                                                 console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/campaigns", "积分活动")
    await expect(page.get_by_role("link", name="积分活动", exact=True)).to_have_attribute("aria-current", "page")
    await expect(page.get_by_text("还没有积分活动")).to_be_visible()
    await page.get_by_role("link", name="新建活动").click()
    await expect(page.locator(".screen-header h2")).to_have_text("新建积分活动")

    await page.get_by_label("名称", exact=True).fill("双倍积分周末")
    await page.get_by_label("说明").fill("周六日全场双倍积分（金卡）")
    await page.get_by_label("开始时间").fill(SATURDAY)
    await page.get_by_label("结束时间").fill("2026-03-06T23:59")  # before the start
    await page.get_by_label("类型").select_option("multiplier")
    await page.get_by_label("倍率（%）").fill("200")
    await page.get_by_label("金卡").check()
    await page.get_by_label("积分预算").fill("100000")
    await page.get_by_role("button", name="创建活动").click()
    # The API refuses the end before the start; the page says so on the end's field.
    error = page.locator('[data-field="ends_at"] .field-error')
    await expect(error).to_contain_text("晚于")
    await expect(page.get_by_label("结束时间")).to_have_attribute("aria-invalid", "true")
    assert await _campaigns(stack, token) == []
    assert not await axe_violations(page)

    await page.get_by_label("结束时间").fill(SUNDAY_NIGHT)
    await page.get_by_role("button", name="创建活动").click()
    await expect(page.locator(".screen-header h2")).to_have_text("积分活动")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="双倍积分周末"))
    await expect(row).to_contain_text("未开始")
    await expect(row).to_contain_text("倍数 ×2")
    await expect(row).to_contain_text("等级：金卡")
    await expect(row).to_contain_text("0 / 100,000")
    await expect(row).to_contain_text("2026-03-07 00:00 至 2026-03-08 23:59")
    [saved] = await _campaigns(stack, token)
    assert (saved["name"], saved["kind"], saved["multiplier_pct"], saved["tiers"], saved["budget_points"],
            saved["spent_points"], saved["enabled"], saved["status"]) == (
        "双倍积分周末", "multiplier", 200, ["gold"], 100000, 0, True, "scheduled")
    assert _at(saved["starts_at"]) == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Saturday 00:00 in Shanghai
    assert _at(saved["ends_at"]) == datetime(2026, 3, 8, 15, 59, tzinfo=UTC)
    assert (saved["channels"], saved["store_ids"], saved["categories"], saved["segment_id"]) == (
        [], [], [], None)
    assert not await axe_violations(page)
    await console_shots("campaign-list")

    # Switched off on its own page: saved, and the list says paused.
    await row.get_by_role("link", name="双倍积分周末").click()
    await expect(page.locator(".screen-header h2")).to_have_text("双倍积分周末")
    await page.get_by_label("启用").uncheck()
    await page.get_by_role("button", name="保存修改").click()
    await expect(page.get_by_text("已保存「双倍积分周末」")).to_be_visible()
    [paused] = await _campaigns(stack, token)
    assert (paused["id"], paused["enabled"], paused["status"], paused["multiplier_pct"], paused["tiers"]) == (
        saved["id"], False, "paused", 200, ["gold"])
    await expect(page.get_by_test_id("campaign-status")).to_have_text("已暂停")


async def test_an_admin_switches_check_in_on_and_sets_the_referral_coupons(stack, console_page,
                                                                           console_shots):
    page = console_page
    _, token = await log_in(page, stack, "admin")
    week = await _template(stack, token, "签到7天礼券")
    welcome = await _template(stack, token, "新人券")
    thanks = await _template(stack, token, "邀请人券")
    await open_screen(page, "/loyalty", "等级与规则")

    await page.get_by_label("开启签到").check()
    await page.get_by_label("签到周期（天）").fill("7")
    await page.get_by_label("每日签到积分").fill("5")
    await page.get_by_role("button", name="添加签到奖励").click()
    await page.get_by_label("第几天").fill("8")  # beyond the cycle
    await page.get_by_label("积分", exact=True).fill("50")
    await page.get_by_label("赠券", exact=True).select_option(str(week))
    await page.get_by_role("button", name="保存签到设置").click()
    await expect(page.locator('[data-field="checkin"] > .field-error')).to_contain_text("签到周期")
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()
    assert program["checkin"]["enabled"] is False

    await page.get_by_label("第几天").fill("7")
    await page.get_by_role("button", name="保存签到设置").click()
    await expect(page.get_by_text("签到设置已保存")).to_be_visible()
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()
    assert program["checkin"] == {"enabled": True, "cycle_days": 7, "daily_points": 5,
                                  "rewards": [{"day": 7, "points": 50, "coupon_template_id": week}]}

    await page.get_by_label("被邀请人注册积分").fill("100")
    await page.get_by_label("邀请人积分", exact=True).fill("200")
    await page.get_by_label("被邀请人赠券").select_option([str(welcome), str(week)])
    await page.get_by_label("邀请人赠券", exact=True).select_option(str(thanks))
    await page.get_by_label("邀请人奖励时机").select_option("registration")
    await page.get_by_role("button", name="保存邀请有礼").click()
    await expect(page.get_by_text("邀请有礼已保存")).to_be_visible()
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()
    assert (program["invitee_points"], program["referrer_points"]) == (100, 200)
    referral = program["referral"]
    assert sorted(referral["invitee_coupon_template_ids"]) == sorted([welcome, week])
    assert referral["referrer_coupon_template_ids"] == [thanks]
    assert referral["referrer_reward_on"] == "registration"
    assert program["checkin"]["rewards"] == [{"day": 7, "points": 50, "coupon_template_id": week}]

    # The page drawn again shows what was saved; the policy form, without the referral fields now, still
    # saves without touching them.
    await page.reload()
    await expect(page.locator(".screen-header h2")).to_have_text("等级与规则")
    await expect(page.get_by_label("开启签到")).to_be_checked()
    await expect(page.get_by_label("赠券", exact=True)).to_have_value(str(week))
    await expect(page.get_by_label("邀请人赠券", exact=True)).to_have_values([str(thanks)])
    await page.get_by_label("注册赠送积分").fill("30")
    await page.get_by_role("button", name="保存评定与有效期").click()
    await expect(page.get_by_text("评定与有效期已保存")).to_be_visible()
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()
    assert (program["registration_points"], program["invitee_points"], program["referrer_points"]) == (
        30, 100, 200)
    assert program["referral"]["referrer_coupon_template_ids"] == [thanks]
    assert program["checkin"]["enabled"] is True
    assert not await axe_violations(page)
    await console_shots("checkin-referral-saved")
