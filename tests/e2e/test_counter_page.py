"""The store counter page in a real browser: a clerk logs in, scans codes as a scanner types them,
and acts on the member card; every action goes through the store API of the running server."""

from __future__ import annotations

import asyncio

import pytest

from backend.coupons.models import Coupon, Redemption
from backend.loyalty.models import Order
from backend.members.models import Member, MemberConsent
from tests.e2e.browser import expect
from tests.factories import bearer, make_staff, make_store, member_token, scan_token, unique, unique_phone

pytestmark = pytest.mark.sqlite_only

PASSWORD = "counter-pass-2026"
FLAT_TEN = {"kind": "amount_off", "min_spend_cents": 0, "amount_off_cents": 1000, "valid_days": 30}
OVER_100 = {"kind": "amount_off", "min_spend_cents": 10000, "amount_off_cents": 2000, "valid_days": 30}


# ---- seeding through the API ------------------------------------------------------------------

async def make_template(stack, admin, *, name, terms):
    response = await stack.http.post("/api/v1/admin/coupon-templates", json={"name": name, "terms": terms},
                                     headers=bearer(admin))
    assert response.status_code == 201, response.text
    template = response.json()
    response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status",
                                     json={"status": "active"}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    return template


async def give_coupon(stack, admin, member_id, *, name, terms):
    template = await make_template(stack, admin, name=name, terms=terms)
    response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/issue",
                                     json={"member_ids": [member_id], "batch_id": unique("b")}, headers=bearer(admin))
    assert response.status_code == 200 and response.json()["issued"] == 1, response.text
    return (await Coupon.get(template_id=template["id"], member_id=member_id)).id


async def earn_points(stack, clerk_token, member_token_, points):
    """A past purchase of ``points`` yuan (1 point per yuan), then half a minute later: the code the
    seeding scanned is spent, the page scans a fresh one."""
    scanned = await scan_token(stack, clerk_token, member_token_)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk_token), json={
        "scan_token": scanned, "order_no": unique("PAST"), "amount_cents": points * 100})
    assert response.status_code == 201 and response.json()["points_balance"] == points, response.text
    stack.clock.advance(seconds=30)


async def member_code(stack, token):
    response = await stack.http.get("/api/v1/mp/me/code", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["code"]


class Counter:
    """A store with a clerk (and an admin for coupons) and a member with a nickname."""

    def __init__(self, clerk, clerk_token, admin, member_id, token):
        self.clerk, self.clerk_token, self.admin = clerk, clerk_token, admin
        self.member_id, self.token = member_id, token


async def make_counter(stack, *, store=None, nickname="小林"):
    clerk, clerk_token = await make_staff(stack, store=store, password=PASSWORD)
    _, admin = await make_staff(stack, role="admin")
    member_id, token = await member_token(stack, nickname=nickname)
    return Counter(clerk, clerk_token, admin, member_id, token)


# ---- driving the page -------------------------------------------------------------------------

async def log_in(page, username, password=PASSWORD):
    await page.goto("/store/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_label("密码").press("Enter")
    await expect(page.get_by_label("扫码：会员码或券码")).to_be_focused()


async def scan(page, code):
    """As a USB scanner does: the digits, then Enter, into whatever has the focus."""
    await expect(page.locator("#scan-input")).to_be_focused()
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def scan_member(page, stack, c):
    await scan(page, await member_code(stack, c.token))
    await expect(page.locator("#member-card")).to_be_visible()


def usable(page):
    return page.locator("#m-usable .coupon")


# ---- tests ------------------------------------------------------------------------------------

async def test_a_clerk_logs_in_sees_store_and_name_and_logs_out(stack, page, shots):
    store = await make_store(name="徐汇旗舰店")
    clerk, _ = await make_staff(stack, store=store, password=PASSWORD)
    await page.goto("/store/")
    await shots("login")
    await page.get_by_label("用户名").fill(clerk.username)
    await page.get_by_label("密码").fill("wrong-password")
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator("#login-notice")).to_be_visible()
    await shots("wrong-password")

    await log_in(page, clerk.username)

    await expect(page.locator("#who-store")).to_have_text("徐汇旗舰店")
    await expect(page.locator("#who-clerk")).to_contain_text(clerk.username)
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('store-counter.session')).token")
    assert token
    await shots("logged-in")
    await page.reload()
    await expect(page.locator("#counter-view")).to_be_visible()
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.locator("#login-view")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('store-counter.session')") is None


