"""The console's member screens in a real browser: a marketer finds a member by phone and by tag and reads
the member page; an admin reveals the phone (audited), adjusts points and erases a member."""

from __future__ import annotations

import pytest

from backend.members.models import Member
from backend.stores.models import AuditLog
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, make_staff, member_token, scan_token, unique, unique_phone

pytestmark = pytest.mark.sqlite_only


async def seed_member(stack, *, nickname="林小满"):
    """A member with two purchases, a top-up, a coupon, a consent change and a manual tag, all through the API."""
    phone = unique_phone()
    member_id, token = await member_token(stack, phone, nickname=nickname, birthday="1992-05-18", gender="female")
    _, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    for amount in (268, 99):
        scanned = await scan_token(stack, clerk, token)
        response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
            "scan_token": scanned, "order_no": unique("ORD"), "amount_cents": amount * 100})
        assert response.status_code == 201, response.text
        stack.clock.advance(seconds=30)
    scanned = await scan_token(stack, clerk, token)
    response = await stack.http.post("/api/v1/store/wallet/topups", headers={**bearer(clerk), "Idempotency-Key": unique("k")},
                                     json={"scan_token": scanned, "amount_cents": 50000, "payment_ref": unique("pay")})
    assert response.status_code in (200, 201), response.text
    stack.clock.advance(seconds=30)
    template = (await stack.http.post("/api/v1/admin/coupon-templates", headers=bearer(admin), json={
        "name": "满 100 减 20", "terms": {"kind": "amount_off", "min_spend_cents": 10000, "amount_off_cents": 2000,
                                       "valid_days": 30}})).json()
    await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status", json={"status": "active"},
                          headers=bearer(admin))
    issued = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/issue", headers=bearer(admin),
                                   json={"member_ids": [member_id], "batch_id": unique("b")})
    assert issued.status_code == 200, issued.text
    await stack.http.put("/api/v1/mp/me/consents", headers=bearer(token),
                         json={"consents": {"sms_marketing": True}, "text_version": "v1"})
    tag = (await stack.http.post("/api/v1/admin/tags", json={"name": "高价值客户", "code": unique("vip")},
                                 headers=bearer(admin))).json()
    await stack.http.post(f"/api/v1/admin/tags/{tag['id']}/members", json={"member_ids": [member_id]},
                          headers=bearer(admin))
    return member_id, phone, tag


async def test_a_marketer_finds_a_member_by_phone_and_tag_and_reads_the_member_page(stack, console_page,
                                                                                    console_shots):
    page = console_page
    member_id, phone, tag = await seed_member(stack)
    _, marketer = await log_in(page, stack, "marketer")
    await open_screen(page, "/members", "会员查询")
    await page.get_by_label("手机号").fill(phone)
    await page.get_by_role("button", name="查询").click()
    rows = page.locator(".pager tbody tr")
    await expect(rows).to_have_count(1)
    member_no = (await Member.get(id=member_id)).member_no
    await expect(rows.first).to_contain_text(member_no)
    await expect(rows.first).to_contain_text("367")  # points from 367 yuan spent
    await expect(rows.first).to_contain_text("¥500.00")
    assert phone not in await rows.first.inner_text()  # masked

    await page.get_by_role("button", name="清空").click()
    await expect(page.get_by_label("手机号")).to_have_value("")
    await page.get_by_label("标签").select_option(str(tag["id"]))
    await page.get_by_role("button", name="查询").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(member_no)
    assert not await axe_violations(page)
    await console_shots("members-search")

    await rows.first.get_by_role("link", name=member_no).click()
    await expect(page.locator(".screen-header h2")).to_have_text("会员详情")
    stats = page.locator(".member-stats")
    await expect(stats).to_contain_text("367")
    await expect(stats).to_contain_text("¥500.00")
    await expect(page.locator(".member-tags")).to_contain_text(tag["name"])
    await expect(page.locator(".tab-panel tbody tr")).to_have_count(2)  # two earns
    await expect(page.locator(".tab-panel")).to_contain_text("消费获得")
    # No admin actions for a marketer.
    await expect(page.get_by_role("button", name="显示完整号码")).to_have_count(0)
    await expect(page.get_by_text("管理员操作")).to_have_count(0)
    await page.get_by_role("tab", name="时间线").click()
    await expect(page.locator(".tab-panel")).to_contain_text("注册")
    await page.get_by_role("tab", name="授权历史").click()
    await expect(page.locator(".tab-panel")).to_contain_text("同意")
    await page.get_by_role("tab", name="积分流水").click()
    await expect(page.locator(".tab-panel tbody tr")).to_have_count(2)
    assert not await axe_violations(page)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await console_shots("member-page")
    # The API refuses what the page hides.
    refused = await stack.http.post(f"/api/v1/admin/members/{member_id}/phone/reveal", headers=bearer(marketer))
    assert refused.status_code == 403


async def test_an_admin_reveals_the_phone_adjusts_points_and_erases_a_member(stack, console_page, console_shots):
    page = console_page
    member_id, phone, _ = await seed_member(stack, nickname="周一")
    admin, _ = await log_in(page, stack, "admin")
    await open_screen(page, f"/members/{member_id}", "会员详情")
    await expect(page.locator(".member-phone")).not_to_have_text(phone)
    await page.get_by_role("button", name="显示完整号码").click()
    await expect(page.locator(".member-phone")).to_have_text(phone)
    assert await AuditLog.exists(action="member.phone_reveal", member_id=member_id, actor_id=str(admin.id))

    await page.get_by_label("调整积分数").fill("100")
    await page.get_by_label("调整原因").fill("客诉补偿")
    await page.get_by_role("button", name="调整积分", exact=True).click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("增加 100 积分")
    await dialog.get_by_role("button", name="确认调整").click()
    await expect(page.locator(".member-stats")).to_contain_text("467")
    await expect(page.locator(".tab-panel")).to_contain_text("客诉补偿")
    assert not await axe_violations(page)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await console_shots("member-admin")

    other_id, _ = await member_token(stack)
    await page.get_by_label("被合并会员 ID").fill(str(other_id))
    await page.get_by_role("button", name="合并会员").click()
    await expect(dialog).to_contain_text(f"会员 #{other_id} 的身份")
    await dialog.get_by_role("button", name="确认合并").click()
    await expect(page.locator(".toast").last).to_contain_text(f"已将会员 #{other_id} 合并")
    assert (await Member.get(id=other_id)).status == "merged"

    member_no = (await Member.get(id=member_id)).member_no
    await page.get_by_label("导出原因").fill("会员本人申请查阅")
    await page.get_by_role("button", name="导出数据").click()
    await expect(dialog).to_contain_text("导出")
    await dialog.get_by_role("button", name="确认导出").click()
    link = page.get_by_role("link", name=f"下载导出文件（member-{member_no}.json）")
    await expect(link).to_be_visible()
    async with page.expect_download() as info:
        await link.click()
    assert (await info.value).suggested_filename == f"member-{member_no}.json"
    assert await AuditLog.filter(member_id=member_id, action="member.export").exists()

    await page.get_by_label("擦除原因").fill("会员本人申请注销")
    await page.get_by_label("确认会员号").fill(member_no)
    await page.get_by_role("button", name="擦除会员").click()
    await expect(dialog).to_contain_text("永久擦除")
    await dialog.get_by_role("button", name="永久擦除").click()
    await expect(page.locator(".member-title")).to_contain_text("已擦除")
    assert (await Member.get(id=member_id)).status == "deleted"
    await page.evaluate("() => window.scrollTo(0, 0)")
    await console_shots("member-erased")
