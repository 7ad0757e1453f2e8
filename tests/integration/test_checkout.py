"""Online checkout sessions through the signed integrations API: validate, hold, complete, cancel, expire, and
the races (two sessions for the last points or one coupon, fifty completes, completion against expiry)."""

import asyncio
import json

from backend.checkout import service as checkout
from backend.checkout.models import CheckoutSession
from backend.coupons.models import Coupon
from backend.loyalty.models import LoyaltyAccount, Order
from tests.factories import assert_ledgers_hold, bearer, signed_headers, unique
from tests.integration.test_coupons import give, make_template
from tests.loyalty_helpers import assets, order, topup

EVERYTHING = {"channels": ["online", "pos", "miniprogram", "third_party"], "store_ids": None,
              "actions": ["orders", "refunds", "members.lookup", "members.write"]}
SESSIONS = "/api/v1/integrations/checkout-sessions"


async def app_key(stack, admin, scopes=None):
    response = await stack.http.post("/api/v1/admin/app-keys", headers=bearer(admin),
                                     json={"name": unique("mall"), "scopes": scopes or EVERYTHING})
    assert response.status_code == 201, response.text
    return response.json()


async def signed(stack, key, method, path, body=None, **headers):
    raw = json.dumps(body).encode() if body is not None else b""
    sent = signed_headers(key["key_id"], key["secret"], method, path, raw) | headers
    return await stack.http.request(method, path, content=raw, headers=sent)


async def shopper(stack, counter):
    """The counter's member with 1100 points (1000 yuan earned + silver's gift) and 50 yuan of stored value."""
    await order(stack, counter, amount_cents=100000)
    await topup(stack, counter, 5000)
    key = await app_key(stack, counter.admin)
    return key, {"member_id": counter.member_id}


def cart(member, **extra):
    return {"member": member, "channel": "online", "amount_cents": 20000, **extra}


async def open_session(stack, key, member, expect=201, **extra):
    response = await signed(stack, key, "POST", SESSIONS, cart(member, **extra))
    assert response.status_code == expect, response.text
    return response.json()


async def complete(stack, key, session_id, order_no=None):
    return await signed(stack, key, "POST", f"{SESSIONS}/{session_id}/complete",
                        {"order_no": order_no or unique("WEB")})


async def test_validate_lists_the_coupons_that_fit_the_member_price_and_what_points_and_stored_value_can_pay(
        stack, counter):
    key, member = await shopper(stack, counter)
    fits = await give(stack, counter.admin, (await make_template(stack, counter.admin))["id"], counter.member_id)
    big = await make_template(stack, counter.admin, name="满500减100", terms={
        "kind": "amount_off", "min_spend_cents": 50000, "amount_off_cents": 10000, "valid_days": 30})
    too_big = await give(stack, counter.admin, big["id"], counter.member_id)

    response = await signed(stack, key, "POST", "/api/v1/integrations/checkout/validate", cart(member))

    assert response.status_code == 200, response.text
    body = response.json()
    by_id = {c["coupon_id"]: c for c in body["coupons"]}
    assert (by_id[fits]["applicable"], by_id[fits]["discount_cents"]) == (True, 2000)
    assert (by_id[too_big]["applicable"], by_id[too_big]["reason"]) == (False, "COUPON_MIN_SPEND_NOT_MET")
    assert body["points"] == {"balance": 1100, "held": 0, "available": 1100, "max_usable": 1100,
                              "max_value_cents": 1100, "redeem_points_per_yuan": 100}
    assert body["stored_value"]["available_cents"] == 5000 and body["stored_value"]["max_usable_cents"] == 5000
    assert body["tier"] == {"code": "silver", "name": "银卡", "discount_pct": 98, "member_price_cents": 19600}
    assert await CheckoutSession.all().count() == 0


