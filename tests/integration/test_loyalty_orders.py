"""Orders from the counter and from other systems: earning, spending, refunds, top-ups, idempotency."""

import asyncio
import json
from datetime import timedelta

import pytest

from backend.loyalty.models import Order, PointsEntry, WalletEntry
from backend.members.models import MemberEvent
from tests.factories import (
    assert_ledgers_hold,
    bearer,
    make_app_key,
    make_staff,
    member_token,
    signed_headers,
    unique,
)
from tests.loyalty_helpers import assets, order, refund, set_program, topup


async def test_a_fresh_install_earns_one_point_per_yuan_and_shows_it_on_the_home_screen(stack, counter):
    receipt = await order(stack, counter, amount_cents=12345)
    assert receipt["points_earned"] == 123 and receipt["points_balance"] == 123
    assert receipt["payable_cents"] == 12345
    view = await assets(stack, counter)
    assert view["points"] == {"balance": 123, "debt": 0, "held": 0, "available": 123, "expiring": []}
    assert view["balance_cents"] == 0
    assert view["tier"]["code"] == "normal" and view["tier"]["name"] == "普通"
    assert view["tier"]["next"] == {"code": "silver", "name": "银卡", "threshold": 1000, "remaining": 877}
    event = await MemberEvent.get(member_id=counter.member_id, type="order_placed")
    assert event.payload["amount_cents"] == 12345 and event.channel == "pos" and event.store_id == counter.store_id
    await assert_ledgers_hold(counter.member_id)


async def test_points_and_stored_value_pay_part_of_an_order_and_earn_on_the_rest(stack, counter):
    await set_program(stack, counter.admin, topup_bonuses=[{"min_amount_cents": 50000, "bonus_cents": 5000}])
    top = await topup(stack, counter, 50000)
    assert top["bonus_cents"] == 5000 and top["balance_cents"] == 55000
    await order(stack, counter, amount_cents=200000)  # 2000 points, and silver from 2000 yuan
    receipt = await order(stack, counter, amount_cents=20000, points_to_spend=1000, balance_to_spend_cents=15000)
    assert receipt["points_value_cents"] == 1000 and receipt["balance_spent_cents"] == 15000
    assert receipt["payable_cents"] == 20000 - 1000 - 15000
    # Silver multiplies by 1.2: (200 - 10) yuan × 1.2 = 228 points.
    assert receipt["points_earned"] == 228
    spend = await WalletEntry.get(member_id=counter.member_id, kind="spend")
    assert (spend.principal_cents, spend.bonus_cents) == (-15000, 0)  # principal goes first
    await order(stack, counter, amount_cents=50000, balance_to_spend_cents=40000)
    wallet = await WalletEntry.filter(member_id=counter.member_id, kind="spend").order_by("-id").first()
    assert (wallet.principal_cents, wallet.bonus_cents) == (-35000, -5000)
    await assert_ledgers_hold(counter.member_id)


async def test_a_second_top_up_receipt_names_its_own_bonus_beside_the_balance(stack, counter):
    await set_program(stack, counter.admin, topup_bonuses=[{"min_amount_cents": 50000, "bonus_cents": 5000}])
    await topup(stack, counter, 50000)
    again = await topup(stack, counter, 60000)
    assert (again["bonus_cents"], again["bonus_balance_cents"], again["balance_cents"]) == (5000, 10000, 120000)
    await assert_ledgers_hold(counter.member_id)


async def test_spending_more_than_the_balance_is_refused_and_changes_nothing(stack, counter):
    await order(stack, counter, amount_cents=10000)
    no = unique("ORD")
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": no, "scan_token": counter.scan, "amount_cents": 50000, "points_to_spend": 200})
    assert response.status_code == 422 and response.json()["error"]["code"] == "INSUFFICIENT_POINTS"
    assert response.json()["error"]["details"] == {"balance": 100, "held": 0, "requested": 200}
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": no, "scan_token": counter.scan, "amount_cents": 50000, "balance_to_spend_cents": 1})
    assert response.status_code == 422 and response.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert not await Order.exists(order_no=no)
    assert await PointsEntry.filter(member_id=counter.member_id).count() == 1
    # The same order number, paid otherwise, goes through: the refused attempts left nothing behind.
    assert (await order(stack, counter, order_no=no, amount_cents=50000, points_to_spend=100))["points_spent"] == 100
    await assert_ledgers_hold(counter.member_id)