async def test_an_expired_staff_session_sends_the_clerk_back_to_login_with_a_prompt(stack, page, shots):
    c = await make_counter(stack)
    await log_in(page, c.clerk.username)
    code = await member_code(stack, c.token)
    stack.clock.advance(seconds=stack.settings.staff_token_ttl_s + 1)

    await scan(page, code)

    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-notice")).to_have_text("登录已过期，请重新登录")
    await shots("session-expired")


async def test_a_member_code_typed_by_the_scanner_shows_the_member_card(stack, page, shots):
    c = await make_counter(stack)
    await earn_points(stack, c.clerk_token, c.token, 800)
    await give_coupon(stack, c.admin, c.member_id, name="满100减20", terms=OVER_100)
    await log_in(page, c.clerk.username)

    await scan_member(page, stack, c)

    await expect(page.locator("#m-nickname")).to_have_text("小林")
    phone = await page.locator("#m-phone").text_content()
    assert "*" in phone and len(phone) == 11, phone
    await expect(page.locator("#m-tier")).to_have_text("普通会员")
    await expect(page.locator("#m-points")).to_have_text("800")
    await expect(page.locator("#m-balance")).to_have_text("¥0.00")
    await expect(usable(page)).to_have_count(1)
    await expect(usable(page).first).to_contain_text("满¥100.00减¥20.00")
    await expect(page.locator("#m-orders tbody tr")).to_have_count(1)
    # The scan input keeps the focus for the next customer's code.
    await expect(page.locator("#scan-input")).to_be_focused()
    await shots("member-card")

    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shots("member-card-phone")


async def test_redeeming_a_coupon_removes_it_and_the_receipt_can_reverse_it(stack, page, shots):
    c = await make_counter(stack)
    coupon_id = await give_coupon(stack, c.admin, c.member_id, name="立减10元", terms=FLAT_TEN)
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)
    await expect(usable(page)).to_have_count(1)

    # Keyboard only: the 核销 button, then Enter in the dialog.
    await page.get_by_role("button", name="核销 立减10元").focus()
    await page.keyboard.press("Enter")
    dialog = page.locator("#redeem-dialog")
    await expect(dialog).to_be_visible()
    await shots("redeem-dialog")
    await page.keyboard.press("Enter")

    await expect(page.locator("#receipt")).to_contain_text("核销凭证")
    await expect(page.locator("#notice")).to_have_text("已核销：立减10元")
    await expect(page.locator("#m-usable")).to_contain_text("没有本店可用的券")
    await shots("redeemed")
    redemption = await Redemption.get(coupon_id=coupon_id)
    assert (await Coupon.get(id=coupon_id)).status == "redeemed"

    await page.get_by_label("撤销原因").fill("顾客改用现金")
    await page.get_by_role("button", name="撤销核销").click()

    await expect(page.locator("#notice")).to_have_text("已撤销核销，券已退回顾客")
    await expect(usable(page)).to_have_count(1)
    await shots("reversed")
    assert (await Redemption.get(id=redemption.id)).status == "reversed"
    assert (await Coupon.get(id=coupon_id)).status == "available"


async def test_a_scanned_coupon_code_shows_its_owner_with_the_coupon_marked(stack, page, shots):
    c = await make_counter(stack)
    coupon_id = await give_coupon(stack, c.admin, c.member_id, name="立减10元", terms=FLAT_TEN)
    await give_coupon(stack, c.admin, c.member_id, name="满100减20", terms=OVER_100)
    await log_in(page, c.clerk.username)
    response = await stack.http.get(f"/api/v1/mp/me/coupons/{coupon_id}/code", headers=bearer(c.token))
    assert response.status_code == 200, response.text

    await scan(page, response.json()["code"])

    await expect(page.locator("#notice")).to_have_text("已识别券：立减10元")
    await expect(page.locator("#m-nickname")).to_have_text("小林")
    await expect(page.locator("#m-usable .coupon.scanned")).to_contain_text("立减10元")
    await expect(usable(page)).to_have_count(2)
    await shots("coupon-scanned")


