"""Coupons: templates, claiming under concurrency, points mall, redemption in store and in orders,
reversal, refunds, expiry, rewards."""

import asyncio
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from backend import audit
from backend.coupons import service as coupons
from backend.coupons.models import Coupon, CouponTemplate, Redemption
from backend.members import service, sessions
from backend.stores.models import AuditLog
from tests.factories import (
    assert_ledgers_hold,
    bearer,
    burst,
    make_staff,
    member_token,
    register_mp,
    scan_token,
    unique,
    unique_phone,
)
from tests.loyalty_helpers import assets, order, refund, set_program


async def make_template(stack, admin, *, activate=True, **fields):
    body = {"name": fields.pop("name", "满100减20"), "terms": fields.pop("terms", {
        "kind": "amount_off", "min_spend_cents": 10000, "amount_off_cents": 2000, "valid_days": 30}), **fields}
    response = await stack.http.post("/api/v1/admin/coupon-templates", json=body, headers=bearer(admin))
    assert response.status_code == 201, response.text
    template = response.json()
    if activate:
        response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status",
                                         json={"status": "active"}, headers=bearer(admin))
        assert response.status_code == 200, response.text
        template = response.json()
    return template


async def give(stack, admin, template_id, member_id):
    response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/issue",
                                     json={"member_ids": [member_id], "batch_id": unique("b")}, headers=bearer(admin))
    assert response.status_code == 200 and response.json()["issued"] == 1, response.text
    return (await Coupon.filter(template_id=template_id, member_id=member_id).order_by("-id").first()).id


async def claim(stack, token, template_id):
    return await stack.http.post(f"/api/v1/mp/coupon-center/{template_id}/claim", headers=bearer(token))


async def quick_members(stack, count):
    """Members made through the service with member tokens: for races that need many of them."""
    tokens = []
    for _ in range(count):
        result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos"),
                                        pii=stack.pii, actor=audit.SYSTEM)
        issued = await sessions.issue_tokens(settings=stack.settings, member_id=result.member.id, account_id=None)
        tokens.append(issued.token)
    return tokens


async def test_a_template_goes_from_draft_to_the_coupon_center_and_edits_never_touch_issued_coupons(stack, counter):
    template = await make_template(stack, counter.admin, activate=False, claimable=True)
    assert template["status"] == "draft"
    center = (await stack.http.get("/api/v1/mp/coupon-center", headers=bearer(counter.token))).json()
    assert center["items"] == []
    assert (await claim(stack, counter.token, template["id"])).status_code == 422
    await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status", json={"status": "active"},
                          headers=bearer(counter.admin))
    center = (await stack.http.get("/api/v1/mp/coupon-center", headers=bearer(counter.token))).json()
    assert [t["id"] for t in center["items"]] == [template["id"]]
    claimed = await claim(stack, counter.token, template["id"])
    assert claimed.status_code == 201 and claimed.json()["terms"]["amount_off_cents"] == 2000
    patched = await stack.http.patch(f"/api/v1/admin/coupon-templates/{template['id']}", headers=bearer(counter.admin),
                                     json={"terms": {"kind": "amount_off", "min_spend_cents": 10000,
                                                     "amount_off_cents": 500, "valid_days": 30}})
    assert patched.status_code == 200 and patched.json()["terms"]["amount_off_cents"] == 500
    mine = (await stack.http.get("/api/v1/mp/me/coupons?status=available", headers=bearer(counter.token))).json()
    assert [c["terms"]["amount_off_cents"] for c in mine["items"]] == [2000]
    assert await AuditLog.filter(action="coupon_template.update").count() == 1
    ended = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status", json={"status": "ended"},
                                  headers=bearer(counter.admin))
    again = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status",
                                  json={"status": "active"}, headers=bearer(counter.admin))
    assert ended.status_code == 200 and again.status_code == 409
    assert again.json()["error"]["code"] == "COUPON_TEMPLATE_STATE"