@pytest.mark.parametrize("body, field", [
    ({"amount_cents": 0}, "amount_cents"),
    ({"amount_cents": -5}, "amount_cents"),
    ({"amount_cents": 100, "points_to_spend": -1}, "points_to_spend"),
    ({"amount_cents": 100, "order_no": "空格 no"}, "order_no"),
    ({"amount_cents": 100, "items": [{"sku": "A", "amount_cents": -1}]}, "items.0.amount_cents"),
])
async def test_bad_orders_are_400_naming_the_field(stack, counter, body, field):
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk),
                                     json={"order_no": unique("O"), **body})
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]


async def test_paying_more_with_points_and_balance_than_the_order_is_refused(stack, counter):
    await order(stack, counter, amount_cents=100000)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 500, "points_to_spend": 600})
    assert response.status_code == 422 and response.json()["error"]["code"] == "ORDER_OVERPAID"
    await set_program(stack, counter.admin, redeem_points_per_yuan=30)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 500, "points_to_spend": 7})
    assert response.status_code == 422 and response.json()["error"]["code"] == "POINTS_NOT_REDEEMABLE"


async def test_an_order_posted_again_returns_the_first_receipt_and_another_body_is_a_conflict(stack, counter):
    no = unique("ORD")
    first = await order(stack, counter, order_no=no, amount_cents=8800)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": no, "scan_token": counter.scan, "amount_cents": 8800})
    assert response.status_code == 200 and response.headers["idempotent-replayed"] == "true"
    assert response.json() == first
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": no, "scan_token": counter.scan, "amount_cents": 9900})
    assert response.status_code == 409 and response.json()["error"]["code"] == "ORDER_CONFLICT"
    assert await PointsEntry.filter(member_id=counter.member_id).count() == 1


async def test_ten_concurrent_posts_of_one_order_earn_once_and_return_the_same_receipt(stack, counter):
    body = {"order_no": unique("ORD"), "scan_token": counter.scan, "amount_cents": 23456}
    responses = await asyncio.gather(*[
        stack.http.post("/api/v1/store/orders", json=body, headers=bearer(counter.clerk)) for _ in range(10)])
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    assert await PointsEntry.filter(member_id=counter.member_id, kind="earn").count() == 1
    assert (await assets(stack, counter))["points"]["balance"] == 234
    await assert_ledgers_hold(counter.member_id)


async def test_concurrent_orders_spending_points_never_overdraw(stack, counter):
    await order(stack, counter, amount_cents=100000)  # 1000 points, and silver's gift of 100
    await set_program(stack, counter.admin, earn_rules=[])  # spending orders earn nothing here

    async def spend():
        return await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
            "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 10000, "points_to_spend": 300})

    responses = await asyncio.gather(*[spend() for _ in range(12)])
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 9
    assert (await assets(stack, counter))["points"]["balance"] == 200
    await assert_ledgers_hold(counter.member_id)


async def test_refunds_reverse_earned_points_pro_rata_and_restore_what_was_spent(stack, counter):
    await topup(stack, counter, 30000)
    await order(stack, counter, amount_cents=100000)  # 1000 points, and silver (gift: 100 points)
    no = unique("ORD")
    placed = await order(stack, counter, order_no=no, amount_cents=40000, points_to_spend=1000,
                         balance_to_spend_cents=20000)
    assert placed["points_earned"] == 468  # (400 - 10 paid with points) yuan × 1.2 silver
    assert placed["points_balance"] == 1100 - 1000 + 468
    quarter = await refund(stack, counter, no, 10000, refund_no="R1")
    assert (quarter["points_reversed"], quarter["points_restored"], quarter["balance_restored_cents"]) == (117, 250, 5000)
    assert quarter["refundable_cents"] == 30000
    again = await refund(stack, counter, no, 10000, expect=200, refund_no="R1")  # a retried refund: once
    assert again == quarter
    conflict = await refund(stack, counter, no, 20000, expect=409, refund_no="R1")
    assert conflict["error"]["code"] == "REFUND_CONFLICT"
    too_much = await refund(stack, counter, no, 30001, expect=422)
    assert too_much["error"]["code"] == "REFUND_EXCEEDS_PAID"
    assert too_much["error"]["details"] == {"refundable_cents": 30000}
    rest = await refund(stack, counter, no, 30000)
    assert (rest["points_reversed"], rest["points_restored"], rest["balance_restored_cents"]) == (351, 750, 15000)
    assert rest["points_balance"] == 1100 and rest["balance_cents"] == 30000
    assert (await Order.get(order_no=no)).status == "refunded"
    assert (await refund(stack, counter, no, 1, expect=422))["error"]["code"] == "REFUND_EXCEEDS_PAID"
    await assert_ledgers_hold(counter.member_id)


