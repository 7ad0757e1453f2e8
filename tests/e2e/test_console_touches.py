"""The touches screens in a real browser: a marketer creates a touch on a segment of members with SMS
consent (template preview, channel order, coupon, schedule in words, 20% hold-out), sees a
validation error on its field, dry-runs it, runs it now and reads the stats the API answers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import TouchRecipient
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer
from tests.integration.test_touches import segment
from tests.jobs_helpers import add_order, coupon_template
from tests.notify_helpers import add_promo, admin_token, shopper

pytestmark = pytest.mark.sqlite_only


def cell(page, scope: str, label: str, column: int = 1):
    return page.locator(f"{scope} tr", has_text=label).first.locator("td").nth(column)


async def test_a_marketer_creates_dry_runs_and_runs_a_touch_and_reads_its_stats(stack, console_page, console_shots):
    page = console_page
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    await coupon_template(stack, admin, "春季券")
    for _ in range(10):
        await shopper(stack, sms_marketing=True)
    for _ in range(2):
        await shopper(stack)  # no consent
    await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True}, name="有手机号会员")
    await log_in(page, stack, "marketer")

    await open_screen(page, "/touches", "触达")
    await expect(page.get_by_text("还没有触达")).to_be_visible()
    assert not await axe_violations(page)
    await console_shots("touch-list-empty")

    await page.get_by_role("link", name="新建触达").first.click()
    await expect(page.locator(".screen-header h2")).to_have_text("新建触达")
    await page.get_by_role("button", name="创建").click()  # nothing filled: the API's errors on their fields
    await expect(page.locator('[data-field="name"] .field-error')).to_be_visible()
    await expect(page.locator('[data-field="template_key"] .field-error')).to_be_visible()

    await page.get_by_label("名称").fill("春季短信促销")
    await expect(page.locator('[data-field="name"] .field-error')).to_be_hidden()  # corrected: its error goes
    await page.get_by_label("人群", exact=True).select_option(label="有手机号会员")
    await page.locator('input[name="channel-email"]').check()
    await page.get_by_role("button", name="上移邮件").click()
    await expect(page.locator(".touch-channels li").first).to_contain_text("邮件")
    await page.get_by_role("button", name="下移邮件").click()
    await expect(page.locator(".touch-channels li").first).to_contain_text("短信")
    await page.get_by_label("消息模板").select_option("promo")
    sms_preview = page.locator('.touch-preview-channel[data-channel="sms"]')
    await expect(sms_preview).to_contain_text("周末全场 8 折")
    await expect(page.locator(".touch-preview-channel").first).to_have_attribute("data-channel", "sms")
    await page.get_by_label("附带优惠券").select_option(label="春季券")
    await page.get_by_label("发送方式").select_option("repeat")
    await page.get_by_label("周一").check()
    await page.get_by_label("周三").check()
    await page.get_by_label("时间", exact=True).fill("10:00")
    await page.get_by_label("时间", exact=True).dispatch_event("change")
    await expect(page.locator(".touch-words")).to_have_text("将于 每周一、三 10:00 发送")
    await page.get_by_label("发送方式").select_option("once")
    await page.get_by_label("发送时间").fill("2026-12-31T10:00")
    await page.get_by_label("对照组比例（%）").fill("20")
    await page.get_by_label("超出频次上限时").select_option("defer")
    assert not await axe_violations(page)
    await console_shots("touch-form")
    await page.get_by_role("button", name="创建").click()
    await expect(page.locator(".screen-header h2")).to_have_text("春季短信促销")

    touches = (await stack.http.get("/api/v1/admin/touches", headers=bearer(admin))).json()["items"]
    created = next(t for t in touches if t["name"] == "春季短信促销")
    assert created["holdout_pct"] == 20 and created["channels"] == ["sms", "email"]
    assert created["template_key"] == "promo" and created["coupon_template_id"] and created["cap_behaviour"] == "defer"
    touch_id = created["id"]

    await open_screen(page, f"/touches/{touch_id}/edit", "编辑触达")
    await expect(page.get_by_label("名称")).to_have_value("春季短信促销")
    await expect(page.get_by_label("对照组比例（%）")).to_have_value("20")
    assert not await axe_violations(page)
    await page.get_by_role("link", name="取消").click()
    await expect(page.locator(".screen-header h2")).to_have_text("春季短信促销")

    await page.get_by_role("button", name="排期").click()
    await expect(page.locator("dl.pairs .badge").first).to_have_text("已排期")
    await page.get_by_role("button", name="预演").click()
    await expect(page.locator(".touch-dry-run")).to_be_visible()
    dry = (await stack.http.post(f"/api/v1/admin/touches/{touch_id}/dry-run", headers=bearer(admin))).json()
    assert dry["audience"] >= 12 and dry["holdout"] > 0
    await expect(cell(page, ".touch-dry-run", "人群会员")).to_have_text(str(dry["audience"]))
    await expect(cell(page, ".touch-dry-run", "对照组")).to_have_text(str(dry["holdout"]))
    await expect(cell(page, ".touch-dry-run", "触达组")).to_have_text(str(dry["treatment"]))
    await expect(cell(page, ".touch-dry-run", "无营销授权")).to_have_text(str(dry["would"]["no_consent"]))
    await expect(cell(page, ".touch-dry-run", "超出频次上限（顺延）")).to_have_text(str(dry["would"]["deferred"]))
    await expect(cell(page, ".touch-dry-run", "免打扰")).to_have_text(str(dry["would"]["quiet_hours"]))
    assert not await axe_violations(page)
    await console_shots("touch-dry-run")

    await page.get_by_role("button", name="立即运行").click()
    await page.locator("#confirm-ok").click()
    await expect(page.locator(".toast").last).to_have_text("已运行")
    await stack.dispatcher.drain()
    # Orders after the touch: two treated members and one held out convert.
    groups = {"treatment": [], "holdout": []}
    for r in await TouchRecipient.filter(touch_id=touch_id).order_by("member_id"):
        groups[r.grp].append(r.member_id)
    for member_id in [*groups["treatment"][:2], *groups["holdout"][:1]]:
        await add_order(member_id, placed_at=stack.clock.now() + timedelta(hours=2))
    await page.evaluate("() => { document.querySelectorAll('.toast').forEach((t) => t.remove()); window.Console.render(); }")
    await expect(page.locator(".touch-stats .chart svg").first).to_be_visible()
    stats = (await stack.http.get(f"/api/v1/admin/touches/{touch_id}/stats", headers=bearer(admin))).json()
    funnel = stats["funnel"]
    assert funnel["queued"] == dry["treatment"]
    for label, key in (("已排队", "queued"), ("已发送", "sent"), ("已送达", "delivered"), ("已转化", "converted")):
        await expect(cell(page, ".touch-stats", label)).to_have_text(str(funnel[key]))
    conv = stats["conversions"]
    await expect(cell(page, ".touch-stats", "触达组")).to_have_text(str(conv["treatment"]["members"]))
    await expect(cell(page, ".touch-stats", "对照组")).to_have_text(str(conv["holdout"]["members"]))
    assert funnel["converted"] == conv["treatment"]["converted"] == 2 and conv["holdout"]["converted"] == 1
    await expect(cell(page, ".touch-stats", "触达组", 2)).to_have_text("2")
    await expect(cell(page, ".touch-stats", "对照组", 2)).to_have_text("1")
    await expect(page.locator(".touch-lift")).to_contain_text(f"{conv['lift'] * 100:+.1f} 个百分点")
    await expect(page.locator("dl.pairs").first).to_contain_text("春季券")
    assert not await axe_violations(page)
    await console_shots("touch-stats")

    await open_screen(page, f"/touches/{touch_id}/edit", "编辑触达")  # a finished touch is not edited
    await expect(page.locator("#screen .notice.error")).to_have_text("已结束的触达不能修改。")

    await open_screen(page, "/touches", "触达")
    await expect(page.get_by_role("link", name="春季短信促销")).to_be_visible()
    await expect(page.locator("table.grid tr", has_text="春季短信促销")).to_contain_text("已结束")
    assert not await axe_violations(page)


async def test_a_weekly_touch_is_shown_in_words_with_its_next_run_and_an_event_touch_needs_no_dry_run(
        stack, console_page, console_shots):
    page = console_page
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True}, name="每周人群")
    await log_in(page, stack, "marketer")
    await open_screen(page, "/touches/new", "新建触达")
    await page.get_by_label("名称").fill("每周提醒")
    await page.get_by_label("人群", exact=True).select_option(label="每周人群")
    await page.get_by_label("消息模板").select_option("promo")
    await page.get_by_label("发送方式").select_option("repeat")
    await page.get_by_label("周一").check()
    await page.get_by_label("周三").check()
    await page.get_by_label("时间", exact=True).fill("10:00")
    await page.get_by_role("button", name="创建").click()
    await expect(page.locator(".screen-header h2")).to_have_text("每周提醒")
    await expect(page.locator("dl.pairs").first).to_contain_text("每周一、三 10:00")
    touches = (await stack.http.get("/api/v1/admin/touches", headers=bearer(admin))).json()["items"]
    weekly = next(t for t in touches if t["name"] == "每周提醒")
    assert weekly["schedule"] == {"cron": "0 10 * * mon,wed"}
    await page.get_by_role("button", name="排期").click()
    await expect(page.locator("dl.pairs .badge").first).to_have_text("已排期")
    one = (await stack.http.get(f"/api/v1/admin/touches/{weekly['id']}", headers=bearer(admin))).json()
    assert one["next_run_at"]

    event = await stack.http.post("/api/v1/admin/touches", headers=bearer(admin), json={
        "name": "注册欢迎", "audience": {"event": "registered", "delay_hours": 24}, "channels": ["sms"],
        "template_key": "promo"})
    assert event.status_code == 201, event.text
    await open_screen(page, f"/touches/{event.json()['id']}", "注册欢迎")
    await expect(page.get_by_text("事件触达在事件发生时逐个触达，无法预演。")).to_be_visible()
    await expect(page.get_by_role("button", name="预演")).to_have_count(0)
    await expect(page.locator("dl.pairs").first).to_contain_text("注册后 24 小时发送")

    await open_screen(page, "/touches", "触达")
    row = page.locator("table.grid tr", has_text="每周提醒")
    await expect(row).to_contain_text("每周一、三 10:00")
    await expect(row.locator("td").nth(4)).not_to_have_text("—")
    await expect(page.locator("table.grid tr", has_text="注册欢迎")).to_contain_text("事件：注册后")
    assert not await axe_violations(page)
    await console_shots("touch-list")