async def test_five_hundred_concurrent_claims_of_a_hundred_coupon_stock_give_exactly_a_hundred(stack):
    _, admin = await make_staff(stack, role="admin")
    template = await make_template(stack, admin, claimable=True, total_stock=100)
    tokens = await quick_members(stack, 50)
    path = f"/api/v1/mp/coupon-center/{template['id']}/claim"
    responses = await burst(stack, [("POST", path, {"headers": bearer(token)}) for token in tokens for _ in range(10)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 100 and statuses.count(409) == 400, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"COUPON_OUT_OF_STOCK"}
    assert await Coupon.filter(template_id=template["id"]).count() == 100
    assert (await CouponTemplate.get(id=template["id"])).issued_count == 100


async def test_twenty_concurrent_claims_by_one_member_with_limit_one_give_one(stack, counter):
    template = await make_template(stack, counter.admin, claimable=True, per_member_limit=1)
    responses = await asyncio.gather(*[claim(stack, counter.token, template["id"]) for _ in range(20)])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert await Coupon.filter(template_id=template["id"]).count() == 1
    assert (await CouponTemplate.get(id=template["id"])).issued_count == 1
    # The center no longer offers what the member may not claim again; others show what is held.
    other = await make_template(stack, counter.admin, claimable=True, per_member_limit=2)
    assert (await claim(stack, counter.token, other["id"])).status_code == 201
    center = (await stack.http.get("/api/v1/mp/coupon-center", headers=bearer(counter.token))).json()
    assert [(t["id"], t["held"]) for t in center["items"]] == [(other["id"], 1)]


async def test_the_daily_limit_resets_the_next_merchant_day(stack, counter):
    template = await make_template(stack, counter.admin, claimable=True, per_member_daily_limit=1)
    assert (await claim(stack, counter.token, template["id"])).status_code == 201
    assert (await claim(stack, counter.token, template["id"])).json()["error"]["code"] == "COUPON_LIMIT_REACHED"
    stack.clock.advance(days=1)  # member tokens last 15 minutes: the next day goes through the service
    async with in_transaction() as conn:
        _, created = await coupons.issue(conn, template_id=template["id"], member_id=counter.member_id,
                                         source="claim", source_ref="next-day", tz="Asia/Shanghai")
    assert created and await Coupon.filter(template_id=template["id"]).count() == 2


async def test_tiers_not_allowed_cannot_claim(stack, counter):
    template = await make_template(stack, counter.admin, claimable=True, claim_tiers=["gold", "diamond"])
    assert (await claim(stack, counter.token, template["id"])).json()["error"]["code"] == "COUPON_NOT_CLAIMABLE"
    center = (await stack.http.get("/api/v1/mp/coupon-center", headers=bearer(counter.token))).json()
    assert center["items"] == []
    await order(stack, counter, amount_cents=600000)  # gold
    assert (await claim(stack, counter.token, template["id"])).status_code == 201


async def test_the_points_mall_spends_points_and_issues_the_coupon_together_or_not_at_all(stack, counter):
    template = await make_template(stack, counter.admin, total_stock=1)
    item = (await stack.http.post("/api/v1/admin/points-mall", headers=bearer(counter.admin), json={
        "name": "20元券", "template_id": template["id"], "points_price": 500})).json()
    path = f"/api/v1/mp/points-mall/{item['id']}/exchange"
    poor = await stack.http.post(path, headers=bearer(counter.token))
    assert poor.status_code == 422 and poor.json()["error"]["code"] == "INSUFFICIENT_POINTS"
    assert await Coupon.filter(template_id=template["id"]).count() == 0
    assert (await CouponTemplate.get(id=template["id"])).issued_count == 0  # the stock came back
    await order(stack, counter, amount_cents=90000)  # 900 points
    done = await stack.http.post(path, headers=bearer(counter.token))
    assert done.status_code == 201 and done.json()["points_balance"] == 400
    sold_out = await stack.http.post(path, headers=bearer(counter.token))
    assert sold_out.status_code == 409 and sold_out.json()["error"]["code"] == "COUPON_OUT_OF_STOCK"
    assert (await assets(stack, counter))["points"]["balance"] == 400
    mall = (await stack.http.get("/api/v1/mp/points-mall", headers=bearer(counter.token))).json()
    assert [i["points_price"] for i in mall["items"]] == [500]
    await assert_ledgers_hold(counter.member_id)


async def redeem(stack, c, coupon_id, **extra):
    return await stack.http.post(f"/api/v1/store/coupons/{coupon_id}/redeem", headers=bearer(c.clerk),
                                 json={"scan_token": c.scan, **extra})


async def test_a_hundred_concurrent_redemptions_of_one_coupon_succeed_once(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "TOTE", "valid_days": 7})
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    responses = await asyncio.gather(*[redeem(stack, counter, coupon_id) for _ in range(100)])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 99
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"COUPON_ALREADY_REDEEMED"}
    assert await Redemption.filter(coupon_id=coupon_id).count() == 1
    used = (await stack.http.get("/api/v1/mp/me/coupons?status=used", headers=bearer(counter.token))).json()
    assert [c["id"] for c in used["items"]] == [coupon_id]


