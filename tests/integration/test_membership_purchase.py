"""Buying and renewing a paid membership in the mini-program with WeChat Pay, on both stacks, against the loopback
fake of WeChat Pay v3: one period per payment however many notifications come or race, forged ones refused, a lost
one recovered by the minute job, two purchases at once stacked end to end, the end at merchant midnight."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.members.models import MemberEvent
from backend.membership import service as membership
from backend.membership.models import MembershipPeriod
from backend.payments import service as payments
from backend.payments.models import WeChatPayment
from tests.factories import bearer, make_staff, member_token

NOTIFY_PATH = "/api/v1/callbacks/wechatpay"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANS_PATH = "/api/v1/admin/membership-plans"


def plan(**overrides):
    return {"code": "vip_month", "name": "月卡会员", "period": "month", "price_cents": 1900,
            "points_multiplier_pct": 200, "discount_pct": 95, "free_shipping": True, **overrides}


async def set_plans(stack, admin, *plans, refund_days=7):
    answer = await stack.http.put(PLANS_PATH, json={"plans": list(plans), "refund_days": refund_days},
                                  headers=bearer(admin))
    assert answer.status_code == 200, answer.text


@pytest.fixture
async def shopper(stack, fake_wechatpay):
    fake_wechatpay.reset()
    _, admin = await make_staff(stack, role="admin")
    await set_plans(stack, admin, plan(), plan(code="vip_year", name="年卡会员", period="year", price_cents=16800),
                    plan(code="old", name="旧方案", on_sale=False))
    member_id, token = await member_token(stack)
    return member_id, token, admin


async def buy(stack, token, plan_code="vip_month", expect=201):
    answer = await stack.http.post("/api/v1/mp/membership/orders", json={"plan_code": plan_code},
                                   headers=bearer(token))
    assert answer.status_code == expect, answer.text
    return answer.json()


async def notify(stack, headers, body):
    return await stack.http.post(NOTIFY_PATH, content=body, headers={**headers, "Content-Type": "application/json"})


async def overview(stack, token):
    answer = await stack.http.get("/api/v1/mp/membership", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def local_midnight(year, month, day):
    return datetime(year, month, day, tzinfo=SHANGHAI).astimezone(UTC)


async def test_a_membership_is_paid_and_granted_once_however_often_wechat_pay_notifies(stack, shopper,
                                                                                       fake_wechatpay):
    member_id, token, _ = shopper
    before = await overview(stack, token)
    assert before["enabled"] and [p["code"] for p in before["plans"]] == ["vip_month", "vip_year"]  # not "old"
    assert before["plans"][0]["benefits"]["points_multiplier_pct"] == 200
    assert before["membership"] == {"active": False, "plan_code": None, "plan_name": None, "benefits": None,
                                    "ends_at": None, "periods": []}
    made = await buy(stack, token)
    assert (made["kind"], made["status"], made["amount_cents"]) == ("membership", "pending", 1900)
    assert made["payment"]["package"].startswith("prepay_id=")
    assert fake_wechatpay.orders[made["out_trade_no"]]["amount"]["total"] == 1900
    assert not await MembershipPeriod.exists(member_id=member_id)  # nothing before WeChat Pay says it is paid
    paid = fake_wechatpay.pay(made["out_trade_no"])
    answers = [await notify(stack, *fake_wechatpay.notification(paid))]
    answers += await asyncio.gather(*(notify(stack, *fake_wechatpay.notification(paid)) for _ in range(3)))
    assert [a.status_code for a in answers] == [204] * 4
    periods = await MembershipPeriod.filter(member_id=member_id)
    assert len(periods) == 1
    # Bought on 2 March at 10:00 Shanghai: a month on, rounded up to midnight — the end of 2 April
    assert periods[0].payment_ref == f"wxpay:{paid['transaction_id']}"
    assert periods[0].ends_at == local_midnight(2026, 4, 3)
    events = await MemberEvent.filter(member_id=member_id, type__startswith="membership_")
    assert [e.type for e in events] == ["membership_purchased"]
    assert events[0].payload["period_id"] == periods[0].id
    after = (await overview(stack, token))["membership"]
    assert after["active"] and after["plan_code"] == "vip_month" and after["benefits"]["discount_pct"] == 95
    assert datetime.fromisoformat(after["ends_at"]) == local_midnight(2026, 4, 3)
    state = (await stack.http.get(f"/api/v1/mp/membership/orders/{made['out_trade_no']}", headers=bearer(token)))
    assert state.json()["status"] == "paid"
    # The top-ups' route does not show a membership order
    assert (await stack.http.get(f"/api/v1/mp/wallet/topups/{made['out_trade_no']}",
                                 headers=bearer(token))).status_code == 404


@pytest.mark.parametrize("forge", ["signature", "body", "key"])
async def test_a_forged_notification_is_refused_and_grants_nothing(stack, shopper, fake_wechatpay, forge):
    member_id, token, _ = shopper
    made = await buy(stack, token)
    paid = fake_wechatpay.pay(made["out_trade_no"])
    answer = await notify(stack, *fake_wechatpay.notification(paid, forge=forge))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "WECHATPAY_SIGNATURE_INVALID"
    assert not await MembershipPeriod.exists(member_id=member_id)
    assert (await WeChatPayment.get(out_trade_no=made["out_trade_no"])).status == "pending"
    assert not (await overview(stack, token))["membership"]["active"]


async def test_a_lost_notification_is_recovered_by_the_minute_job(stack, shopper, fake_wechatpay):
    member_id, token, _ = shopper
    made = await buy(stack, token, "vip_year")
    fake_wechatpay.pay(made["out_trade_no"])  # paid, but the notification never arrives
    stack.clock.advance(61)
    counts = await payments.reconcile()
    assert (counts["queried"], counts["paid"]) == (1, 1)
    period = await MembershipPeriod.get(member_id=member_id)
    assert (period.plan_code, period.ends_at) == ("vip_year", local_midnight(2027, 3, 3))
    assert (await payments.reconcile())["queried"] == 0
    assert await MembershipPeriod.filter(member_id=member_id).count() == 1


async def test_two_purchases_settled_at_once_stack_end_to_end(stack, shopper, fake_wechatpay):
    member_id, token, _ = shopper
    first, second = await buy(stack, token), await buy(stack, token)
    notes = [fake_wechatpay.notification(fake_wechatpay.pay(made["out_trade_no"])) for made in (first, second)]
    # Each notification three times, all at once
    answers = await asyncio.gather(*(notify(stack, *note) for note in notes * 3))
    assert [a.status_code for a in answers] == [204] * 6
    periods = await MembershipPeriod.filter(member_id=member_id).order_by("starts_at")
    assert len(periods) == 2
    assert periods[0].starts_at == START_AT and periods[0].ends_at == local_midnight(2026, 4, 3)
    assert periods[1].starts_at == periods[0].ends_at  # no overlap, no gap
    assert periods[1].ends_at == local_midnight(2026, 5, 3)
    types = sorted(await MemberEvent.filter(member_id=member_id, type__startswith="membership_")
                   .values_list("type", flat=True))
    assert types == ["membership_purchased", "membership_renewed"]
    view = (await overview(stack, token))["membership"]
    assert datetime.fromisoformat(view["ends_at"]) == local_midnight(2026, 5, 3)
    assert len(view["periods"]) == 2


START_AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def test_a_membership_ends_at_merchant_midnight_and_the_end_is_noted_once(stack, shopper, fake_wechatpay):
    member_id, token, _ = shopper
    made = await buy(stack, token)
    await notify(stack, *fake_wechatpay.notification(fake_wechatpay.pay(made["out_trade_no"])))
    end = local_midnight(2026, 4, 3)
    # (Weeks later the shopper's token has expired: the service answers what the route would.)
    stack.clock.set(end - timedelta(seconds=1))  # 23:59:59 on 2 April, Shanghai
    assert (await membership.status(member_id))["active"]
    assert await membership.note_expiries() == 0
    stack.clock.set(end)
    view = await membership.status(member_id)
    assert not view["active"] and view["ends_at"] is None and len(view["periods"]) == 1
    assert await membership.note_expiries() == 1
    assert await membership.note_expiries() == 0  # once per end
    expired = await MemberEvent.filter(member_id=member_id, type="membership_expired")
    assert len(expired) == 1 and datetime.fromisoformat(expired[0].payload["ends_at"]) == end
    # Bought again after it ended: a new membership from now, not from the old end
    stack.clock.advance(3600 * 5)
    again = await payments.start_membership(member_id=member_id, plan_code="vip_month")
    await notify(stack, *fake_wechatpay.notification(fake_wechatpay.pay(again["out_trade_no"])))
    latest = await MembershipPeriod.filter(member_id=member_id).order_by("-id").first()
    assert latest.starts_at == end + timedelta(hours=5) and latest.ends_at == local_midnight(2026, 5, 4)
    assert await MemberEvent.filter(member_id=member_id, type="membership_purchased").count() == 2
    stack.clock.set(local_midnight(2026, 5, 4))
    assert await membership.note_expiries() == 1  # the new end is noted too


async def test_a_plan_not_on_sale_or_unknown_cannot_be_bought(stack, shopper):
    _, token, _ = shopper
    for code in ("old", "nope"):
        answer = await buy(stack, token, code, expect=404)
        assert answer["error"]["code"] == "MEMBERSHIP_PLAN_NOT_FOUND"
    assert not await WeChatPayment.exists()


async def test_a_period_keeps_the_plan_as_it_was_when_ordered(stack, shopper, fake_wechatpay):
    member_id, token, admin = shopper
    made = await buy(stack, token)
    await set_plans(stack, admin, plan(price_cents=2900, points_multiplier_pct=300))  # edited before the payment
    await notify(stack, *fake_wechatpay.notification(fake_wechatpay.pay(made["out_trade_no"])))
    period = await MembershipPeriod.get(member_id=member_id)
    assert period.price_cents == 1900 and period.benefits["points_multiplier_pct"] == 200


def test_a_period_ends_at_the_next_merchant_midnight_after_its_months():
    tz = "Asia/Shanghai"
    at = datetime(2026, 1, 31, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert membership.period_end(at, "month", tz) == local_midnight(2026, 3, 1)  # 28 Feb, then its midnight
    assert membership.period_end(local_midnight(2026, 4, 3), "month", tz) == local_midnight(2026, 5, 3)
    assert membership.period_end(local_midnight(2026, 4, 3), "quarter", tz) == local_midnight(2026, 7, 3)
    assert membership.period_end(local_midnight(2028, 2, 29), "year", tz) == local_midnight(2029, 2, 28)
    # 23:30 UTC on 1 March is 07:30 on 2 March in Shanghai: the merchant's day counts, not UTC's
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert membership.period_end(late, "month", tz) == local_midnight(2026, 4, 3)
    assert membership.period_end(late, "month", "UTC") == datetime(2026, 4, 2, tzinfo=UTC)