async def test_a_purchase_spending_points_and_a_coupon_shows_the_receipt(stack, page, shots):
    c = await make_counter(stack)
    await earn_points(stack, c.clerk_token, c.token, 800)
    coupon_id = await give_coupon(stack, c.admin, c.member_id, name="满100减20", terms=OVER_100)
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)

    await page.get_by_role("button", name="记录消费").click()
    dialog = page.locator("#purchase-dialog")
    await dialog.get_by_label("订单金额（元）").fill("200")
    await dialog.get_by_label("满100减20").check()
    await dialog.get_by_label("使用积分").fill("500")
    await expect(dialog.locator("[data-field=summary]")).to_contain_text("用券 1 张，用积分 500")
    # The payable before confirming, from the API's quote (which writes nothing).
    await expect(dialog.locator("[data-field=quote]")).to_contain_text("还需支付 ¥175.00")
    await expect(dialog.locator("[data-field=quote]")).to_contain_text("预计获得积分 175")
    await shots("purchase-dialog")
    await dialog.get_by_role("button", name="确认消费").click()

    receipt = page.locator("#receipt")
    await expect(receipt).to_contain_text("消费收据")
    # 200 - 20 (coupon) - 5 (500 points at 100 a yuan) = 175 to pay, earning 175 points.
    await expect(receipt).to_contain_text("-¥20.00")
    await expect(receipt).to_contain_text("500 积分（-¥5.00）")
    await expect(receipt).to_contain_text("¥175.00")
    await expect(receipt).to_contain_text("+175")
    await expect(page.locator("#m-points")).to_have_text(str(800 - 500 + 175))
    await expect(page.locator("#m-usable")).to_contain_text("没有本店可用的券")
    await shots("purchase-receipt")
    order = await Order.filter(member_id=c.member_id).order_by("-id").first()
    assert (order.amount_cents, order.discount_cents, order.points_spent) == (20000, 2000, 500)
    assert (await Coupon.get(id=coupon_id)).status == "redeemed"


async def test_an_expired_and_a_reused_code_show_the_error(stack, page, shots):
    c = await make_counter(stack)
    await log_in(page, c.clerk.username)

    stale = await member_code(stack, c.token)
    stack.clock.advance(seconds=60)  # two 30-second steps later: older than the one step of drift
    await scan(page, stale)
    await expect(page.locator("#error")).to_have_text("码已过期，请让顾客刷新后重新出示")
    await expect(page.locator("#member-card")).to_be_hidden()
    await shots("expired-code")

    fresh = await member_code(stack, c.token)
    await scan(page, fresh)
    await expect(page.locator("#member-card")).to_be_visible()
    await scan(page, fresh)
    await expect(page.locator("#error")).to_have_text("该码已被使用，请让顾客刷新后重新出示")
    await expect(page.locator("#member-card")).to_be_hidden()
    await shots("reused-code")

    await scan(page, "8" + "1" * 12)
    await expect(page.locator("#error")).to_have_text("无效的码，请让顾客刷新后重新出示")


async def test_a_double_clicked_confirm_acts_once(stack, page, shots):
    c = await make_counter(stack)
    coupon_id = await give_coupon(stack, c.admin, c.member_id, name="立减10元", terms=FLAT_TEN)
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)

    await page.get_by_role("button", name="核销 立减10元").click()
    await page.locator("#redeem-dialog").get_by_role("button", name="确认核销").dblclick()
    await expect(page.locator("#receipt")).to_contain_text("核销凭证")

    await page.get_by_role("button", name="记录消费").click()
    dialog = page.locator("#purchase-dialog")
    await dialog.get_by_label("订单金额（元）").fill("88.80")
    await dialog.get_by_role("button", name="确认消费").dblclick()
    await expect(page.locator("#receipt")).to_contain_text("消费收据")
    await expect(page.locator("#receipt")).to_contain_text("¥88.80")
    await shots("after-double-clicks")

    await asyncio.sleep(0.3)  # let a second request, had one been sent, land
    assert await Redemption.filter(coupon_id=coupon_id).count() == 1
    assert await Order.filter(member_id=c.member_id).count() == 1
    await expect(page.locator("#error")).to_be_hidden()


