"""Strict input on the shopper and counter routes: ids within their columns, amounts that are JSON numbers,
sale times within a sane window, codes and phones in ASCII digits; and the shopper's answers typed."""

from datetime import UTC, datetime

from backend.coupons.models import Coupon
from backend.http.read_models import MemberAssets
from backend.loyalty.models import Order, Topup, WalletEntry
from backend.members.models import Member
from tests.factories import bearer, counter_register, make_staff, register_mp, unique, unique_phone

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _fields(response):
    assert response.status_code == 400, response.text
    body = response.json()["error"]
    assert body["code"] == "VALIDATION_FAILED"
    return body["details"]["fields"]


async def test_a_coupon_id_outside_the_id_range_in_the_path_is_not_found(stack, counter):
    for coupon_id in ("-834672986129173552562176", "9223372036854775808", "0", "²"):
        response = await stack.http.get(f"/api/v1/mp/me/coupons/{coupon_id}/code", headers=bearer(counter.token))
        assert response.status_code == 404, (coupon_id, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_coupon_ids_beyond_64_bits_or_below_one_in_an_order_body_are_refused(stack, counter):
    for path in ("/api/v1/store/orders/quote", "/api/v1/store/orders"):
        for bad in (100000000000000000000, 2**63, 0, -1):
            response = await stack.http.post(path, headers=bearer(counter.clerk), json={
                "order_no": unique("ORD"), "amount_cents": 10000, "scan_token": counter.scan, "coupon_ids": [bad]})
            assert "coupon_ids.0" in _fields(response), (path, bad)
    assert await Order.all().count() == 0


async def test_amounts_must_be_json_numbers_not_booleans_or_strings(stack, counter):
    given = [
        ("/api/v1/store/orders", {"order_no": unique("ORD"), "scan_token": counter.scan}, "amount_cents"),
        ("/api/v1/store/orders/quote", {"order_no": unique("ORD"), "scan_token": counter.scan}, "amount_cents"),
        ("/api/v1/store/wallet/topups", {"scan_token": counter.scan, "payment_ref": unique("PAY")}, "amount_cents"),
    ]
    for path, body, name in given:
        for bad in (True, "100", 100.5):
            response = await stack.http.post(path, json={**body, name: bad}, headers=bearer(counter.clerk))
            assert name in _fields(response), (path, bad)
    assert await Order.all().count() == 0
    assert await Topup.all().count() == 0
    assert await WalletEntry.filter(member_id=counter.member_id).count() == 0


async def test_refund_and_redeem_amounts_must_be_json_numbers(stack, counter):
    placed = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": "ORD-STRICT-1", "amount_cents": 10000, "scan_token": counter.scan})
    assert placed.status_code == 201, placed.text
    for bad in (True, "5000"):
        refund = await stack.http.post("/api/v1/store/orders/ORD-STRICT-1/refund", headers=bearer(counter.clerk),
                                       json={"amount_cents": bad, "reason": "顾客退货"})
        assert "amount_cents" in _fields(refund)
        redeem = await stack.http.post("/api/v1/store/coupons/1/redeem", headers=bearer(counter.clerk),
                                       json={"scan_token": counter.scan, "order_amount_cents": bad})
        assert "order_amount_cents" in _fields(redeem)
    order = await Order.get(order_no="ORD-STRICT-1")
    assert (order.refunded_cents, order.status) == (0, "placed")


async def test_a_sale_time_before_2000_after_now_or_without_an_offset_is_refused(stack, counter):
    for placed_at in ("0001-01-01T00:00:00+00:00", "1999-12-31T23:59:59+00:00", "9999-12-31T23:59:59+00:00",
                      "2026-03-02T02:10:00+00:00", "2026-03-01T10:00:00"):
        response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
            "order_no": unique("ORD"), "amount_cents": 10000, "scan_token": counter.scan, "placed_at": placed_at})
        assert "placed_at" in _fields(response), placed_at
    assert await Order.all().count() == 0


async def test_a_sale_time_in_the_past_with_an_offset_is_kept(stack, counter):
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": "ORD-PAST-1", "amount_cents": 10000, "scan_token": counter.scan,
        "placed_at": "2026-03-01T09:30:00+08:00"})
    assert response.status_code == 201, response.text
    order = await Order.get(order_no="ORD-PAST-1")
    assert order.placed_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