async def test_a_session_holds_its_coupon_points_and_stored_value_until_it_completes_once(stack, counter):
    key, member = await shopper(stack, counter)
    coupon_id = await give(stack, counter.admin, (await make_template(stack, counter.admin))["id"], counter.member_id)

    session = await open_session(stack, key, member, coupon_ids=[coupon_id], points_to_spend=1000,
                                 balance_to_spend_cents=3000)

    assert session["status"] == "open" and session["quote"]["payable_cents"] == 20000 - 2000 - 1000 - 3000
    view = await assets(stack, counter)
    assert (view["points"]["held"], view["points"]["available"]) == (1000, 100)
    assert (view["balance_held_cents"], view["balance_available_cents"]) == (3000, 2000)
    # Held: the counter cannot spend the held points or stored value, nor redeem the held coupon.
    spend = await order(stack, counter, expect=422, amount_cents=10000, points_to_spend=200)
    assert spend["error"]["code"] == "INSUFFICIENT_POINTS" and spend["error"]["details"]["held"] == 1000
    wallet = await order(stack, counter, expect=422, amount_cents=10000, balance_to_spend_cents=2500)
    assert wallet["error"]["code"] == "INSUFFICIENT_BALANCE"
    redeem = await order(stack, counter, expect=409, amount_cents=10000, coupon_ids=[coupon_id])
    assert redeem["error"]["code"] == "COUPON_HELD"
    assert await order(stack, counter, amount_cents=10000, points_to_spend=100)  # what is not held stays spendable

    order_no = unique("WEB")
    done = await complete(stack, key, session["id"], order_no)
    again = await complete(stack, key, session["id"], order_no)
    other = await complete(stack, key, session["id"])

    assert done.status_code == 201, done.text
    receipt = done.json()["receipt"]
    assert (receipt["order_no"], receipt["discount_cents"], receipt["points_spent"], receipt["balance_spent_cents"]) == (
        order_no, 2000, 1000, 3000)
    assert done.json()["session"]["status"] == "completed" and done.json()["session"]["order_no"] == order_no
    assert again.status_code == 200 and again.json()["receipt"] == receipt
    assert other.status_code == 409 and other.json()["error"]["code"] == "CHECKOUT_CLOSED"
    assert (await Coupon.get(id=coupon_id)).status == "redeemed"
    assert await Order.filter(order_no=order_no, channel="online").count() == 1
    after = await assets(stack, counter)
    assert after["points"]["held"] == 0 and after["balance_held_cents"] == 0
    await assert_ledgers_hold(counter.member_id)


async def test_cancel_releases_everything_and_a_cancelled_session_cannot_complete(stack, counter):
    key, member = await shopper(stack, counter)
    coupon_id = await give(stack, counter.admin, (await make_template(stack, counter.admin))["id"], counter.member_id)
    session = await open_session(stack, key, member, coupon_ids=[coupon_id], points_to_spend=1100)

    cancelled = await signed(stack, key, "POST", f"{SESSIONS}/{session['id']}/cancel")
    twice = await signed(stack, key, "POST", f"{SESSIONS}/{session['id']}/cancel")
    late = await complete(stack, key, session["id"])

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert twice.status_code == 200 and twice.json()["status"] == "cancelled"
    assert late.status_code == 409 and late.json()["error"]["code"] == "CHECKOUT_CLOSED"
    receipt = await order(stack, counter, amount_cents=20000, points_to_spend=1100, coupon_ids=[coupon_id])
    assert receipt["points_spent"] == 1100 and receipt["discount_cents"] == 2000


async def test_an_expired_session_holds_nothing_and_a_late_completion_succeeds_or_says_why_not(stack, counter):
    key, member = await shopper(stack, counter)
    kept = await open_session(stack, key, member, points_to_spend=500, ttl_seconds=60)
    lost = await open_session(stack, key, member, points_to_spend=600, ttl_seconds=60)
    stack.clock.advance(seconds=61)

    read = await signed(stack, key, "GET", f"{SESSIONS}/{kept['id']}")
    assert read.status_code == 200 and read.json()["status"] == "expired"
    assert (await assets(stack, counter))["points"]["held"] == 0
    # Meanwhile the counter spends 500 of the 1100 points: the first late completion still fits, the second not.
    await order(stack, counter, amount_cents=10000, points_to_spend=500)
    first = await complete(stack, key, kept["id"])
    second = await complete(stack, key, lost["id"])

    assert first.status_code == 201, first.text
    assert second.status_code == 409 and second.json()["error"]["code"] == "CHECKOUT_EXPIRED"
    assert second.json()["error"]["details"]["reason"] == "INSUFFICIENT_POINTS"
    swept = await checkout.expire_due()
    assert swept["expired"] == 1 and (await CheckoutSession.get(id=lost["id"])).status == "expired"
    await assert_ledgers_hold(counter.member_id)