async def test_each_reason_a_coupon_cannot_be_redeemed_has_its_own_code(stack, counter):
    admin = counter.admin
    base = {"kind": "amount_off", "min_spend_cents": 10000, "amount_off_cents": 2000}
    plain = await make_template(stack, admin, terms={**base, "valid_days": 7})
    other_store = await make_template(stack, admin, terms={**base, "valid_days": 7, "store_ids": [999999]})
    online = await make_template(stack, admin, terms={**base, "valid_days": 7, "channels": ["online"]})
    later = stack.clock.now() + timedelta(days=2)
    future = await make_template(stack, admin, terms={**base, "valid_from": later.isoformat(),
                                                      "valid_until": (later + timedelta(days=5)).isoformat()})
    paused = await make_template(stack, admin, terms={**base, "valid_days": 7})
    ids = {name: await give(stack, admin, t["id"], counter.member_id) for name, t in
           {"plain": plain, "other_store": other_store, "online": online, "future": future, "paused": paused}.items()}
    await stack.http.post(f"/api/v1/admin/coupon-templates/{paused['id']}/status", json={"status": "paused"},
                          headers=bearer(admin))

    async def code_of(name, **extra):
        response = await redeem(stack, counter, ids[name], **extra)
        return response.status_code, response.json().get("error", {}).get("code")

    assert await code_of("plain", order_amount_cents=9999) == (422, "COUPON_MIN_SPEND_NOT_MET")
    assert await code_of("plain") == (422, "COUPON_NOT_APPLICABLE")
    assert await code_of("other_store", order_amount_cents=10000) == (422, "COUPON_WRONG_STORE")
    assert await code_of("online", order_amount_cents=10000) == (422, "COUPON_WRONG_CHANNEL")
    assert await code_of("future", order_amount_cents=10000) == (422, "COUPON_NOT_YET_VALID")
    assert await code_of("paused", order_amount_cents=10000) == (422, "COUPON_TEMPLATE_PAUSED")
    created = await redeem(stack, counter, ids["plain"], order_amount_cents=15000)
    assert created.status_code == 201 and created.json()["discount_cents"] == 2000
    assert await code_of("plain", order_amount_cents=15000) == (409, "COUPON_ALREADY_REDEEMED")
    # Another member's coupon is not found, whoever asks for it.
    other_id, _ = await member_token(stack)
    theirs = await give(stack, admin, plain["id"], other_id)
    response = await redeem(stack, counter, theirs, order_amount_cents=15000)
    assert response.status_code == 404 and response.json()["error"]["code"] == "COUPON_NOT_FOUND"
    response = await stack.http.get(f"/api/v1/mp/me/coupons/{theirs}/code", headers=bearer(counter.token))
    assert response.status_code == 404
    # The card lists what can be used here and why the rest cannot.
    card = (await stack.http.post("/api/v1/store/members/current", json={"scan_token": counter.scan},
                                  headers=bearer(counter.clerk))).json()
    reasons = {c["id"]: c.get("reason") for c in card["coupons"]["unusable"]}
    assert reasons[ids["other_store"]] == "COUPON_WRONG_STORE" and reasons[ids["online"]] == "COUPON_WRONG_CHANNEL"
    assert reasons[ids["paused"]] == "COUPON_TEMPLATE_PAUSED" and reasons[ids["future"]] == "COUPON_NOT_YET_VALID"
    assert ids["plain"] not in reasons
    # Past its window (the clerk's tokens have lapsed by then too, so straight through the service).
    stack.clock.advance(days=8)
    with pytest.raises(coupons.CouponExpired):
        await coupons.redeem_in_store(coupon_id=ids["online"], member_id=counter.member_id,
                                      store_id=counter.store_id, staff_id=1, order_amount_cents=15000)