async def test_a_scanned_code_in_non_ascii_digits_gets_the_generic_answer_and_the_real_code_still_works(stack,
                                                                                                        counter):
    stack.clock.advance(30)  # the fixture's scan used this step's code
    code = (await stack.http.get("/api/v1/mp/me/code", headers=bearer(counter.token))).json()["code"]
    spelled = code.translate(ARABIC_INDIC)
    for scanned in ("²", "8" + "²" * 12, code[:5] + "²" + code[6:], spelled):
        response = await stack.http.post("/api/v1/store/scan", json={"code": scanned}, headers=bearer(counter.clerk))
        assert response.status_code == 422, (scanned, response.text)
        assert response.json()["error"]["code"] == "CODE_INVALID"
    real = await stack.http.post("/api/v1/store/scan", json={"code": code}, headers=bearer(counter.clerk))
    assert real.status_code == 200, real.text
    assert real.json()["member"]["id"] == counter.member_id


async def test_a_phone_in_non_ascii_digits_registers_nobody_at_the_counter(stack):
    _, clerk = await make_staff(stack)
    response = await counter_register(stack, clerk, "13" + "800138000".translate(ARABIC_INDIC))
    assert "phone" in _fields(response)
    assert await Member.all().count() == 0


async def test_a_registration_store_id_beyond_the_store_column_or_an_ancient_birthday_is_refused(stack):
    for extra, name in (({"store_id": 2**31}, "store_id"), ({"store_id": 0}, "store_id"),
                        ({"birthday": "0001-01-01"}, "birthday")):
        response = await register_mp(stack, unique_phone(), **extra)
        assert name in _fields(response), extra
    _, clerk = await make_staff(stack)
    response = await counter_register(stack, clerk, unique_phone(), birthday="1899-12-31")
    assert "birthday" in _fields(response)
    assert await Member.all().count() == 0


async def test_my_coupons_status_filter_is_a_declared_choice(stack, counter):
    response = await stack.http.get("/api/v1/mp/me/coupons?status=lost", headers=bearer(counter.token))
    assert "status" in _fields(response)
    listed = await stack.http.get("/api/v1/mp/me/coupons?status=used&limit=5", headers=bearer(counter.token))
    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
    assert await Coupon.all().count() == 0


async def test_the_asset_view_is_documented_with_its_typed_answer_and_answers_it(stack, counter):
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    operation = document["paths"]["/api/v1/mp/me/assets"]["get"]
    assert operation["operationId"] == "getMyAssets"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MemberAssets"}
    schema = document["components"]["schemas"]["MemberAssets"]
    assert set(schema["required"]) == {"points", "balance_cents", "balance_held_cents", "balance_available_cents",
                                       "principal_cents", "bonus_cents", "tier", "coupons"}
    response = await stack.http.get("/api/v1/mp/me/assets", headers=bearer(counter.token))
    assert response.status_code == 200
    view = MemberAssets.model_validate(response.json())
    assert (view.points.balance, view.balance_cents, view.coupons.available_count) == (0, 0, 0)


async def test_the_shopper_and_counter_operations_have_names_a_generated_client_reads(stack):
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    ids = {(method, path): op["operationId"] for path, item in document["paths"].items()
           for method, op in item.items()}
    expected = {
        ("get", "/api/v1/mp/me"): "getMyProfile", ("patch", "/api/v1/mp/me"): "updateMyProfile",
        ("get", "/api/v1/mp/me/assets"): "getMyAssets", ("get", "/api/v1/mp/me/coupons"): "listMyCoupons",
        ("get", "/api/v1/mp/me/coupons/{coupon_id}/code"): "getMyCouponCode",
        ("get", "/api/v1/mp/me/code"): "getMyMemberCode",
        ("get", "/api/v1/mp/me/points/ledger"): "listMyPointsLedger", ("get", "/api/v1/mp/me/orders"): "listMyOrders",
        ("post", "/api/v1/mp/coupon-center/{template_id}/claim"): "claimCoupon",
        ("post", "/api/v1/mp/points-mall/{item_id}/exchange"): "exchangePointsMallItem",
        ("post", "/api/v1/store/scan"): "scanCode", ("post", "/api/v1/store/coupons/{coupon_id}/redeem"): "redeemCoupon",
        ("post", "/api/v1/store/orders"): "placeStoreOrder", ("post", "/api/v1/store/orders/quote"): "quoteStoreOrder",
        ("post", "/api/v1/store/orders/{order_no}/refund"): "refundStoreOrder",
        ("post", "/api/v1/store/wallet/topups"): "topUpWallet", ("post", "/api/v1/store/members"): "registerAtCounter",
        ("post", "/api/v1/mp/session"): "createShopperSession", ("post", "/api/v1/staff/session"): "createStaffSession",
    }
    assert {key: ids.get(key) for key in expected} == expected
    placed = document["paths"]["/api/v1/store/orders"]["post"]["responses"]
    assert placed["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderReceipt"}
    assert placed["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderReceipt"}
