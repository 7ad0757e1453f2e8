"""The console's coupon and loyalty screens in a real browser: a marketer creates a coupon template,
activates it and issues it to a segment; the points mall; an admin edits a tier, sees a refused value on
its field, then saves a valid one; a marketer only reads the loyalty rules."""

from __future__ import annotations

import pytest

from backend import audit
from backend.coupons.models import Coupon, CouponTemplate, PointsMallItem
from backend.members import service
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, unique_phone

pytestmark = pytest.mark.sqlite_only


async def _member(stack, gender: str) -> int:
    result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos", gender=gender),
                                    pii=stack.pii, actor=audit.SYSTEM)
    return result.member.id


async def test_a_marketer_creates_activates_and_issues_a_coupon_to_a_segment(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    women = [await _member(stack, "female") for _ in range(3)]
    await _member(stack, "male")
    created = await stack.http.post("/api/v1/admin/segments", headers=bearer(token), json={
        "name": "女性会员", "rule": {"all": [{"field": "gender", "op": "eq", "value": "female"}]}})
    assert created.status_code == 201, created.text

    await open_screen(page, "/coupons", "券模板")
    await expect(page.get_by_text("还没有券模板")).to_be_visible()
    await page.get_by_role("link", name="新建券模板").click()
    await expect(page.locator(".screen-header h2")).to_have_text("新建券模板")
    assert not await axe_violations(page)
    await console_shots("coupon-new")
    await page.get_by_label("名称", exact=True).fill("春季满100减20")
    # An amount that is not one is said on its field before anything is sent.
    await page.get_by_label("减免金额（元）").fill("二十")
    await page.get_by_role("button", name="创建券模板").click()
    await expect(page.locator('[data-field="terms.amount_off_cents"] .field-error')).to_contain_text("金额")
    await page.get_by_label("减免金额（元）").fill("20")
    # A rule about the terms as a whole (no validity given) is said on the terms' own box.
    await page.get_by_label("有效期方式").select_option("window")
    await page.get_by_role("button", name="创建券模板").click()
    await expect(page.locator('[data-field="terms"] > .field-error')).to_contain_text("有效期")
    assert not await CouponTemplate.exists()
    await page.get_by_label("有效期方式").select_option("days")
    await page.get_by_label("使用门槛（元）").fill("100")
    await page.get_by_label("总库存（可空）").fill("100")
    await page.get_by_role("button", name="创建券模板").click()
    await expect(page.locator(".screen-header h2")).to_have_text("春季满100减20")
    template = await CouponTemplate.get(name="春季满100减20")
    assert (template.status, template.total_stock, template.terms["amount_off_cents"],
            template.terms["min_spend_cents"]) == ("draft", 100, 2000, 10000)

    await page.get_by_role("button", name="激活").click()
    await expect(page.locator(".pairs .badge")).to_have_text("生效中")
    assert (await CouponTemplate.get(id=template.id)).status == "active"

    await page.get_by_label("人群").select_option(label="女性会员")
    await page.get_by_role("button", name="发放").click()
    result = page.locator(".issue-progress")
    await expect(result).to_contain_text("发放完成")
    issued = await Coupon.filter(template_id=template.id).count()
    assert issued == len(women)
    await expect(page.get_by_test_id("issue-issued")).to_have_text(str(issued))
    await expect(page.get_by_test_id("issued-count")).to_have_text(f"{issued} / 100")
    assert not await axe_violations(page)
    await console_shots("coupon-issued")
    # The same batch again gives nobody a second coupon.
    await page.get_by_role("button", name="发放").click()
    await expect(result).to_contain_text("本次发出 0 张，跳过 3 人")
    assert await Coupon.filter(template_id=template.id).count() == issued

    await page.get_by_role("button", name="暂停").click()
    await expect(page.locator(".pairs .badge")).to_have_text("已暂停")
    await page.get_by_role("button", name="结束").click()
    await page.locator("#confirm-ok").click()
    await expect(page.locator(".pairs .badge")).to_have_text("已结束")

    await open_screen(page, "/coupons", "券模板")
    await expect(page.get_by_role("link", name="春季满100减20")).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("coupon-list")


async def test_the_points_mall_lists_creates_and_edits_items(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    made = await stack.http.post("/api/v1/admin/coupon-templates", headers=bearer(token), json={
        "name": "9折券", "terms": {"kind": "percent_off", "percent_pays": 90, "valid_days": 7}})
    assert made.status_code == 201, made.text
    await open_screen(page, "/points-mall", "积分商城")
    await page.get_by_label("名称", exact=True).fill("500积分换9折券")
    await page.get_by_label("所需积分").fill("500")
    await page.get_by_role("button", name="添加商品").click()
    await expect(page.get_by_role("cell", name="500积分换9折券", exact=True)).to_be_visible()
    item = await PointsMallItem.get(name="500积分换9折券")
    assert (item.points_price, item.active, item.template_id) == (500, True, made.json()["id"])

    await page.get_by_role("button", name="编辑 500积分换9折券").click()
    edit = page.locator("section", has_text="编辑：500积分换9折券")
    await edit.get_by_label("所需积分").fill("450")
    await edit.get_by_label("上架").uncheck()
    await edit.get_by_role("button", name="保存修改").click()
    await expect(page.get_by_role("cell", name="下架")).to_be_visible()
    item = await PointsMallItem.get(id=item.id)
    assert (item.points_price, item.active) == (450, False)
    assert not await axe_violations(page)
    await console_shots("points-mall")


async def test_an_admin_edits_a_tier_and_sees_a_refused_value_on_its_field(stack, console_page, console_shots):
    page = console_page
    _, token = await log_in(page, stack, "admin")
    await open_screen(page, "/loyalty", "等级与规则")
    threshold = page.get_by_label("门槛（元）").nth(1)
    await threshold.fill("0")  # not above the first tier's 0
    await page.get_by_role("button", name="保存等级").click()
    error = page.locator('[data-field="tiers.1.threshold"] .field-error')
    await expect(error).to_contain_text("门槛应高于上一等级")
    await expect(threshold).to_have_attribute("aria-invalid", "true")
    assert not await axe_violations(page)
    await console_shots("tier-refused")

    await threshold.fill("1500")
    await page.get_by_role("button", name="保存等级").click()
    await expect(page.get_by_text("等级已保存")).to_be_visible()
    tiers = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(token))).json()["tiers"]
    assert tiers[1]["threshold"] == 1500

    # A top-up bonus tier, sent back with the whole program.
    await page.get_by_role("button", name="添加赠送档位").click()
    await page.get_by_label("单次充值满（元）").fill("500")
    await page.get_by_label("赠送（元）").fill("50")
    await page.get_by_label("名称（选填）").fill("小程序充值礼")
    await page.get_by_label("适用渠道").select_option("online")
    await page.get_by_label("结束时间（选填）").fill("2030-01-01T00:00")
    await page.get_by_label("方案代码（限享时必填）").fill("mp_gift")
    await page.get_by_label("每人限享次数（选填）").fill("2")
    await page.get_by_role("button", name="保存储值赠送").click()
    await expect(page.get_by_text("储值赠送已保存")).to_be_visible()
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()
    [plan] = program["topup_bonuses"]
    assert (plan["min_amount_cents"], plan["bonus_cents"], plan["name"], plan["channels"], plan["starts_at"]) == (
        50000, 5000, "小程序充值礼", ["online"], None)
    assert (plan["code"], plan["per_member_limit"]) == ("mp_gift", 2)
    assert plan["ends_at"].startswith("2029-12-31T16:00:00") or plan["ends_at"].startswith("2030-01-01")
    # Saved again untouched, the plan keeps its name, channel and window
    await page.get_by_role("button", name="保存储值赠送").click()
    await expect(page.get_by_text("储值赠送已保存").last).to_be_visible()
    again = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(token))).json()["topup_bonuses"]
    assert again == [plan]
    assert program["tiers"][1]["threshold"] == 1500
    await console_shots("loyalty-saved")


async def test_a_marketer_reads_the_loyalty_rules_but_cannot_change_them(stack, console_page):
    page = console_page
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/loyalty", "等级与规则")
    await expect(page.get_by_text("仅管理员可以修改")).to_be_visible()
    await expect(page.get_by_role("button", name="保存等级")).to_be_hidden()
    await expect(page.get_by_label("门槛（元）").nth(1)).to_be_disabled()
    assert not await axe_violations(page)
    tiers = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(token))).json()["tiers"]
    refused = await stack.http.put("/api/v1/admin/tiers", json={"tiers": tiers}, headers=bearer(token))
    assert refused.status_code == 403
