"""A paid member's benefits: the points multiplier on orders (times the tier's), the member price the counter
charges (the better of the two rates), and the monthly coupon pack, issued once per member and month however
often or however many times at once the job runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from backend.coupons.models import Coupon
from backend.members.models import MemberEvent
from backend.membership import service as membership
from backend.membership.models import MembershipPack
from jobs import maintenance
from tests.factories import assert_ledgers_hold, bearer
from tests.integration.test_membership_purchase import local_midnight, plan, set_plans
from tests.jobs_helpers import coupon_template
from tests.loyalty_helpers import order, set_program


async def paid_member(stack, member_id, *, payment_ref="wxpay:T1", **overrides):
    chosen = plan(**overrides)
    benefits = {"discount_pct": chosen["discount_pct"], "points_multiplier_pct": chosen["points_multiplier_pct"],
                "free_shipping": chosen["free_shipping"], "monthly_coupons": chosen.get("monthly_coupons", []),
                "coupon_center_priority": False}
    period, created = await membership.grant(
        member_id=member_id, payment_ref=payment_ref, payment_id=None, tz=stack.settings.timezone,
        plan={"code": chosen["code"], "name": chosen["name"], "period": chosen["period"],
              "price_cents": chosen["price_cents"], "benefits": benefits})
    assert created
    return period


async def tiers_with_multiplier(stack, admin, pct=150, discount=98):
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    tiers = program["tiers"]
    tiers[0] = {**tiers[0], "points_multiplier_pct": pct, "discount_pct": discount}
    await set_program(stack, admin, tiers=tiers)


async def test_a_paid_members_order_earns_the_plans_multiplier_times_the_tiers(stack, counter):
    await tiers_with_multiplier(stack, counter.admin, 150)
    before = await order(stack, counter, amount_cents=10000)
    assert before["points_earned"] == 150  # 100 yuan × 1 point × 1.5 (tier)
    await paid_member(stack, counter.member_id, points_multiplier_pct=200)
    during = await order(stack, counter, amount_cents=10000)
    assert during["points_earned"] == 300  # × 1.5 × 2: the multipliers multiply
    # An order placed (by an integration) after the period's end earns without the membership
    stack.clock.set(local_midnight(2026, 4, 3))
    assert not (await membership.status(counter.member_id))["active"]
    await assert_ledgers_hold(counter.member_id)


async def test_an_order_after_the_period_ended_earns_the_tier_alone(stack, counter):
    await tiers_with_multiplier(stack, counter.admin, 150)
    period = await paid_member(stack, counter.member_id, points_multiplier_pct=200)
    # Placed one second before the end, and at the end (merchant midnight): the first still counts
    from backend.loyalty.orders import OrderInput, place_order

    inside = await place_order(OrderInput(channel="pos", order_no="late-1", amount_cents=10000,
                                          member_id=counter.member_id, placed_at=period.ends_at - timedelta(seconds=1)),
                               tz=stack.settings.timezone)
    at_end = await place_order(OrderInput(channel="pos", order_no="late-2", amount_cents=10000,
                                          member_id=counter.member_id, placed_at=period.ends_at),
                               tz=stack.settings.timezone)
    assert (inside.receipt["points_earned"], at_end.receipt["points_earned"]) == (300, 150)


async def test_the_counter_card_shows_the_membership_and_the_better_member_price(stack, counter):
    await tiers_with_multiplier(stack, counter.admin, 100, discount=98)
    code = (await stack.http.get("/api/v1/mp/me/code", headers=bearer(counter.token))).json()["code"]
    card = (await stack.http.post("/api/v1/store/scan", json={"code": code}, headers=bearer(counter.clerk))).json()
    assert card["membership"]["active"] is False and card["membership"]["member_price_pct"] == 98
    await paid_member(stack, counter.member_id, discount_pct=95, points_multiplier_pct=120)
    stack.clock.advance(31)  # the next member code
    code = (await stack.http.get("/api/v1/mp/me/code", headers=bearer(counter.token))).json()["code"]
    answer = await stack.http.post("/api/v1/store/scan", json={"code": code}, headers=bearer(counter.clerk))
    assert answer.status_code == 200, answer.text
    shown = answer.json()["membership"]
    assert (shown["active"], shown["plan_code"], shown["discount_pct"], shown["points_multiplier_pct"],
            shown["free_shipping"], shown["member_price_pct"]) == (True, "vip_month", 95, 120, True, 95)


async def test_the_monthly_pack_is_issued_once_per_member_and_month(stack, counter):
    first_template = await coupon_template(stack, counter.admin, "会员专享券")
    second_template = await coupon_template(stack, counter.admin, "会员运费券")
    pack = [{"template_id": first_template, "count": 2}, {"template_id": second_template, "count": 1}]
    await set_plans(stack, counter.admin, plan(monthly_coupons=pack))
    await paid_member(stack, counter.member_id, period="quarter", monthly_coupons=pack)
    tz = stack.settings.timezone
    assert await membership.issue_packs(tz=tz) == {"members": 1, "coupons": 3}
    assert await membership.issue_packs(tz=tz) == {"members": 0, "coupons": 0}  # run again: nothing twice
    result = await maintenance.run("membership", settings=stack.settings, kv=stack.kv, owner="scheduler")
    assert (result["packs"], result["coupons"]) == (0, 0)
    assert await Coupon.filter(member_id=counter.member_id).count() == 3
    # The next merchant month: two jobs at once issue one pack
    stack.clock.set(local_midnight(2026, 4, 1))
    runs = await asyncio.gather(*(membership.issue_packs(tz=tz) for _ in range(3)))
    assert sorted(run["members"] for run in runs) == [0, 0, 1]
    assert await Coupon.filter(member_id=counter.member_id).count() == 6
    packs = await MembershipPack.filter(member_id=counter.member_id).order_by("month")
    assert [p.month for p in packs] == ["2026-03", "2026-04"] and len(packs[1].coupon_ids) == 3
    assert await MemberEvent.filter(member_id=counter.member_id, type="membership_pack_issued").count() == 2
    # After the quarter ends (3 June, midnight) no more packs
    stack.clock.set(local_midnight(2026, 7, 1))
    assert await membership.issue_packs(tz=tz) == {"members": 0, "coupons": 0}


async def test_a_member_without_a_running_period_gets_no_pack(stack, counter):
    template = await coupon_template(stack, counter.admin)
    await paid_member(stack, counter.member_id, monthly_coupons=[{"template_id": template, "count": 1}])
    stack.clock.set(local_midnight(2026, 4, 3))  # ended
    assert await membership.issue_packs(tz=stack.settings.timezone) == {"members": 0, "coupons": 0}
    assert not await Coupon.filter(member_id=counter.member_id).exists()


async def test_a_merge_stacks_the_merged_members_remaining_time_after_the_survivors(stack, counter):
    from backend.membership.models import MembershipPeriod
    from tests.factories import member_token

    other_id, _ = await member_token(stack)
    await paid_member(stack, counter.member_id, payment_ref="wxpay:S1")  # to 3 April, midnight
    await paid_member(stack, other_id, payment_ref="wxpay:M1")  # the same, for the member merged away
    stack.clock.set(local_midnight(2026, 3, 20))
    answer = await stack.http.post(f"/api/v1/admin/members/{counter.member_id}/merge", json={"other_id": other_id},
                                   headers=bearer(await make_admin(stack)))
    assert answer.status_code == 200, answer.text
    periods = await MembershipPeriod.filter(member_id=counter.member_id).order_by("starts_at")
    assert len(periods) == 2 and not await MembershipPeriod.exists(member_id=other_id)
    # 14 days were left of the merged member's period: they run after the survivor's, to 17 April
    assert periods[1].starts_at == periods[0].ends_at == local_midnight(2026, 4, 3)
    assert periods[1].ends_at == local_midnight(2026, 4, 17)
    status = await membership.status(counter.member_id)
    assert status["active"] and status["ends_at"] == local_midnight(2026, 4, 17).isoformat()


async def make_admin(stack):
    from tests.factories import make_staff

    _, token = await make_staff(stack, role="admin")
    return token