async def test_a_coupon_code_scanned_at_the_counter_names_the_coupon_and_its_owner_once(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 7})
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    code = (await stack.http.get(f"/api/v1/mp/me/coupons/{coupon_id}/code", headers=bearer(counter.token))).json()
    scanned = await stack.http.post("/api/v1/store/scan", json={"code": code["code"]}, headers=bearer(counter.clerk))
    assert scanned.status_code == 200, scanned.text
    body = scanned.json()
    assert body["kind"] == "coupon" and body["coupon"]["id"] == coupon_id
    assert body["member"]["id"] == counter.member_id
    again = await stack.http.post("/api/v1/store/scan", json={"code": code["code"]}, headers=bearer(counter.clerk))
    assert again.status_code == 409 and again.json()["error"]["code"] == "CODE_ALREADY_USED"
    done = await stack.http.post(f"/api/v1/store/coupons/{coupon_id}/redeem", headers=bearer(counter.clerk),
                                 json={"scan_token": body["scan_token"]})
    assert done.status_code == 201


async def test_orders_apply_coupons_in_their_transaction_and_a_failed_order_leaves_them_available(stack, counter):
    template = await make_template(stack, counter.admin)
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    failed = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 15000, "coupon_ids": [coupon_id],
        "points_to_spend": 100})
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "INSUFFICIENT_POINTS"
    assert (await Coupon.get(id=coupon_id)).status == "available"
    no = unique("O")
    receipt = await order(stack, counter, order_no=no, amount_cents=15000, coupon_ids=[coupon_id])
    assert receipt["discount_cents"] == 2000 and receipt["payable_cents"] == 13000
    assert receipt["points_earned"] == 130  # earned on what was paid after the discount
    reused = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 15000, "coupon_ids": [coupon_id]})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "COUPON_ALREADY_REDEEMED"
    partial = await refund(stack, counter, no, 5000)
    assert partial["coupons_returned"] == [] and (await Coupon.get(id=coupon_id)).status == "redeemed"
    too_much = await refund(stack, counter, no, 8001, expect=422)  # 130 yuan paid: the coupon's 20 is not money
    assert too_much["error"]["details"] == {"refundable_cents": 8000}
    full = await refund(stack, counter, no, 8000)
    assert full["coupons_returned"] == [coupon_id] and (await Coupon.get(id=coupon_id)).status == "available"
    # A coupon that does not combine with the member price is refused when the POS applied it.
    strict = await make_template(stack, counter.admin, terms={
        "kind": "amount_off", "amount_off_cents": 1000, "valid_days": 7, "with_tier_discount": False})
    strict_id = await give(stack, counter.admin, strict["id"], counter.member_id)
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": counter.scan, "amount_cents": 15000, "coupon_ids": [strict_id],
        "member_price_applied": True})
    assert response.status_code == 422 and response.json()["error"]["code"] == "COUPON_NOT_COMBINABLE"
    await assert_ledgers_hold(counter.member_id)


async def test_a_counter_redemption_is_reversed_within_its_window_by_its_store_only(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 7,
                                                                "reversal_window_minutes": 15})
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    redemption = (await redeem(stack, counter, coupon_id)).json()
    path = f"/api/v1/store/redemptions/{redemption['id']}/reverse"
    _, other_clerk = await make_staff(stack)
    response = await stack.http.post(path, json={"reason": "误操作"}, headers=bearer(other_clerk))
    assert response.status_code == 404 and response.json()["error"]["code"] == "REDEMPTION_NOT_FOUND"
    response = await stack.http.post(path, json={"reason": "误操作"}, headers=bearer(counter.clerk))
    assert response.status_code == 200 and response.json()["status"] == "reversed"
    assert (await Coupon.get(id=coupon_id)).status == "available"
    twice = await stack.http.post(path, json={"reason": "误操作"}, headers=bearer(counter.clerk))
    assert twice.status_code == 422 and twice.json()["error"]["details"]["reason"] == "already_reversed"
    assert await AuditLog.filter(action="coupon.reverse").count() == 1
    history = (await stack.http.get(f"/api/v1/mp/me/coupons/{coupon_id}", headers=bearer(counter.token))).json()
    assert [h["type"] for h in history["history"]] == ["coupon_issued", "coupon_redeemed", "coupon_redemption_reversed"]
    _other_id, other_token = await member_token(stack)
    response = await stack.http.get(f"/api/v1/mp/me/coupons/{coupon_id}", headers=bearer(other_token))
    assert response.status_code == 404 and response.json()["error"]["code"] == "COUPON_NOT_FOUND"
    second = (await redeem(stack, counter, coupon_id)).json()
    stack.clock.advance(minutes=16)
    late = await stack.http.post(f"/api/v1/store/redemptions/{second['id']}/reverse", json={"reason": "晚了"},
                                 headers=bearer(counter.clerk))
    assert late.status_code == 422 and late.json()["error"]["details"]["reason"] == "window_passed"


