"""Points expiry, tiers, adjustments, registration and referral bonuses, merges."""

import asyncio
from datetime import UTC, timedelta

import pytest

from backend.loyalty import orders, program, tiers, views
from backend.loyalty.errors import InsufficientPoints
from backend.loyalty.models import LoyaltyAccount, PointsEntry, PointsLot, TierChange
from backend.stores.models import AuditLog
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
from tests.loyalty_helpers import order, set_program


async def pos_order(member_id, amount_cents, **extra):
    """An order straight through the service, for tests that move the clock past token lifetimes."""
    outcome = await orders.place_order(orders.OrderInput(channel="pos", order_no=unique("O"),
                                                         amount_cents=amount_cents, member_id=member_id, **extra),
                                       tz="Asia/Shanghai")
    return outcome.receipt


async def test_points_expire_first_to_expire_first_and_exactly_once(stack, counter):
    await set_program(stack, counter.admin, points_expiry={"policy": "rolling_months", "months": 2},
                      tiers=[{"code": "normal", "name": "普通", "threshold": 0}])
    start = stack.clock.now()
    await order(stack, counter, amount_cents=10000)  # lot A: 100 points, expires start + 2 months
    stack.clock.set(start + timedelta(days=31))
    await pos_order(counter.member_id, 20000)  # lot B: 200 points, a month later
    await pos_order(counter.member_id, 10000, points_to_spend=50)  # takes 50 from A, earns 99
    lots = {lot.earned: lot for lot in await PointsLot.filter(member_id=counter.member_id)}
    assert lots[100].remaining == 50 and lots[200].remaining == 200
    view = await views.assets(counter.member_id)
    assert view["points"]["expiring"] == [{"points": 50, "expires_at": lots[100].expires_at.isoformat()}]
    stack.clock.set(start + timedelta(days=70))
    # Due but not yet expired by the job: the home screen already leaves them out.
    assert (await views.assets(counter.member_id))["points"]["balance"] == 200 + 99
    first, second = await asyncio.gather(orders.expire_due_points(), orders.expire_due_points())
    assert first["points"] + second["points"] == 50
    assert (await orders.expire_due_points())["points"] == 0
    expired = await PointsEntry.filter(member_id=counter.member_id, kind="expire")
    assert [e.points for e in expired] == [-50]
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).points_balance == 299
    await assert_ledgers_hold(counter.member_id)


async def test_a_spend_never_uses_points_that_are_already_due(stack, counter):
    await set_program(stack, counter.admin, points_expiry={"policy": "rolling_months", "months": 1},
                      tiers=[{"code": "normal", "name": "普通", "threshold": 0}])
    await order(stack, counter, amount_cents=10000)
    stack.clock.advance(days=40)
    with pytest.raises(InsufficientPoints):
        await pos_order(counter.member_id, 5000, points_to_spend=100)
    await assert_ledgers_hold(counter.member_id)


def test_year_end_expiry_is_the_end_of_the_following_year_in_merchant_time():
    from datetime import datetime

    rules = program.default_program().model_copy(update={"points_expiry": program.PointsExpiry(policy="year_end")})
    earned = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 2027-01-01 01:00 in Shanghai
    assert rules.lot_expiry(earned, "Asia/Shanghai") == datetime(2028, 12, 31, 16, 0, tzinfo=UTC)
    rolling = rules.model_copy(update={"points_expiry": program.PointsExpiry(policy="rolling_months", months=1)})
    assert rolling.lot_expiry(datetime(2027, 1, 31, 4, tzinfo=UTC), "Asia/Shanghai") == \
        datetime(2027, 2, 28, 4, tzinfo=UTC)


async def test_an_upgrade_happens_with_the_order_grants_its_gift_once_and_multiplies_later_points(stack, counter):
    receipt = await order(stack, counter, amount_cents=600000)  # 6000 yuan: gold
    assert receipt["tier_change"] == {"from": "normal", "to": "gold", "reason": "upgrade", "gift": {"points": 300}}
    assert receipt["points_balance"] == 6000 + 300
    card = await stack.http.post("/api/v1/store/members/current", json={"scan_token": counter.scan},
                                 headers=bearer(counter.clerk))
    assert card.json()["tier"]["discount_pct"] == 95 and card.json()["tier"]["free_shipping"] is True
    assert (await order(stack, counter, amount_cents=10000))["points_earned"] == 150
    history = await TierChange.filter(member_id=counter.member_id)
    assert [(h.from_code, h.to_code, h.reason) for h in history] == [("normal", "gold", "upgrade")]
    # Reviewed after the retention with no spend in the window: down to what the measure holds.
    rules = await program.load()
    assert (await tiers.review(rules))["downgraded"] == 0  # retention not over
    stack.clock.advance(days=400)
    assert (await tiers.review(rules)) == {"reviewed": 1, "downgraded": 1}
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).tier_code == "normal"
    assert (await tiers.review(rules))["downgraded"] == 0
    # Back to gold in a later year: the gift again (once per tier per year), not twice in one year.
    again = await pos_order(counter.member_id, 600000)
    assert again["tier_change"]["gift"] == {"points": 300}
    await assert_ledgers_hold(counter.member_id)


async def test_birthday_orders_earn_the_tiers_birthday_multiplier(stack):
    _clerk_staff, clerk = await make_staff(stack)
    today = stack.clock.now().astimezone(stack.settings.tz).date()
    _member_id, token = await member_token(stack, birthday=today.replace(year=1990).isoformat())
    _, admin = await make_staff(stack, role="admin")
    await set_program(stack, admin, tiers=[{"code": "normal", "name": "普通", "threshold": 0,
                                            "birthday_multiplier_pct": 200}])
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": unique("O"), "scan_token": await scan_token(stack, clerk, token), "amount_cents": 10000})
    assert response.json()["points_earned"] == 200