async def test_refunding_points_already_spent_leaves_a_visible_debt_paid_by_the_next_earn(stack, counter):
    await set_program(stack, counter.admin, tiers=[{"code": "normal", "name": "普通", "threshold": 0}])
    no = unique("ORD")
    await order(stack, counter, order_no=no, amount_cents=50000)  # 500 points
    await order(stack, counter, amount_cents=400, points_to_spend=400)  # paid entirely with points
    receipt = await refund(stack, counter, no, 50000)
    assert receipt["points_reversed"] == 500 and receipt["points_clawed_back"] == 100
    assert receipt["points_debt_added"] == 400 and receipt["points_balance"] == 0 and receipt["points_debt"] == 400
    view = await assets(stack, counter)
    assert view["points"]["balance"] == 0 and view["points"]["debt"] == 400
    card = await stack.http.post("/api/v1/store/members/current", json={"scan_token": counter.scan},
                                 headers=bearer(counter.clerk))
    assert card.json()["points"]["debt"] == 400
    after = await order(stack, counter, amount_cents=10000)  # earns 100, all of it pays debt
    assert after["points_balance"] == 0 and after["points_debt"] == 300
    after = await order(stack, counter, amount_cents=50000)  # earns 500: 300 pay the rest
    assert after["points_balance"] == 200 and after["points_debt"] == 0
    kinds = [e.kind for e in await PointsEntry.filter(member_id=counter.member_id).order_by("id")]
    assert kinds[-2:] == ["earn", "debt_repay"]
    await assert_ledgers_hold(counter.member_id)


async def test_concurrent_partial_refunds_never_exceed_what_was_paid(stack, counter):
    no = unique("ORD")
    await order(stack, counter, order_no=no, amount_cents=10000)
    responses = await asyncio.gather(*[
        stack.http.post(f"/api/v1/store/orders/{no}/refund", headers=bearer(counter.clerk),
                        json={"amount_cents": 3000, "reason": "部分退货"}) for _ in range(8)])
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 5
    row = await Order.get(order_no=no)
    assert row.refunded_cents == 9000 and row.points_reversed == 90
    await assert_ledgers_hold(counter.member_id)


