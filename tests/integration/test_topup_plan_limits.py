"""Per-member limits on top-up plans: a limited plan's bonus goes to one member at most ``per_member_limit`` times,
counted from the member's paid top-ups under the account lock; beyond it the top-up goes through with the next-best
plan (or no bonus), at the counter and online, however many top-ups race."""

from __future__ import annotations

import asyncio

from backend.loyalty.models import Topup
from backend.payments.models import WeChatPayment
from tests.factories import assert_ledgers_hold, bearer, member_token, scan_token
from tests.integration.test_wechatpay_topups import notify, start
from tests.loyalty_helpers import set_program, topup

PLANS = [{"min_amount_cents": 10000, "bonus_cents": 5000, "name": "首充礼", "code": "first", "per_member_limit": 1},
         {"min_amount_cents": 10000, "bonus_cents": 1000}]


async def test_a_limited_plan_is_given_once_per_member_then_the_next_best_applies(stack, counter):
    await set_program(stack, counter.admin, topup_bonuses=PLANS)
    assert (await topup(stack, counter, 10000))["bonus_cents"] == 5000
    assert (await topup(stack, counter, 10000))["bonus_cents"] == 1000
    assert (await topup(stack, counter, 5000))["bonus_cents"] == 0  # under every plan
    rows = await Topup.filter(member_id=counter.member_id).order_by("id").values_list("bonus_plan", flat=True)
    assert list(rows) == ["first", None, None]
    # Another member still gets it
    _, other_token = await member_token(stack)
    counter.scan = await scan_token(stack, counter.clerk, other_token)
    assert (await topup(stack, counter, 10000))["bonus_cents"] == 5000
    await assert_ledgers_hold(counter.member_id)


async def test_top_ups_at_once_get_a_limited_plan_no_more_often_than_allowed(stack, counter):
    await set_program(stack, counter.admin, topup_bonuses=PLANS)
    receipts = await asyncio.gather(*(topup(stack, counter, 10000) for _ in range(4)))
    assert sorted(r["bonus_cents"] for r in receipts) == [1000, 1000, 1000, 5000]
    await assert_ledgers_hold(counter.member_id)


async def test_online_orders_promised_a_limited_plan_settle_it_once_and_the_rest_at_the_next_best(
        stack, counter, fake_wechatpay):
    fake_wechatpay.reset()
    await set_program(stack, counter.admin, topup_bonuses=PLANS)
    options = (await stack.http.get("/api/v1/mp/wallet/topup-options", headers=bearer(counter.token))).json()
    assert [o["bonus_cents"] for o in options["options"]] == [5000, 1000]
    made = [await start(stack, counter.token), await start(stack, counter.token)]
    assert [m["bonus_cents"] for m in made] == [5000, 5000]  # neither is paid yet: both promised
    notes = [fake_wechatpay.notification(fake_wechatpay.pay(m["out_trade_no"])) for m in made]
    answers = await asyncio.gather(*(notify(stack, *note) for note in notes * 2))
    assert [a.status_code for a in answers] == [204] * 4
    rows = await WeChatPayment.filter(member_id=counter.member_id).order_by("id")
    assert sorted(row.bonus_cents for row in rows) == [1000, 5000]  # what was credited, what a refund takes from
    credited = await Topup.filter(member_id=counter.member_id).values_list("bonus_cents", flat=True)
    assert sorted(credited) == [1000, 5000]
    options = (await stack.http.get("/api/v1/mp/wallet/topup-options", headers=bearer(counter.token))).json()
    assert [o["bonus_cents"] for o in options["options"]] == [1000]  # used up: no longer offered
    assert (await start(stack, counter.token))["bonus_cents"] == 1000
    await assert_ledgers_hold(counter.member_id)


async def test_a_limit_needs_a_code_and_codes_are_unique(stack, counter):
    current = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(counter.admin))).json()
    for plans, message in (
            ([{"min_amount_cents": 100, "bonus_cents": 1, "per_member_limit": 1}], "需要填写代码"),
            ([{"min_amount_cents": 100, "bonus_cents": 1, "code": "a"},
              {"min_amount_cents": 200, "bonus_cents": 2, "code": "a"}], "充值方案代码不能重复")):
        answer = await stack.http.put("/api/v1/admin/loyalty-program", headers=bearer(counter.admin),
                                      json={**current, "topup_bonuses": plans})
        assert answer.status_code == 400, answer.text
        assert message in str(answer.json()["error"]["details"]["fields"])