async def test_admin_adjustments_need_a_reason_are_audited_and_never_overdraw(stack, counter):
    path = f"/api/v1/admin/members/{counter.member_id}/points/adjustments"
    response = await stack.http.post(path, json={"points": 500}, headers=bearer(counter.admin))
    assert response.status_code == 400 and "reason" in response.json()["error"]["details"]["fields"]
    response = await stack.http.post(path, json={"points": 0, "reason": "测试"}, headers=bearer(counter.admin))
    assert response.status_code == 400
    response = await stack.http.post(path, json={"points": 500, "reason": "客诉补偿"}, headers=bearer(counter.admin))
    assert response.status_code == 201 and response.json()["points_balance"] == 500
    response = await stack.http.post(path, json={"points": -600, "reason": "误发扣回"}, headers=bearer(counter.admin))
    assert response.status_code == 422 and response.json()["error"]["code"] == "INSUFFICIENT_POINTS"
    response = await stack.http.post(path, json={"points": -200, "reason": "误发扣回"}, headers=bearer(counter.admin))
    assert response.json()["points_balance"] == 300
    logs = await AuditLog.filter(action="points.adjust", member_id=counter.member_id).order_by("id")
    assert [log.after["points"] for log in logs] == [500, -200]
    assert logs[0].before == {"points_balance": 0} and logs[0].after["reason"] == "客诉补偿"
    _, marketer = await make_staff(stack, role="marketer")
    response = await stack.http.post(path, json={"points": 1, "reason": "试试"}, headers=bearer(marketer))
    assert response.status_code == 403
    response = await stack.http.post("/api/v1/admin/members/999999/points/adjustments",
                                     json={"points": 1, "reason": "不存在"}, headers=bearer(counter.admin))
    assert response.status_code == 404
    ledger = (await stack.http.get(f"/api/v1/admin/members/{counter.member_id}/points/ledger",
                                   headers=bearer(marketer))).json()
    assert [e["points"] for e in ledger["items"]] == [-200, 500]
    await assert_ledgers_hold(counter.member_id)


async def test_registration_and_referral_bonuses_are_granted_once(stack):
    _, admin = await make_staff(stack, role="admin")
    await set_program(stack, admin, registration_points=100, invitee_points=50, referrer_points=200)
    referrer_id, referrer_token = await member_token(stack)
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer_token))).json()["referral_code"]
    phone = unique_phone()
    body = (await register_mp(stack, phone, referrer_code=code, expect=201)).json()
    invitee_id, invitee_token = body["member_id"], body["token"]
    invitee = (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(invitee_token))).json()
    assert invitee["points"]["balance"] == 150
    assert (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(referrer_token))).json()[
        "points"]["balance"] == 100
    _clerk_staff, clerk = await make_staff(stack)
    scanned = await scan_token(stack, clerk, invitee_token)
    for _ in range(2):
        await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
            "order_no": unique("O"), "scan_token": scanned, "amount_cents": 1000})
    referrer = (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(referrer_token))).json()
    assert referrer["points"]["balance"] == 300  # 100 registration + 200 for the invitee's first order only
    # The same phone registering again at the counter joins the member: no second registration bonus.
    await stack.http.post("/api/v1/store/members", json={"phone": phone}, headers=bearer(clerk))
    assert await PointsEntry.filter(member_id=invitee_id, ref="registration_bonus").count() == 1
    await assert_ledgers_hold(invitee_id)
    await assert_ledgers_hold(referrer_id)


async def test_a_merge_moves_points_lots_debt_stored_value_orders_and_the_higher_tier(stack, counter):
    other_id, other_token = await member_token(stack)
    other_scan = await scan_token(stack, counter.clerk, other_token)
    await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": other_scan, "amount_cents": 600000})  # gold, 6300 points
    await stack.http.post("/api/v1/store/wallet/topups", headers=bearer(counter.clerk), json={
        "scan_token": other_scan, "amount_cents": 10000, "payment_ref": unique("P")})
    await order(stack, counter, amount_cents=10000)
    response = await stack.http.post(f"/api/v1/admin/members/{counter.member_id}/merge",
                                     json={"other_id": other_id}, headers=bearer(counter.admin))
    assert response.status_code == 200, response.text
    assert response.json()["moved"]["loyalty"]["points"] == 6300
    view = (await stack.http.get(f"/api/v1/admin/members/{counter.member_id}/assets",
                                 headers=bearer(counter.admin))).json()
    assert view["points"]["balance"] == 6400 and view["balance_cents"] == 10000 and view["tier"]["code"] == "gold"
    orders_view = (await stack.http.get(f"/api/v1/admin/members/{counter.member_id}/orders",
                                        headers=bearer(counter.admin))).json()
    assert len(orders_view["items"]) == 2
    await assert_ledgers_hold(counter.member_id)
    await assert_ledgers_hold(other_id)
    merged = await LoyaltyAccount.get(member_id=other_id)
    assert (merged.points_balance, merged.principal_cents) == (0, 0)


async def test_the_export_includes_ledgers_and_orders(stack, counter):
    await order(stack, counter, amount_cents=10000)
    export = (await stack.http.get("/api/v1/mp/me/export", headers=bearer(counter.token))).json()
    assert export["points_ledger"][0]["points"] == 100 and export["orders"][0]["amount_cents"] == 10000
