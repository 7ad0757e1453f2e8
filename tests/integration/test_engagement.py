"""Engagement: daily check-in, bonus-point campaigns, tier notices and referral rewards, on both stacks."""

import asyncio
from datetime import UTC, datetime, timedelta

from backend import audit
from backend.coupons.models import Coupon
from backend.loyalty import checkin, orders
from backend.loyalty.models import CheckIn, LoyaltyAccount, PointsCampaign, PointsEntry
from backend.members import service as members
from backend.members.models import Member
from tests.factories import (
    assert_ledgers_hold,
    bearer,
    make_staff,
    member_token,
    register_mp,
    scan_token,
    unique,
    unique_phone,
)
from tests.jobs_helpers import coupon_template, run_program, set_lifecycle
from tests.loyalty_helpers import order, refund, set_program
from tests.notify_helpers import messages

TZ = "Asia/Shanghai"


def shanghai(year, month, day, hour=0, minute=0, second=0):
    """A Shanghai wall-clock time as UTC (UTC+8 all year: no daylight saving)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)


async def enable_checkin(stack, admin, **rule):
    body = {"enabled": True, "cycle_days": 7, "daily_points": 5, "rewards": [{"day": 3, "points": 10}], **rule}
    await set_program(stack, admin, checkin=body)


# --- check-in ----------------------------------------------------------------------------------------


async def test_a_check_in_rewards_once_a_day_and_the_calendar_shows_it(stack):
    _, admin = await make_staff(stack, role="admin")
    await enable_checkin(stack, admin)
    member_id, token = await member_token(stack)

    first = await stack.http.post("/api/v1/mp/check-ins", headers=bearer(token))
    again = await stack.http.post("/api/v1/mp/check-ins", headers=bearer(token))
    calendar = (await stack.http.get("/api/v1/mp/check-ins", headers=bearer(token))).json()

    assert first.status_code == 201, first.text
    assert first.json() | {"points_balance": None} == {
        "created": True, "day": "2026-03-02", "streak": 1, "points": 5, "coupon_id": None, "coupon_name": None,
        "points_balance": None}
    assert first.json()["points_balance"] == 5
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["points_balance"] == 5
    assert calendar["checked_in_today"] is True and calendar["streak"] == 1 and calendar["month"] == "2026-03"
    assert [d["day"] for d in calendar["days"]] == ["2026-03-02"]
    assert [r["points"] for r in calendar["rewards"]] == [5, 5, 10, 5, 5, 5, 5]
    assert calendar["next_reward"] == {"day": 2, "points": 5, "coupon_template_id": None, "coupon_name": None,
                                       "streak": 2}
    assert await PointsEntry.filter(member_id=member_id, ref="checkin:2026-03-02").count() == 1
    exported = (await stack.http.get("/api/v1/mp/me/export", headers=bearer(token))).json()
    assert [(c["day"], c["streak"], c["points"]) for c in exported["check_ins"]] == [("2026-03-02", 1, 5)]
    await assert_ledgers_hold(member_id)


async def test_twenty_concurrent_check_ins_give_one_reward(stack):
    _, admin = await make_staff(stack, role="admin")
    await enable_checkin(stack, admin)
    member_id, token = await member_token(stack)

    responses = await asyncio.gather(*[stack.http.post("/api/v1/mp/check-ins", headers=bearer(token))
                                       for _ in range(20)])

    assert sorted(r.status_code for r in responses) == [200] * 19 + [201], [r.text for r in responses]
    assert {r.json()["points_balance"] for r in responses} == {5}
    assert await CheckIn.filter(member_id=member_id).count() == 1
    assert await PointsEntry.filter(member_id=member_id).count() == 1
    assert (await LoyaltyAccount.get(member_id=member_id)).points_balance == 5
    await assert_ledgers_hold(member_id)


async def test_the_streak_crosses_the_merchants_midnight_restarts_after_a_missed_day_and_day_seven_gives_a_coupon(
        stack):
    _, admin = await make_staff(stack, role="admin")
    template_id = await coupon_template(stack, admin, name="签到七天礼")
    await enable_checkin(stack, admin, rewards=[{"day": 3, "points": 10},
                                                {"day": 7, "points": 30, "coupon_template_id": template_id}])
    member_id, _ = await member_token(stack)

    async def at(when):
        stack.clock.set(when)
        answer, _ = await checkin.check_in(member_id, tz=TZ)
        return answer

    late = await at(shanghai(2026, 3, 2, 23, 59, 59))  # UTC 15:59:59: still the 2nd in Shanghai
    early = await at(shanghai(2026, 3, 3, 0, 0, 1))  # one second later in Shanghai's next day
    assert (late["day"], late["streak"], early["day"], early["streak"]) == ("2026-03-02", 1, "2026-03-03", 2)
    # A missed day (the 4th) starts the streak over.
    restart = await at(shanghai(2026, 3, 5, 9))
    assert (restart["streak"], restart["points"]) == (1, 5)
    week = [await at(shanghai(2026, 3, 5 + day, 12)) for day in range(1, 7)]
    assert [d["streak"] for d in week] == [2, 3, 4, 5, 6, 7]
    assert [d["points"] for d in week] == [5, 10, 5, 5, 5, 30]
    seventh = week[-1]
    coupon = await Coupon.get(id=seventh["coupon_id"])
    assert (coupon.member_id, coupon.template_id, seventh["coupon_name"]) == (member_id, template_id, "签到七天礼")
    eighth = await at(shanghai(2026, 3, 12, 12))
    assert (eighth["streak"], eighth["points"], eighth["coupon_id"]) == (8, 5, None)  # the cycle starts over
    assert (await LoyaltyAccount.get(member_id=member_id)).points_balance == 5 * 3 + 60 + 5
    await assert_ledgers_hold(member_id)


async def test_a_merge_gives_the_survivor_the_other_members_check_in_days_and_the_streak_goes_on(stack):
    _, admin = await make_staff(stack, role="admin")
    await enable_checkin(stack, admin)
    survivor_id, _ = await member_token(stack)
    other_id, _ = await member_token(stack)
    stack.clock.set(shanghai(2026, 3, 2, 12))
    await checkin.check_in(survivor_id, tz=TZ)
    await checkin.check_in(other_id, tz=TZ)
    stack.clock.set(shanghai(2026, 3, 3, 12))
    await checkin.check_in(other_id, tz=TZ)
    stack.clock.set(shanghai(2026, 3, 2, 13))  # staff tokens are signed on the stack's clock

    merged = await stack.http.post(f"/api/v1/admin/members/{survivor_id}/merge", json={"other_id": other_id},
                                   headers=bearer(admin))
    stack.clock.set(shanghai(2026, 3, 4, 12))
    answer, created = await checkin.check_in(survivor_id, tz=TZ)

    assert merged.status_code == 200, merged.text
    assert sorted(str(d) for d in await CheckIn.filter(member_id=survivor_id).values_list("day", flat=True)) == [
        "2026-03-02", "2026-03-03", "2026-03-04"]
    assert await CheckIn.filter(member_id=other_id).count() == 1  # the day both checked in stays the merged one's
    assert created and answer["streak"] == 3 and answer["points"] == 10
    await assert_ledgers_hold(survivor_id)


async def test_check_in_switched_off_is_refused_with_its_code(stack):
    _, token = await member_token(stack)

    refused = await stack.http.post("/api/v1/mp/check-ins", headers=bearer(token))
    calendar = await stack.http.get("/api/v1/mp/check-ins", params={"month": "2026-02"}, headers=bearer(token))
    bad_month = await stack.http.get("/api/v1/mp/check-ins", params={"month": "2026-13"}, headers=bearer(token))

    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CHECKIN_DISABLED"
    assert refused.json()["error"]["message"] == "签到活动未开启"
    assert calendar.status_code == 200 and calendar.json()["enabled"] is False and calendar.json()["days"] == []
    assert bad_month.status_code == 400 and "month" in bad_month.json()["error"]["details"]["fields"]
    assert await CheckIn.all().count() == 0


async def test_a_check_in_reward_table_that_does_not_fit_its_cycle_is_refused(stack):
    _, admin = await make_staff(stack, role="admin")
    current = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    response = await stack.http.put("/api/v1/admin/loyalty-program", headers=bearer(admin), json={
        **current, "checkin": {"enabled": True, "cycle_days": 5, "rewards": [{"day": 7, "points": 1}]}})
    assert response.status_code == 400, response.text
    assert any(key.startswith("checkin") for key in response.json()["error"]["details"]["fields"])


# --- campaigns ---------------------------------------------------------------------------------------


async def create_campaign(stack, token, expect=201, **fields):
    body = {"name": "双倍积分", "starts_at": "2026-03-01T00:00:00+08:00", "ends_at": "2026-03-09T00:00:00+08:00",
            "kind": "multiplier", "multiplier_pct": 200, **fields}
    response = await stack.http.post("/api/v1/admin/campaigns", json=body, headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_double_points_campaign_for_gold_members_multiplies_the_tier_points_and_shows_on_the_receipt(
        stack, counter):
    await order(stack, counter, amount_cents=600000)  # 6000 yuan: gold (×1.5) from the next order on
    _, marketer = await make_staff(stack, role="marketer")
    campaign = await create_campaign(stack, marketer, name="金卡双倍积分", tiers=["gold"], channels=["pos"],
                                     store_ids=[counter.store_id])
    assert campaign["status"] == "running" and campaign["spent_points"] == 0

    receipt = await order(stack, counter, amount_cents=10000)  # 100 yuan × 1.5 = 150, doubled: +150

    assert (receipt["points_base"], receipt["points_earned"]) == (150, 300)
    assert receipt["campaigns"] == [{"id": campaign["id"], "name": "金卡双倍积分", "points": 150}]
    entry = await PointsEntry.get(member_id=counter.member_id, ref=f"order:{receipt['order_id']}:campaign:"
                                                                   f"{campaign['id']}")
    assert (entry.points, entry.source) == (150, "campaign") and "金卡双倍积分" in entry.reason
    assert (await PointsCampaign.get(id=campaign["id"])).spent_points == 150
    # A quote shows the same bonus and spends no budget.
    quote = await stack.http.post("/api/v1/store/orders/quote", headers=bearer(counter.clerk), json={
        "order_no": unique("Q"), "scan_token": counter.scan, "amount_cents": 10000})
    assert quote.status_code == 200, quote.text
    assert quote.json()["campaigns"] == [{"id": campaign["id"], "name": "金卡双倍积分", "points": 150}]
    assert (await PointsCampaign.get(id=campaign["id"])).spent_points == 150
    # A full refund takes the bonus back with the rest of the order's points.
    await refund(stack, counter, receipt["order_no"], 10000)
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).points_balance == 6000 + 300  # + gold's gift
    await assert_ledgers_hold(counter.member_id)


async def test_campaigns_match_only_their_window_channel_category_and_segment(stack, counter):
    _, marketer = await make_staff(stack, role="marketer")
    segment = await stack.http.post("/api/v1/admin/segments", headers=bearer(marketer), json={
        "name": "女性会员", "rule": {"all": [{"field": "gender", "op": "eq", "value": "female"}]}})
    assert segment.status_code == 201, segment.text
    await create_campaign(stack, marketer, name="线上专享", channels=["online"])
    await create_campaign(stack, marketer, name="下周活动", starts_at="2026-03-09T00:00:00+08:00",
                          ends_at="2026-03-16T00:00:00+08:00")
    women = await create_campaign(stack, marketer, name="女性会员加送", kind="fixed", bonus_points=50,
                                  min_paid_cents=5000, ends_at=None, segment_id=segment.json()["id"])
    shoes = await create_campaign(stack, marketer, name="鞋类三倍", multiplier_pct=300, categories=["shoes"])

    plain = await order(stack, counter, amount_cents=10000)
    assert plain["campaigns"] == []  # a man, no shoes, at the counter, this week
    mixed = await order(stack, counter, amount_cents=10000, items=[
        {"sku": "S1", "amount_cents": 4000, "category": "shoes"}, {"sku": "T1", "amount_cents": 6000,
                                                                   "category": "tops"}])
    assert mixed["campaigns"] == [{"id": shoes["id"], "name": "鞋类三倍", "points": 80}]  # 40 points × (300 − 100)%
    await Member.filter(id=counter.member_id).update(gender="female")
    small = await order(stack, counter, amount_cents=4000)
    big = await order(stack, counter, amount_cents=5000)
    assert small["campaigns"] == []  # below the minimum paid
    assert big["campaigns"] == [{"id": women["id"], "name": "女性会员加送", "points": 50}]
    # The segment is in use by a campaign that is not over: it cannot be deleted.
    deleted = await stack.http.delete(f"/api/v1/admin/segments/{segment.json()['id']}", headers=bearer(marketer))
    assert deleted.status_code == 409 and deleted.json()["error"]["details"]["campaign_ids"] == [women["id"]]
    await assert_ledgers_hold(counter.member_id)


async def test_fifty_concurrent_orders_never_overspend_a_campaign_budget(stack):
    _, marketer = await make_staff(stack, role="marketer")
    campaign = await create_campaign(stack, marketer, name="限量加送", kind="fixed", bonus_points=30,
                                     budget_points=1000)
    # Fifty members, so the orders do not queue behind one member's account lock but race for the budget.
    shoppers = [(await members.register(reg=members.Registration(phone=unique_phone(), channel="pos"),
                                        pii=stack.pii, actor=audit.SYSTEM)).member.id for _ in range(50)]

    receipts = await asyncio.gather(*[orders.place_order(orders.OrderInput(
        channel="pos", order_no=unique("O"), amount_cents=1000, member_id=member_id), tz=TZ)
        for member_id in shoppers])

    granted = [sum(c["points"] for c in r.receipt["campaigns"]) for r in receipts]
    assert sum(granted) == 1000  # 33 orders × 30 and one of 10, never more
    assert granted.count(30) == 33 and granted.count(10) == 1 and granted.count(0) == 16
    entries = await PointsEntry.filter(source="campaign").values_list("points", flat=True)
    assert sum(entries) == 1000
    assert (await PointsCampaign.get(id=campaign["id"])).spent_points == 1000
    shown = (await stack.http.get(f"/api/v1/admin/campaigns/{campaign['id']}", headers=bearer(marketer))).json()
    assert shown["status"] == "exhausted" and shown["spent_points"] == 1000
    for member_id in shoppers[:5]:
        await assert_ledgers_hold(member_id)


async def test_campaign_input_is_checked_field_by_field_and_edits_are_audited(stack):
    from backend.stores.models import AuditLog

    _, marketer = await make_staff(stack, role="marketer")
    _, clerk = await make_staff(stack)
    backwards = await create_campaign(stack, marketer, expect=400, ends_at="2026-02-01T00:00:00+08:00")
    assert "ends_at" in backwards["error"]["details"]["fields"]
    flat = await create_campaign(stack, marketer, expect=400, multiplier_pct=100)
    assert "multiplier_pct" in flat["error"]["details"]["fields"]
    unknown = await create_campaign(stack, marketer, expect=400, tiers=["platinum"], store_ids=[99999],
                                    segment_id=4242)
    assert set(unknown["error"]["details"]["fields"]) == {"tiers", "store_ids", "segment_id"}
    naive = await create_campaign(stack, marketer, expect=400, starts_at="2026-03-01T00:00:00")
    assert "starts_at" in naive["error"]["details"]["fields"]
    forbidden = await stack.http.post("/api/v1/admin/campaigns", headers=bearer(clerk), json={})
    assert forbidden.status_code == 403

    created = await create_campaign(stack, marketer, budget_points=500)
    body = {k: created[k] for k in ("name", "description", "starts_at", "ends_at", "kind", "multiplier_pct",
                                    "bonus_points", "min_paid_cents", "channels", "store_ids", "categories",
                                    "tiers", "segment_id", "budget_points")}
    paused = await stack.http.put(f"/api/v1/admin/campaigns/{created['id']}", headers=bearer(marketer),
                                  json={**body, "enabled": False})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    missing = await stack.http.put("/api/v1/admin/campaigns/99999", headers=bearer(marketer), json=body)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CAMPAIGN_NOT_FOUND"
    assert [a.action for a in await AuditLog.filter(target_type="points_campaign").order_by("id")] == [
        "campaign.create", "campaign.update"]
    listing = (await stack.http.get("/api/v1/admin/campaigns", headers=bearer(marketer))).json()
    assert [c["id"] for c in listing["items"]] == [created["id"]]


# --- tier notices ------------------------------------------------------------------------------------


async def test_a_will_downgrade_notice_goes_once_before_the_review_and_the_downgrade_is_told(stack, counter):
    await order(stack, counter, amount_cents=600000)  # gold on 2026-03-02: retention and window 365 days
    _, admin = await make_staff(stack, role="admin")
    await set_lifecycle(stack, admin, "tier_downgrade_warning", days=14)

    stack.clock.set(shanghai(2027, 2, 1, 10))  # retention ends 2027-03-02: more than 14 days away
    assert (await run_program(stack, "tier_downgrade_warning"))["counts"]["messages"] == 0
    stack.clock.set(shanghai(2027, 2, 20, 10))  # 10 days before: the 6000 yuan order leaves the window by then
    first = await run_program(stack, "tier_downgrade_warning")
    stack.clock.set(shanghai(2027, 2, 21, 10))
    second = await run_program(stack, "tier_downgrade_warning")

    assert (first["counts"]["messages"], second["counts"]["messages"]) == (1, 0)
    [warning] = await messages(counter.member_id, "tier_downgrade_warning")
    assert warning.context["tier_name"] == "金卡" and warning.context["to_tier_name"] == "普通"
    assert warning.context["missing"] == 5000 and warning.context["unit"] == "元"
    assert warning.context["review_on"] == "2027-03-06"

    stack.clock.set(shanghai(2027, 3, 3, 0, 20))
    assert (await run_program(stack, "tier_review"))["counts"]["downgraded"] == 1
    [told] = await messages(counter.member_id, "tier_downgraded")
    assert (told.context["from_tier_name"], told.context["tier_name"], told.purpose) == ("金卡", "普通", "service")


async def test_a_member_who_keeps_the_tier_gets_no_warning_and_a_review_without_a_template_tells_nobody(
        stack, counter):
    await order(stack, counter, amount_cents=600000)
    _, admin = await make_staff(stack, role="admin")
    await set_lifecycle(stack, admin, "tier_review", template_key=None)
    stack.clock.set(shanghai(2027, 2, 10, 10))
    await orders.place_order(orders.OrderInput(channel="pos", order_no=unique("O"), amount_cents=500000,
                                               member_id=counter.member_id), tz=TZ)  # keeps gold for a year
    stack.clock.set(shanghai(2027, 2, 20, 10))
    assert (await run_program(stack, "tier_downgrade_warning"))["counts"]["messages"] == 0

    stack.clock.set(shanghai(2028, 2, 20, 0, 20))  # both orders out of the window
    assert (await run_program(stack, "tier_review"))["counts"]["downgraded"] == 1
    assert await messages(counter.member_id, "tier_downgraded") == []


# --- referral rewards --------------------------------------------------------------------------------


async def test_referral_coupons_for_both_sides_once_per_invitee_at_registration(stack):
    _, admin = await make_staff(stack, role="admin")
    gift = await coupon_template(stack, admin, name="好友见面礼")
    thanks = await coupon_template(stack, admin, name="邀请感谢券")
    await set_program(stack, admin, referrer_points=200, referral={
        "invitee_coupon_template_ids": [gift], "referrer_coupon_template_ids": [thanks],
        "referrer_reward_on": "registration"})
    referrer_id, referrer_token = await member_token(stack)
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()["referral_code"]

    phone = unique_phone()
    invitee = (await register_mp(stack, phone, referrer_code=code, nickname="王小明", expect=201)).json()
    _, clerk = await make_staff(stack)
    await stack.http.post("/api/v1/store/members", json={"phone": phone}, headers=bearer(clerk))  # joins, no repeat
    scanned = await scan_token(stack, clerk, invitee["token"])
    await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": unique("O"), "scan_token": scanned, "amount_cents": 1000})

    assert await Coupon.filter(member_id=invitee["member_id"], template_id=gift).count() == 1
    assert await Coupon.filter(member_id=referrer_id, template_id=thanks).count() == 1
    assert await PointsEntry.filter(member_id=referrer_id, ref=f"referral:{invitee['member_id']}").count() == 1
    view = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()
    assert view["invitees"][0]["nickname"] == "王**" and view["invitees"][0]["rewarded"] is True
    assert view["reward_points"] == 200 and view["invited_count"] == 1
    await assert_ledgers_hold(referrer_id)


async def test_a_referrer_rewarded_on_the_first_order_gets_coupons_once_and_nothing_at_registration(stack):
    _, admin = await make_staff(stack, role="admin")
    thanks = await coupon_template(stack, admin, name="邀请感谢券")
    await set_program(stack, admin, referral={"referrer_coupon_template_ids": [thanks],
                                              "referrer_reward_on": "first_order"})
    referrer_id, referrer_token = await member_token(stack)
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()["referral_code"]
    invitee = (await register_mp(stack, unique_phone(), referrer_code=code, expect=201)).json()
    assert await Coupon.filter(member_id=referrer_id).count() == 0
    view = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()
    assert view["invitees"][0]["nickname"] == "微信用户" and view["invitees"][0]["rewarded"] is False

    _, clerk = await make_staff(stack)
    scanned = await scan_token(stack, clerk, invitee["token"])
    for _ in range(2):
        response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
            "order_no": unique("O"), "scan_token": scanned, "amount_cents": 1000})
        assert response.status_code == 201, response.text

    assert await Coupon.filter(member_id=referrer_id, template_id=thanks).count() == 1
    assert (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()[
        "invitees"][0]["rewarded"] is True
