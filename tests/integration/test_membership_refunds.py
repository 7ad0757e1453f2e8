"""Refunds of a paid membership period within the cooling-off rule, through WeChat Pay's refunds: the period taken off
at once, settled by WeChat Pay's answer or notification, given back once when WeChat Pay refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.members.models import MemberEvent
from backend.membership import service as membership
from backend.membership.models import MembershipPeriod
from backend.payments.models import WeChatRefund
from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff, scan_token
from tests.integration.test_membership_purchase import buy, local_midnight, notify, plan, set_plans
from tests.jobs_helpers import coupon_template
from tests.loyalty_helpers import order


@pytest.fixture
async def paid(stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    await set_plans(stack, counter.admin, plan(), refund_days=7)
    return counter


async def pay(stack, fake_wechatpay, token):
    made = await buy(stack, token)
    answer = await notify(stack, *fake_wechatpay.notification(fake_wechatpay.pay(made["out_trade_no"])))
    assert answer.status_code == 204
    return made["out_trade_no"]


async def ask(stack, admin, out_trade_no, expect=201):
    answer = await stack.http.post(f"/api/v1/admin/membership-orders/{out_trade_no}/refunds",
                                   json={"reason": "七天无理由"}, headers=bearer(admin))
    assert answer.status_code == expect, answer.text
    return answer.json()


async def test_an_unused_period_is_refunded_within_the_cooling_off_days(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    stack.clock.advance(3 * 86400)
    _, admin = await make_staff(stack, role="admin")  # a login of today
    refund = await ask(stack, admin, no)
    assert (refund["status"], refund["principal_cents"], refund["bonus_cents"]) == ("processing", 1900, 0)
    sent = fake_wechatpay.refunds[refund["out_refund_no"]]["amount"]
    assert (sent["refund"], sent["total"]) == (1900, 1900)
    period = await MembershipPeriod.get(member_id=paid.member_id)
    assert period.status == "refunded"
    assert not (await membership.status(paid.member_id))["active"]  # the benefits stop at once
    view = (await stack.http.get(f"/api/v1/admin/members/{paid.member_id}/membership", headers=bearer(admin))).json()
    assert not view["active"] and view["periods"][0]["status"] == "refunded"
    settled = fake_wechatpay.settle_refund(refund["out_refund_no"])
    for _ in range(2):
        await notify(stack, *fake_wechatpay.notification(settled, event_type="REFUND.SUCCESS"))
    assert (await WeChatRefund.get(out_refund_no=refund["out_refund_no"])).status == "succeeded"
    assert await MemberEvent.filter(member_id=paid.member_id, type="membership_refunded").count() == 1
    assert await AuditLog.filter(action="membership.refund").count() == 1
    again = await ask(stack, admin, no, expect=409)
    assert again["error"]["details"]["reason"] == "already_refunded"


async def test_a_period_past_its_cooling_off_days_is_not_refunded(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    stack.clock.advance(7 * 86400 + 1)
    _, admin = await make_staff(stack, role="admin")
    refused = await ask(stack, admin, no, expect=409)
    assert refused["error"]["code"] == "MEMBERSHIP_NOT_REFUNDABLE"
    assert refused["error"]["details"] == {"reason": "refund_window_passed", "refund_days": 7}
    assert (await MembershipPeriod.get(member_id=paid.member_id)).status == "active"
    assert not fake_wechatpay.refunds


async def test_a_period_whose_benefits_were_used_is_not_refunded(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    paid.scan = await scan_token(stack, paid.clerk, paid.token)
    await order(stack, paid, amount_cents=5000)
    refused = await ask(stack, paid.admin, no, expect=409)
    assert refused["error"]["details"]["reason"] == "benefits_used"


async def test_a_period_whose_monthly_pack_was_issued_is_not_refunded(stack, paid, fake_wechatpay):
    template = await coupon_template(stack, paid.admin)
    await set_plans(stack, paid.admin, plan(monthly_coupons=[{"template_id": template, "count": 1}]))
    no = await pay(stack, fake_wechatpay, paid.token)
    await membership.issue_packs(tz=stack.settings.timezone)
    refused = await ask(stack, paid.admin, no, expect=409)
    assert refused["error"]["details"]["reason"] == "benefits_used"


async def test_only_the_last_period_is_refunded_and_the_membership_then_ends_where_it_began(stack, paid,
                                                                                            fake_wechatpay):
    first = await pay(stack, fake_wechatpay, paid.token)
    second = await pay(stack, fake_wechatpay, paid.token)
    refused = await ask(stack, paid.admin, first, expect=409)
    assert refused["error"]["details"]["reason"] == "not_last_period"
    await ask(stack, paid.admin, second)
    status = await membership.status(paid.member_id)
    assert status["active"] and datetime.fromisoformat(status["ends_at"]) == local_midnight(2026, 4, 3)


async def test_a_refund_wechat_pay_refuses_gives_the_period_back_once(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    fake_wechatpay.refuse_refunds = True
    refused = await ask(stack, paid.admin, no)
    assert refused["status"] == "failed"
    period = await MembershipPeriod.get(member_id=paid.member_id)
    assert period.status == "active" and period.ends_at == local_midnight(2026, 4, 3)  # where it was
    assert (await membership.status(paid.member_id))["active"]
    assert await MemberEvent.filter(member_id=paid.member_id, type="membership_reinstated").count() == 1
    fake_wechatpay.refuse_refunds = False
    again = await ask(stack, paid.admin, no)  # a failed refund does not stand in the way
    closed = fake_wechatpay.settle_refund(again["out_refund_no"], status="CLOSED")
    for _ in range(2):
        await notify(stack, *fake_wechatpay.notification(closed, event_type="REFUND.CLOSED"))
    assert await MemberEvent.filter(member_id=paid.member_id, type="membership_reinstated").count() == 2
    assert await MembershipPeriod.filter(member_id=paid.member_id, status="active").count() == 1


async def test_a_period_given_back_after_another_was_bought_goes_after_it(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    fake_wechatpay.mode = "http500"  # the refund's outcome unknown: processing
    asked = await ask(stack, paid.admin, no)
    assert asked["status"] == "processing"
    fake_wechatpay.mode = "ok"
    await pay(stack, fake_wechatpay, paid.token)  # bought again meanwhile: it starts now
    stack.clock.advance(61)
    fake_wechatpay.refunds.setdefault(asked["out_refund_no"], {})
    from backend.payments import service as payments

    await payments.refund_settled({"out_refund_no": asked["out_refund_no"], "status": "CLOSED"})
    periods = await MembershipPeriod.filter(member_id=paid.member_id, status="active").order_by("starts_at")
    assert len(periods) == 2 and periods[1].starts_at == periods[0].ends_at  # no overlap
    assert periods[1].ends_at - periods[1].starts_at >= timedelta(days=28)


async def test_the_top_up_refund_route_does_not_refund_a_membership(stack, paid, fake_wechatpay):
    no = await pay(stack, fake_wechatpay, paid.token)
    answer = await stack.http.post(f"/api/v1/admin/payments/{no}/refunds", json={"reason": "x"},
                                   headers=bearer(paid.admin))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "PAYMENT_NOT_FOUND"