async def test_a_clerk_of_store_a_cannot_act_on_a_store_b_only_coupon(stack, page, shots):
    store_b = await make_store(name="静安体验店")
    c = await make_counter(stack)
    coupon_id = await give_coupon(stack, c.admin, c.member_id, name="静安店专享券",
                                  terms={**FLAT_TEN, "store_ids": [store_b.id]})
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)

    await expect(page.locator("#m-usable")).to_contain_text("没有本店可用的券")
    unusable = page.locator("#m-unusable .coupon")
    await expect(unusable).to_have_count(1)
    await expect(unusable.first).to_contain_text("静安店专享券")
    await expect(unusable.first.locator(".coupon-reason")).not_to_be_empty()
    await expect(unusable.first.get_by_role("button")).to_have_count(0)
    await shots("store-b-coupon-unusable")

    # Nor can the clerk get round the page: the API refuses it too.
    stack.clock.advance(seconds=30)
    scanned = await scan_token(stack, c.clerk_token, c.token)
    response = await stack.http.post(f"/api/v1/store/coupons/{coupon_id}/redeem", json={"scan_token": scanned},
                                     headers=bearer(c.clerk_token))
    assert response.status_code == 422 and response.json()["error"]["code"] == "COUPON_WRONG_STORE", response.text
    assert await unusable.first.locator(".coupon-reason").text_content() == response.json()["error"]["message"]
    assert not await Redemption.exists(coupon_id=coupon_id)


async def test_a_top_up_and_a_refund_show_their_receipts(stack, page, shots):
    c = await make_counter(stack)
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)

    await page.get_by_role("button", name="储值充值").click()
    dialog = page.locator("#topup-dialog")
    await dialog.get_by_label("充值金额（元）").fill("100")
    await dialog.get_by_label("支付流水号").fill("PAY-E2E-1")
    await dialog.get_by_label("支付流水号").press("Enter")
    await expect(page.locator("#receipt")).to_contain_text("充值收据")
    await expect(page.locator("#m-balance")).to_have_text("¥100.00")
    await shots("topup-receipt")

    await page.get_by_role("button", name="记录消费").click()
    dialog = page.locator("#purchase-dialog")
    await dialog.get_by_label("订单金额（元）").fill("60")
    await dialog.get_by_label("使用储值（元）").fill("60")
    await dialog.get_by_role("button", name="确认消费").click()
    await expect(page.locator("#m-balance")).to_have_text("¥40.00")
    order = await Order.get(member_id=c.member_id)

    await page.get_by_role("button", name=f"退款 {order.order_no}").click()
    dialog = page.locator("#refund-dialog")
    await expect(dialog.get_by_label("退款金额（元）")).to_have_value("60.00")
    await dialog.get_by_label("退款原因").fill("顾客退货")
    await dialog.get_by_role("button", name="确认退款").click()

    receipt = page.locator("#receipt")
    await expect(receipt).to_contain_text("退款收据")
    await expect(receipt).to_contain_text("¥60.00")
    await expect(page.locator("#m-balance")).to_have_text("¥100.00")
    await shots("refund-receipt")
    assert (await Order.get(id=order.id)).status == "refunded"


async def test_an_api_error_in_an_action_shows_its_chinese_message(stack, page, shots):
    c = await make_counter(stack)
    await log_in(page, c.clerk.username)
    await scan_member(page, stack, c)

    await page.get_by_role("button", name="记录消费").click()
    dialog = page.locator("#purchase-dialog")
    await dialog.get_by_label("订单金额（元）").fill("50")
    await dialog.get_by_label("使用储值（元）").fill("10")
    await dialog.get_by_role("button", name="确认消费").click()

    error = dialog.locator(".form-error")
    await expect(error).to_be_visible()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in await error.text_content())
    await shots("insufficient-balance")
    assert not await Order.exists(member_id=c.member_id)