async def test_two_sessions_racing_for_the_last_points_or_one_coupon_hold_exactly_once(stack, counter):
    key, member = await shopper(stack, counter)
    coupon_id = await give(stack, counter.admin, (await make_template(stack, counter.admin))["id"], counter.member_id)

    points = await asyncio.gather(*[signed(stack, key, "POST", SESSIONS, cart(member, points_to_spend=800))
                                    for _ in range(2)])
    coupons = await asyncio.gather(*[signed(stack, key, "POST", SESSIONS, cart(member, coupon_ids=[coupon_id]))
                                     for _ in range(2)])

    assert sorted(r.status_code for r in points) == [201, 422], [r.text for r in points]
    assert next(r for r in points if r.status_code == 422).json()["error"]["code"] == "INSUFFICIENT_POINTS"
    assert sorted(r.status_code for r in coupons) == [201, 409], [r.text for r in coupons]
    assert next(r for r in coupons if r.status_code == 409).json()["error"]["code"] == "COUPON_HELD"
    assert (await assets(stack, counter))["points"]["held"] == 800


async def test_fifty_concurrent_completions_of_one_session_record_one_order(stack, counter):
    key, member = await shopper(stack, counter)
    session = await open_session(stack, key, member, points_to_spend=1000)

    responses = await asyncio.gather(*[complete(stack, key, session["id"]) for _ in range(50)])

    assert sorted(r.status_code for r in responses) == [201] + [409] * 49, [r.text for r in responses][:3]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"CHECKOUT_CLOSED"}
    assert await Order.filter(member_id=counter.member_id, channel="online").count() == 1
    placed = await Order.get(member_id=counter.member_id, channel="online")
    assert placed.points_spent == 1000 and placed.points_earned == 228  # 190 yuan paid × 银卡 1.2
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).points_balance == 1100 - 1000 + 228
    await assert_ledgers_hold(counter.member_id)


async def test_a_completion_racing_the_expiry_sweep_has_one_outcome(stack, counter):
    key, member = await shopper(stack, counter)
    sessions = [await open_session(stack, key, member, points_to_spend=100, ttl_seconds=60) for _ in range(5)]
    stack.clock.advance(seconds=61)

    results = await asyncio.gather(*[complete(stack, key, s["id"]) for s in sessions], checkout.expire_due())

    completed = 0
    for session, response in zip(sessions, results[:-1], strict=True):
        row = await CheckoutSession.get(id=session["id"])
        if response.status_code == 201:
            completed += 1
            assert row.status == "completed" and row.order_no == response.json()["receipt"]["order_no"]
        else:
            assert response.status_code == 409 and row.status == "expired" and row.order_id is None
    # Each session ended one way: an order for each completed one, none for the others.
    assert await Order.filter(member_id=counter.member_id, channel="online").count() == completed
    assert await CheckoutSession.filter(status="open").count() == 0
    await assert_ledgers_hold(counter.member_id)


async def test_the_miniprogram_channel_earns_by_its_rule_and_keys_see_only_their_own_sessions(stack, counter):
    key, member = await shopper(stack, counter)
    program = (await stack.http.get("/api/v1/admin/earn-rules", headers=bearer(counter.admin))).json()
    rules = [{**rule, "bonus_pct": 200} if rule["channel"] == "miniprogram" else rule for rule in program["earn_rules"]]
    await stack.http.put("/api/v1/admin/earn-rules", json={"earn_rules": rules}, headers=bearer(counter.admin))
    online_only = await app_key(stack, counter.admin, {**EVERYTHING, "channels": ["online"]})

    refused = await signed(stack, online_only, "POST", SESSIONS, cart(member, channel="miniprogram"))
    session = await open_session(stack, key, member, channel="miniprogram")
    hidden = await signed(stack, online_only, "GET", f"{SESSIONS}/{session['id']}")
    done = await complete(stack, key, session["id"])

    assert refused.status_code == 403
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "CHECKOUT_NOT_FOUND"
    assert done.status_code == 201, done.text
    receipt = done.json()["receipt"]
    assert receipt["channel"] == "miniprogram" and receipt["points_earned"] == 480  # 200 yuan × 银卡 1.2 × 2
    missing = await signed(stack, key, "POST", SESSIONS, cart({"member_id": 999999}))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "MEMBER_NOT_FOUND"