async def test_refunds_of_unknown_orders_or_another_stores_orders_are_404(stack, counter):
    assert (await refund(stack, counter, "NOPE", 100, expect=404))["error"]["code"] == "ORDER_NOT_FOUND"
    no = unique("ORD")
    await order(stack, counter, order_no=no, amount_cents=10000)
    _, other_clerk = await make_staff(stack)
    response = await stack.http.post(f"/api/v1/store/orders/{no}/refund", headers=bearer(other_clerk),
                                     json={"amount_cents": 100, "reason": "退货"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "ORDER_NOT_FOUND"


async def test_a_scan_token_of_another_store_cannot_place_orders_or_top_up(stack, counter):
    _, other_clerk = await make_staff(stack)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(other_clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 100})
    assert response.status_code == 403
    response = await stack.http.post("/api/v1/store/wallet/topups", headers=bearer(other_clerk), json={
        "scan_token": counter.scan, "amount_cents": 100, "payment_ref": unique("P")})
    assert response.status_code == 403


async def test_a_top_up_happens_once_per_payment_reference(stack, counter):
    ref = unique("PAY")
    first = await topup(stack, counter, 10000, payment_ref=ref)
    again = await topup(stack, counter, 10000, expect=200, payment_ref=ref)
    assert again == first
    other = await topup(stack, counter, 20000, expect=409, payment_ref=ref)
    assert other["error"]["code"] == "PAYMENT_REF_USED"
    assert (await assets(stack, counter))["balance_cents"] == 10000
    results = await asyncio.gather(*[stack.http.post("/api/v1/store/wallet/topups", headers=bearer(counter.clerk),
                                                     json={"scan_token": counter.scan, "amount_cents": 500,
                                                           "payment_ref": "SAME-PAY"}) for _ in range(8)])
    assert sorted(r.status_code for r in results) == [200] * 7 + [201]
    assert (await assets(stack, counter))["balance_cents"] == 10500
    await assert_ledgers_hold(counter.member_id)


async def test_integration_orders_find_the_member_by_phone_and_share_the_rules(stack, counter):
    key_id, secret = await make_app_key(stack)
    phone = "13912345678"
    member_id, token = await member_token(stack, phone)

    async def post(path, body):
        raw = json.dumps(body).encode()
        return await stack.http.post(path, content=raw, headers=signed_headers(key_id, secret, "POST", path, raw))

    no = unique("WEB")
    response = await post("/api/v1/integrations/orders", {
        "channel": "online", "order_no": no, "amount_cents": 30000, "member": {"phone": phone},
        "items": [{"sku": "A1", "category": "food", "amount_cents": 10000},
                  {"sku": "B1", "category": "tobacco", "amount_cents": 20000}]})
    assert response.status_code == 201, response.text
    assert response.json()["points_earned"] == 300
    same_no_at_pos = await order(stack, counter, order_no=no, amount_cents=100)  # another channel: another order
    assert same_no_at_pos["order_no"] == no
    _, admin = counter.admin, counter.admin
    rules = (await stack.http.get("/api/v1/admin/earn-rules", headers=bearer(admin))).json()["earn_rules"]
    for rule in rules:
        if rule["channel"] == "online":
            rule.update(excluded_categories=["tobacco"], bonus_pct=150)
    put = await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": rules}, headers=bearer(admin))
    assert put.status_code == 200, put.text
    response = await post("/api/v1/integrations/orders", {
        "channel": "online", "order_no": unique("WEB"), "amount_cents": 30000, "member": {"member_id": member_id},
        "items": [{"sku": "A1", "category": "food", "amount_cents": 10000},
                  {"sku": "B1", "category": "tobacco", "amount_cents": 20000}]})
    assert response.json()["points_earned"] == 150  # 100 yuan eligible × 1.5
    refund_path = f"/api/v1/integrations/orders/{no}/refund"
    response = await post(refund_path, {"channel": "online", "amount_cents": 30000, "reason": "整单退"})
    assert response.status_code == 201 and response.json()["points_reversed"] == 300
    response = await post("/api/v1/integrations/orders", {
        "channel": "online", "order_no": unique("WEB"), "amount_cents": 100, "member": {"phone": "13000000000"}})
    assert response.status_code == 404 and response.json()["error"]["code"] == "MEMBER_NOT_FOUND"
    unsigned = await stack.http.post("/api/v1/integrations/orders", json={"channel": "online"})
    assert unsigned.status_code == 401
    assert (await assets(stack, type("C", (), {"token": token}))) ["points"]["balance"] == 150
    await assert_ledgers_hold(member_id)


@pytest.mark.parametrize(("fields", "field"), [
    ({"store_id": 2**31}, "store_id"),  # store ids are int4 on PostgreSQL
    ({"member": {"member_id": 0}}, "member.member_id"),
    ({"placed_at": "9999-01-01T00:00:00+08:00"}, "placed_at"),  # it would count in every future tier window
])
async def test_an_integration_order_naming_a_value_outside_its_column_is_refused(stack, fields, field):
    key_id, secret = await make_app_key(stack)
    path = "/api/v1/integrations/orders"
    no = unique("WEB")
    raw = json.dumps({"channel": "online", "order_no": no, "amount_cents": 1000, **fields}).encode()

    response = await stack.http.post(path, content=raw, headers=signed_headers(key_id, secret, "POST", path, raw))

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_FAILED", response.text
    assert field in response.json()["error"]["details"]["fields"]
    assert not await Order.filter(order_no=no).exists()


@pytest.mark.parametrize("order_no", ["D%C3%97%0B%26", "A" * 65, "a%2Fb"])
async def test_a_refund_of_an_order_number_outside_its_pattern_matches_no_route(stack, order_no):
    key_id, secret = await make_app_key(stack)
    path = f"/api/v1/integrations/orders/{order_no}/refund"
    raw = json.dumps({"channel": "online", "amount_cents": 100, "reason": "退货"}).encode()

    response = await stack.http.post(path, content=raw, headers=signed_headers(key_id, secret, "POST", path, raw))

    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND", response.text


async def test_earn_rule_validation_names_the_problem(stack, counter):
    bad = [{"channel": "pos", "points": 1, "per_yuan": 0}]
    response = await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": bad}, headers=bearer(counter.admin))
    assert response.status_code == 400
    duplicate = [{"channel": "pos"}, {"channel": "pos"}]
    response = await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": duplicate},
                                    headers=bearer(counter.admin))
    assert response.status_code == 400 and "每个渠道只能有一条积分规则" in response.text
    _, marketer = await make_staff(stack, role="marketer")
    response = await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": []}, headers=bearer(marketer))
    assert response.status_code == 403