async def test_a_walk_in_member_is_registered_with_consents_unticked_by_default(stack, page, shots):
    clerk, _ = await make_staff(stack, password=PASSWORD)
    await log_in(page, clerk.username)

    await page.get_by_role("button", name="新会员登记").click()
    dialog = page.locator("#register-dialog")
    for label in ("短信优惠通知", "微信优惠通知", "邮件优惠通知"):
        await expect(dialog.get_by_label(label)).not_to_be_checked()
    phone = unique_phone()
    await dialog.get_by_label("手机号").fill(phone)
    await dialog.get_by_label("称呼").fill("周女士")
    await dialog.get_by_label("短信优惠通知").check()
    await shots("register-dialog")
    await dialog.get_by_role("button", name="确认登记").click()

    await expect(page.locator("#notice")).to_have_text("新会员已登记")
    await expect(page.locator("#m-nickname")).to_have_text("周女士")
    # Registration hands back a scan token for the new member: the clerk can serve them at once.
    await expect(page.locator("#m-actions")).to_be_visible()
    await shots("registered")
    member_id = int(await page.locator("#member-card").get_attribute("data-member-id"))
    granted = {(row.channel, row.purpose): row.granted for row in await MemberConsent.filter(member_id=member_id)}
    assert granted[("sms", "marketing")] is True
    assert granted.get(("wechat", "marketing")) in (None, False)
    assert granted.get(("email", "marketing")) in (None, False)


async def test_the_registration_form_asks_for_the_required_custom_fields(stack, page, shots):
    clerk, _ = await make_staff(stack, password=PASSWORD)
    _, admin = await make_staff(stack, role="admin")
    for definition in ({"key": "shoe_size", "label": "鞋码", "type": "number", "required": True},
                       {"key": "style", "label": "风格", "type": "choice", "required": True, "choices": ["复古", "简约"]},
                       {"key": "note", "label": "备注", "type": "text"}):
        response = await stack.http.post("/api/v1/admin/custom-fields", json=definition, headers=bearer(admin))
        assert response.status_code == 201, response.text
    await log_in(page, clerk.username)

    await page.get_by_role("button", name="新会员登记").click()
    dialog = page.locator("#register-dialog")
    await expect(dialog.get_by_label("鞋码")).to_be_visible()
    await expect(dialog.get_by_label("风格")).to_be_visible()
    await expect(dialog.get_by_label("备注")).to_have_count(0)  # optional fields are the member's to fill later
    await dialog.get_by_label("手机号").fill(unique_phone())
    await dialog.get_by_label("风格").select_option("复古")
    await dialog.get_by_role("button", name="确认登记").click()
    await expect(dialog.locator(".form-error")).to_have_text("请填写鞋码")
    await shots("custom-field-missing")
    assert not await Member.exists()

    await dialog.get_by_label("鞋码").fill("38")
    await dialog.get_by_role("button", name="确认登记").click()

    await expect(page.locator("#notice")).to_have_text("新会员已登记")
    await shots("registered-with-custom-fields")
    member = await Member.get(id=int(await page.locator("#member-card").get_attribute("data-member-id")))
    assert member.custom_fields == {"shoe_size": 38, "style": "复古"}


async def test_a_required_field_defined_while_the_form_is_open_is_named_and_shown(stack, page, shots):
    clerk, _ = await make_staff(stack, password=PASSWORD)
    _, admin = await make_staff(stack, role="admin")
    await log_in(page, clerk.username)
    await page.get_by_role("button", name="新会员登记").click()
    dialog = page.locator("#register-dialog")
    await dialog.get_by_label("手机号").fill(unique_phone())
    response = await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin),
                                     json={"key": "shoe_size", "label": "鞋码", "type": "number", "required": True})
    assert response.status_code == 201, response.text

    await dialog.get_by_role("button", name="确认登记").click()

    await expect(dialog.locator(".form-error")).to_have_text("鞋码：必填")
    await expect(dialog.get_by_label("鞋码")).to_be_visible()
    await shots("custom-field-defined-meanwhile")
    assert not await Member.exists()
    await dialog.get_by_label("鞋码").fill("41")
    await dialog.get_by_role("button", name="确认登记").click()
    await expect(page.locator("#notice")).to_have_text("新会员已登记")
    assert (await Member.get()).custom_fields == {"shoe_size": 41}