async def test_due_coupons_expire_once(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 1})
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    assert (await coupons.expire_due_coupons()) == 0
    stack.clock.advance(days=2)
    first, second = await asyncio.gather(coupons.expire_due_coupons(), coupons.expire_due_coupons())
    assert first + second == 1
    assert (await Coupon.get(id=coupon_id)).status == "expired"


async def test_a_batch_issued_again_gives_nobody_a_second_coupon(stack, counter):
    template = await make_template(stack, counter.admin, total_stock=2)
    other_id, _ = await member_token(stack)
    third_id, _ = await member_token(stack)
    body = {"member_ids": [counter.member_id, other_id, third_id], "batch_id": "nov-vip"}
    path = f"/api/v1/admin/coupon-templates/{template['id']}/issue"
    first = (await stack.http.post(path, json=body, headers=bearer(counter.admin))).json()
    assert first["issued"] == 2 and first["failed"] == {str(third_id): "COUPON_OUT_OF_STOCK"}
    again = (await stack.http.post(path, json=body, headers=bearer(counter.admin))).json()
    assert again["issued"] == 0 and again["already_issued"] == 2
    assert await Coupon.filter(template_id=template["id"]).count() == 2


async def test_registration_and_tier_upgrades_grant_configured_coupons_and_assets_count_them(stack):
    _, admin = await make_staff(stack, role="admin")
    welcome = await make_template(stack, admin, terms={"kind": "amount_off", "amount_off_cents": 1000,
                                                       "valid_days": 5})
    gold_gift = await make_template(stack, admin, terms={"kind": "gift", "gift_sku": "GOLD", "valid_days": 30})
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    for tier in program["tiers"]:
        if tier["code"] == "gold":
            tier["gift_coupon_template_ids"] = [gold_gift["id"]]
    await set_program(stack, admin, tiers=program["tiers"], registration_coupon_template_ids=[welcome["id"]])
    body = (await register_mp(stack, unique_phone(), expect=201)).json()
    view = (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(body["token"]))).json()
    assert view["coupons"]["available_count"] == 1
    assert [c["name"] for c in view["coupons"]["expiring_soon"]] == ["满100减20"]
    _, clerk = await make_staff(stack)
    scanned = await scan_token(stack, clerk, body["token"])
    receipt = (await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": unique("O"), "scan_token": scanned, "amount_cents": 600000})).json()
    assert receipt["tier_change"]["to"] == "gold" and len(receipt["tier_change"]["gift"]["coupons"]) == 1
    assert await Coupon.filter(member_id=body["member_id"]).count() == 2


async def test_a_paused_reward_template_skips_the_coupon_but_not_the_registration(stack):
    _, admin = await make_staff(stack, role="admin")
    welcome = await make_template(stack, admin, total_stock=0)
    await set_program(stack, admin, registration_coupon_template_ids=[welcome["id"]], registration_points=10)
    body = (await register_mp(stack, unique_phone(), expect=201)).json()
    view = (await stack.http.get("/api/v1/mp/me/assets", headers=bearer(body["token"]))).json()
    assert view["coupons"]["available_count"] == 0 and view["points"]["balance"] == 10


async def test_a_merge_moves_coupons(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 7})
    other_id, _ = await member_token(stack)
    coupon_id = await give(stack, counter.admin, template["id"], other_id)
    response = await stack.http.post(f"/api/v1/admin/members/{counter.member_id}/merge", json={"other_id": other_id},
                                     headers=bearer(counter.admin))
    assert response.json()["moved"]["coupons"] == 1
    assert (await Coupon.get(id=coupon_id)).member_id == counter.member_id


async def test_a_retried_redemption_with_its_key_gets_the_first_answer_not_a_conflict(stack, counter):
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 7})
    coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
    path = f"/api/v1/store/coupons/{coupon_id}/redeem"
    headers = {**bearer(counter.clerk), "Idempotency-Key": "redeem-once-1"}
    first = await stack.http.post(path, json={"scan_token": counter.scan}, headers=headers)
    again = await stack.http.post(path, json={"scan_token": counter.scan}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other_key = await stack.http.post(path, json={"scan_token": counter.scan},
                                      headers={**bearer(counter.clerk), "Idempotency-Key": "redeem-once-2"})
    assert other_key.status_code == 409