async def test_rounding_and_store_bonus_follow_the_rule(stack, counter):
    rules = [{"channel": "pos", "points": 1, "per_yuan": 10, "rounding": "ceil",
              "store_bonus_pct": {str(counter.store_id): 150}}]
    await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": rules}, headers=bearer(counter.admin))
    assert (await order(stack, counter, amount_cents=1001))["points_earned"] == 2  # 10.01 yuan /10 × 1.5 → 1.5015 ↑
    rules[0]["rounding"] = "floor"
    await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": rules}, headers=bearer(counter.admin))
    assert (await order(stack, counter, amount_cents=1001))["points_earned"] == 1


async def test_an_order_without_a_member_is_recorded_and_earns_nothing(stack, counter):
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk),
                                     json={"order_no": unique("O"), "amount_cents": 5000})
    assert response.status_code == 201 and response.json()["points_earned"] == 0
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk),
                                     json={"order_no": unique("O"), "amount_cents": 5000, "points_to_spend": 10})
    assert response.status_code == 400 and "member" in response.json()["error"]["details"]["fields"]


async def test_ledgers_are_paginated_newest_first(stack, counter):
    for _ in range(5):
        await order(stack, counter, amount_cents=1000)
    await topup(stack, counter, 1000)
    first = (await stack.http.get("/api/v1/mp/me/points/ledger?limit=3", headers=bearer(counter.token))).json()
    assert [e["kind"] for e in first["items"]] == ["earn"] * 3 and first["next_cursor"]
    second = (await stack.http.get(f"/api/v1/mp/me/points/ledger?limit=3&cursor={first['next_cursor']}",
                                   headers=bearer(counter.token))).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert first["items"][0]["id"] > second["items"][0]["id"]
    wallet = (await stack.http.get("/api/v1/mp/me/balance/ledger", headers=bearer(counter.token))).json()
    assert wallet["items"][0]["kind"] == "topup" and wallet["items"][0]["balance_after_cents"] == 1000
    orders = (await stack.http.get("/api/v1/mp/me/orders", headers=bearer(counter.token))).json()
    assert len(orders["items"]) == 5


async def test_placed_at_in_the_past_counts_in_the_window_it_belongs_to(stack, counter):
    old = (stack.clock.now() - timedelta(days=400)).isoformat()
    await order(stack, counter, amount_cents=300000, placed_at=old)
    assert (await assets(stack, counter))["tier"]["code"] == "normal"


async def test_a_quote_shows_what_an_order_would_do_and_changes_nothing(stack, counter):
    await order(stack, counter, amount_cents=50000)  # 500 points
    body = {"order_no": unique("Q"), "scan_token": counter.scan, "amount_cents": 20000, "points_to_spend": 300}
    response = await stack.http.post("/api/v1/store/orders/quote", json=body, headers=bearer(counter.clerk))
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["quote"] is True and quote["order_no"] == body["order_no"] and "order_id" not in quote
    assert (quote["points_value_cents"], quote["payable_cents"], quote["points_earned"]) == (300, 19700, 197)
    assert quote["points_balance"] == 500 - 300 + 197
    assert await Order.filter(member_id=counter.member_id).count() == 1
    assert (await assets(stack, counter))["points"]["balance"] == 500
    placed = await order(stack, counter, **body)
    assert {k: placed[k] for k in ("payable_cents", "points_earned", "points_balance")} == \
        {k: quote[k] for k in ("payable_cents", "points_earned", "points_balance")}
    too_much = await stack.http.post("/api/v1/store/orders/quote", headers=bearer(counter.clerk), json={
        **body, "order_no": unique("Q"), "points_to_spend": 5000})
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "INSUFFICIENT_POINTS"
    await assert_ledgers_hold(counter.member_id)


async def test_a_stale_scan_is_its_own_error_not_a_logout(stack, counter):
    stack.clock.advance(minutes=11)  # scan tokens last 10 minutes; the clerk's login lasts 12 hours
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 100})
    assert response.status_code == 422 and response.json()["error"]["code"] == "SCAN_TOKEN_EXPIRED"
