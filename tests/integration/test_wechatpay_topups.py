"""Stored-value top-ups paid with WeChat Pay in the mini-program, on both stacks, against the loopback fake
of WeChat Pay v3 (``tests/fakes/wechatpay.py``): one credit per payment however many notifications come or
race, forged ones refused, a lost one recovered by the scheduled query, unpaid orders closed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from backend.loyalty.models import LoyaltyAccount, Topup, WalletEntry
from backend.payments import service as payments
from backend.payments.models import WeChatPayment, WeChatRefund
from tests.factories import assert_ledgers_hold, bearer, make_staff, member_token
from tests.loyalty_helpers import order, set_program, topup

NOTIFY_PATH = "/api/v1/callbacks/wechatpay"


@pytest.fixture
async def shopper(stack, fake_wechatpay):
    fake_wechatpay.reset()
    _, admin = await make_staff(stack, role="admin")
    await set_program(stack, admin, topup_bonuses=[{"min_amount_cents": 10000, "bonus_cents": 2000}])
    member_id, token = await member_token(stack)
    return member_id, token


async def start(stack, token, amount_cents=10000, expect=201):
    response = await stack.http.post("/api/v1/mp/wallet/topups", json={"amount_cents": amount_cents},
                                     headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


async def notify(stack, headers, body):
    return await stack.http.post(NOTIFY_PATH, content=body, headers={**headers, "Content-Type": "application/json"})


async def balance(member_id):
    account = await LoyaltyAccount.get_or_none(member_id=member_id)
    return (account.principal_cents, account.bonus_cents) if account else (0, 0)


async def test_a_top_up_is_paid_and_credited_once_however_often_wechat_pay_notifies(stack, shopper, fake_wechatpay):
    member_id, token = shopper
    options = (await stack.http.get("/api/v1/mp/wallet/topup-options", headers=bearer(token))).json()
    assert options["enabled"] and options["options"] == [{"min_amount_cents": 10000, "bonus_cents": 2000, "name": None,
                                                                "ends_at": None}]
    made = await start(stack, token)
    assert (made["status"], made["amount_cents"], made["bonus_cents"]) == ("pending", 10000, 2000)
    assert made["payment"]["package"].startswith("prepay_id=wx") and made["payment"]["signType"] == "RSA"
    sent = fake_wechatpay.orders[made["out_trade_no"]]
    assert sent["amount"]["total"] == 10000 and sent["notify_url"] == stack.settings.wechatpay_notify_url
    assert await balance(member_id) == (0, 0)  # nothing before WeChat Pay says it is paid
    paid = fake_wechatpay.pay(made["out_trade_no"])
    # WeChat Pay retries (five times here), two of them at once
    first = fake_wechatpay.notification(paid)
    answers = [await notify(stack, *first)]
    answers += await asyncio.gather(*(notify(stack, *fake_wechatpay.notification(paid)) for _ in range(2)))
    answers += [await notify(stack, *fake_wechatpay.notification(paid)) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [204] * 5
    assert await balance(member_id) == (10000, 2000)
    view = (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(token))).json()
    assert (view["balance_cents"], view["principal_cents"], view["bonus_cents"]) == (12000, 10000, 2000)
    assert await Topup.filter(member_id=member_id).count() == 1
    entry = await WalletEntry.get(member_id=member_id, kind="topup")
    assert (entry.principal_cents, entry.bonus_cents) == (10000, 2000)
    row = await WeChatPayment.get(out_trade_no=made["out_trade_no"])
    assert (row.status, row.transaction_id) == ("paid", paid["transaction_id"])
    state = (await stack.http.get(f"/api/v1/mp/wallet/topups/{made['out_trade_no']}", headers=bearer(token))).json()
    assert state["status"] == "paid" and state["payment"] is None
    await assert_ledgers_hold(member_id)


@pytest.mark.parametrize("forge", ["signature", "body", "key"])
async def test_a_forged_notification_is_refused_and_credits_nothing(stack, shopper, fake_wechatpay, forge):
    member_id, token = shopper
    made = await start(stack, token)
    paid = fake_wechatpay.pay(made["out_trade_no"])
    answer = await notify(stack, *fake_wechatpay.notification(paid, forge=forge))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "WECHATPAY_SIGNATURE_INVALID"
    assert await Topup.filter(member_id=member_id).count() == 0
    assert (await WeChatPayment.get(out_trade_no=made["out_trade_no"])).status == "pending"


async def test_a_notification_for_another_amount_credits_nothing(stack, shopper, fake_wechatpay):
    member_id, token = shopper
    made = await start(stack, token)
    paid = fake_wechatpay.pay(made["out_trade_no"])
    tampered = {**paid, "amount": {**paid["amount"], "total": 1}}  # correctly signed, but not our order's amount
    assert (await notify(stack, *fake_wechatpay.notification(tampered))).status_code == 204
    assert await Topup.filter(member_id=member_id).count() == 0


async def test_a_lost_notification_is_recovered_by_the_scheduled_query(stack, shopper, fake_wechatpay):
    member_id, token = shopper
    made = await start(stack, token, amount_cents=5000)  # under the bonus rule: no bonus
    fake_wechatpay.pay(made["out_trade_no"])  # paid, but no notification ever arrives
    assert (await payments.reconcile())["queried"] == 0  # not yet a minute old
    stack.clock.advance(61)
    counts = await payments.reconcile()
    assert (counts["queried"], counts["paid"]) == (1, 1)
    assert await balance(member_id) == (5000, 0)
    assert (await payments.reconcile())["queried"] == 0  # paid: never asked again
    assert await Topup.filter(member_id=member_id).count() == 1
    await assert_ledgers_hold(member_id)


async def test_the_shopper_polling_a_pending_top_up_gets_it_credited_without_a_notification(stack, shopper,
                                                                                            fake_wechatpay):
    member_id, token = shopper
    made = await start(stack, token)
    path = f"/api/v1/mp/wallet/topups/{made['out_trade_no']}"
    assert (await stack.http.get(path, headers=bearer(token))).json()["status"] == "pending"
    fake_wechatpay.pay(made["out_trade_no"])
    assert (await stack.http.get(path, headers=bearer(token))).json()["status"] == "paid"
    assert await balance(member_id) == (10000, 2000)
    other = await member_token(stack)
    assert (await stack.http.get(path, headers=bearer(other[1]))).status_code == 404  # only the member's own


async def test_an_unpaid_order_is_closed_after_its_time_limit_and_a_late_payment_still_counts(stack, shopper,
                                                                                              fake_wechatpay):
    member_id, token = shopper
    unpaid = await start(stack, token)
    late = await start(stack, token)
    stack.clock.advance(stack.settings.wechatpay_order_ttl_s + 1)
    fake_wechatpay.pay(late["out_trade_no"])  # paid just before the close: WeChat Pay refuses to close it
    counts = await payments.reconcile()
    assert counts == {"queried": 2, "paid": 1, "closed": 1, "refunds": 0}
    assert fake_wechatpay.orders[unpaid["out_trade_no"]]["trade_state"] == "CLOSED"
    assert (await WeChatPayment.get(out_trade_no=unpaid["out_trade_no"])).status == "closed"
    assert (await WeChatPayment.get(out_trade_no=late["out_trade_no"])).status == "paid"
    assert await balance(member_id) == (10000, 2000)


async def test_a_system_error_when_ordering_answers_503_and_the_order_is_closed_once_its_time_is_up(
        stack, shopper, fake_wechatpay):
    member_id, token = shopper
    fake_wechatpay.mode = "http500"
    answer = await start(stack, token, expect=503)
    assert answer["error"]["code"] == "PAYMENT_GATEWAY_UNAVAILABLE"
    fake_wechatpay.mode = "ok"
    row = await WeChatPayment.get(member_id=member_id)
    assert row.status == "pending"  # WeChat Pay may or may not have the order: asked again later
    stack.clock.advance(61)
    assert await payments.reconcile() == {"queried": 1, "paid": 0, "closed": 0, "refunds": 0}  # not there, not yet expired
    stack.clock.advance(stack.settings.wechatpay_order_ttl_s)
    assert await payments.reconcile() == {"queried": 1, "paid": 0, "closed": 1, "refunds": 0}
    assert (await WeChatPayment.get(id=row.id)).status == "closed"
    assert await Topup.filter(member_id=member_id).count() == 0


async def test_top_up_plans_apply_on_their_channels_and_within_their_window(stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    now = stack.clock.now()
    await set_program(stack, counter.admin, topup_bonuses=[
        {"min_amount_cents": 10000, "bonus_cents": 2000, "channels": ["online"], "name": "小程序专享"},
        {"min_amount_cents": 10000, "bonus_cents": 1000, "channels": ["store"]},
        {"min_amount_cents": 10000, "bonus_cents": 5000, "name": "已结束", "ends_at": (now - timedelta(hours=1)).isoformat()},
        {"min_amount_cents": 10000, "bonus_cents": 8000, "name": "一分钟后开始",
         "starts_at": (now + timedelta(minutes=1)).isoformat()}])
    options = (await stack.http.get("/api/v1/mp/wallet/topup-options", headers=bearer(counter.token))).json()
    assert [(o["name"], o["bonus_cents"]) for o in options["options"]] == [("小程序专享", 2000)]
    assert (await start(stack, counter.token))["bonus_cents"] == 2000  # online: the online plan
    assert (await topup(stack, counter, 10000))["bonus_cents"] == 1000  # the counter: the store plan
    stack.clock.advance(61)  # the next plan has begun, on both channels
    assert (await topup(stack, counter, 10000))["bonus_cents"] == 8000
    refused = await stack.http.put("/api/v1/admin/loyalty-program", headers=bearer(counter.admin), json={
        **(await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(counter.admin))).json(),
        "topup_bonuses": [{"min_amount_cents": 100, "bonus_cents": 1, "starts_at": now.isoformat(),
                           "ends_at": now.isoformat()}]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["fields"]["topup_bonuses.0"] == "ends_at 应晚于 starts_at"


async def paid_topup(stack, fake_wechatpay, token, amount_cents=10000):
    made = await start(stack, token, amount_cents=amount_cents)
    paid = fake_wechatpay.pay(made["out_trade_no"])
    assert (await notify(stack, *fake_wechatpay.notification(paid))).status_code == 204
    return made["out_trade_no"]


async def ask_refund(stack, admin, out_trade_no, expect=201, **body):
    response = await stack.http.post(f"/api/v1/admin/payments/{out_trade_no}/refunds", headers=bearer(admin),
                                     json={"reason": "顾客申请退款", **body})
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_refund_returns_the_unspent_principal_and_forfeits_the_bonus_pro_rata(stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    await set_program(stack, counter.admin, topup_bonuses=[{"min_amount_cents": 10000, "bonus_cents": 2000}])
    no = await paid_topup(stack, fake_wechatpay, counter.token)  # 100 yuan + 20 bonus
    assert await balance(counter.member_id) == (10000, 2000)
    # A third of the principal: a third of the bonus goes with it, rounded up (667 of 2000)
    first = await ask_refund(stack, counter.admin, no, amount_cents=3333)
    assert (first["status"], first["principal_cents"], first["bonus_cents"]) == ("processing", 3333, 667)
    assert await balance(counter.member_id) == (6667, 1333)  # debited at once: it cannot be spent meanwhile
    refund = fake_wechatpay.refunds[first["out_refund_no"]]
    assert refund["amount"]["refund"] == 3333 and refund["amount"]["total"] == 10000
    # More than what is left of this top-up: refused, nothing changes
    too_much = await ask_refund(stack, counter.admin, no, expect=409, amount_cents=6668)
    assert too_much["error"]["code"] == "REFUND_EXCEEDS_UNSPENT"
    assert too_much["error"]["details"]["refundable_cents"] == 6667
    # WeChat Pay reports the refund (twice): settled once
    settled = fake_wechatpay.settle_refund(first["out_refund_no"])
    for _ in range(2):
        answer = await notify(stack, *fake_wechatpay.notification(settled, event_type="REFUND.SUCCESS"))
        assert answer.status_code == 204
    listed = (await stack.http.get(f"/api/v1/admin/members/{counter.member_id}/payments",
                                   headers=bearer(counter.admin))).json()["items"]
    assert [r["status"] for r in listed[0]["refunds"]] == ["succeeded"]
    # The rest, after part was spent at the counter: only what is still held as principal
    await order(stack, counter, amount_cents=5000, balance_to_spend_cents=5000)
    rest = await ask_refund(stack, counter.admin, no)
    assert (rest["principal_cents"], rest["bonus_cents"]) == (1667, 334)
    assert await balance(counter.member_id) == (0, 999)
    await assert_ledgers_hold(counter.member_id)


async def test_a_refund_wechat_pay_refuses_credits_the_wallet_back_once(stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    await set_program(stack, counter.admin, topup_bonuses=[])
    no = await paid_topup(stack, fake_wechatpay, counter.token)
    fake_wechatpay.refuse_refunds = True
    refused = await ask_refund(stack, counter.admin, no)
    assert refused["status"] == "failed" and refused["failure"].startswith("NOT_ENOUGH")
    assert await balance(counter.member_id) == (10000, 0)
    assert await WalletEntry.filter(member_id=counter.member_id, kind="refund").count() == 2  # out and back
    fake_wechatpay.refuse_refunds = False
    again = await ask_refund(stack, counter.admin, no)  # a failed refund does not count against the top-up
    assert again["principal_cents"] == 10000
    # WeChat Pay closes it later (an abnormal account): credited back, and a repeat changes nothing
    closed = fake_wechatpay.settle_refund(again["out_refund_no"], status="CLOSED")
    for _ in range(2):
        await notify(stack, *fake_wechatpay.notification(closed, event_type="REFUND.CLOSED"))
    assert await balance(counter.member_id) == (10000, 0)
    await assert_ledgers_hold(counter.member_id)


async def test_a_refund_whose_answer_was_lost_is_settled_by_the_scheduled_query(stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    await set_program(stack, counter.admin, topup_bonuses=[])
    no = await paid_topup(stack, fake_wechatpay, counter.token)
    fake_wechatpay.mode = "http500"  # the refund request fails with a system error: outcome unknown
    asked = await ask_refund(stack, counter.admin, no, amount_cents=4000)
    assert asked["status"] == "processing" and asked["out_refund_no"] not in fake_wechatpay.refunds
    fake_wechatpay.mode = "ok"
    stack.clock.advance(61)
    assert (await payments.reconcile())["refunds"] == 0  # asked again: WeChat Pay has it now, processing
    assert fake_wechatpay.refunds[asked["out_refund_no"]]["amount"]["refund"] == 4000
    fake_wechatpay.settle_refund(asked["out_refund_no"])
    assert (await payments.reconcile())["refunds"] == 1  # no notification: the query settles it
    assert (await WeChatRefund.get(out_refund_no=asked["out_refund_no"])).status == "succeeded"
    assert await balance(counter.member_id) == (6000, 0)


def test_the_forfeited_bonus_is_the_refunds_share_rounded_up():
    assert payments.forfeited_bonus(bonus_cents=2000, amount_cents=10000, refund_cents=10000) == 2000
    assert payments.forfeited_bonus(bonus_cents=2000, amount_cents=10000, refund_cents=1) == 1
    assert payments.forfeited_bonus(bonus_cents=0, amount_cents=10000, refund_cents=5000) == 0
    assert payments.forfeited_bonus(bonus_cents=2000, amount_cents=10000, refund_cents=5000) == 1000
