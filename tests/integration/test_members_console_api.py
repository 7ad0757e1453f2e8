"""The console's member API additions: search by tag with the list's columns, the audited phone reveal,
a member's coupons and consent history."""

from __future__ import annotations

from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff, member_token, unique, unique_phone


async def _tag(stack, token, member_id):
    response = await stack.http.post("/api/v1/admin/tags", json={"name": unique("标签"), "code": unique("t")},
                                     headers=bearer(token))
    assert response.status_code == 201, response.text
    tag = response.json()
    response = await stack.http.post(f"/api/v1/admin/tags/{tag['id']}/members", json={"member_ids": [member_id]},
                                     headers=bearer(token))
    assert response.status_code == 200, response.text
    return tag


async def test_search_by_phone_or_tag_answers_the_list_columns(stack):
    _, marketer = await make_staff(stack, role="marketer")
    phone = unique_phone()
    member_id, _ = await member_token(stack, phone, nickname="小周")
    other_id, _ = await member_token(stack)
    tag = await _tag(stack, marketer, member_id)

    by_tag = await stack.http.get("/api/v1/admin/members", params={"tag_id": tag["id"]}, headers=bearer(marketer))
    assert by_tag.status_code == 200, by_tag.text
    items = by_tag.json()["items"]
    assert [m["id"] for m in items] == [member_id]
    row = items[0]
    assert row["points_balance"] == 0 and row["balance_cents"] == 0 and row["last_order_at"] is None
    assert row["tier"] and row["tier_name"]
    assert "phone_full" not in row and "****" in row["phone"]

    by_phone = await stack.http.get("/api/v1/admin/members", params={"phone": phone}, headers=bearer(marketer))
    assert [m["id"] for m in by_phone.json()["items"]] == [member_id]
    # Phone and tag combine: the other member carries no tag.
    none = await stack.http.get("/api/v1/admin/members", params={"tag_id": tag["id"], "member_no": "nope"},
                                headers=bearer(marketer))
    assert none.json()["items"] == []
    assert other_id != member_id
    bad = await stack.http.get("/api/v1/admin/members", params={"tag_id": "x"}, headers=bearer(marketer))
    assert bad.status_code == 400 and "tag_id" in bad.json()["error"]["details"]["fields"]


async def test_an_admin_reveals_a_phone_with_an_audit_row_and_a_marketer_may_not(stack):
    admin, admin_token = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    phone = unique_phone()
    member_id, _ = await member_token(stack, phone)

    refused = await stack.http.post(f"/api/v1/admin/members/{member_id}/phone/reveal", headers=bearer(marketer))
    assert refused.status_code == 403
    assert not await AuditLog.exists(action="member.phone_reveal", member_id=member_id)

    revealed = await stack.http.post(f"/api/v1/admin/members/{member_id}/phone/reveal", headers=bearer(admin_token))
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == {"member_id": member_id, "phone": phone}
    row = await AuditLog.get(action="member.phone_reveal", member_id=member_id)
    assert row.actor_type == "staff" and row.actor_id == str(admin.id)

    profile = await stack.http.get(f"/api/v1/admin/members/{member_id}", headers=bearer(admin_token))
    assert "phone_full" not in profile.json() and phone not in profile.text

    missing = await stack.http.post("/api/v1/admin/members/999999999/phone/reveal", headers=bearer(admin_token))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "MEMBER_NOT_FOUND"
    anonymous = await stack.http.post(f"/api/v1/admin/members/{member_id}/phone/reveal")
    assert anonymous.status_code == 401


async def test_a_members_coupons_and_consent_history(stack):
    _, admin = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    member_id, token = await member_token(stack)
    template = (await stack.http.post("/api/v1/admin/coupon-templates", headers=bearer(admin), json={
        "name": "满减券", "terms": {"kind": "amount_off", "min_spend_cents": 0, "amount_off_cents": 500,
                                 "valid_days": 30}})).json()
    await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status", json={"status": "active"},
                          headers=bearer(admin))
    issued = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/issue", headers=bearer(admin),
                                   json={"member_ids": [member_id], "batch_id": unique("b")})
    assert issued.status_code == 200, issued.text

    coupons = await stack.http.get(f"/api/v1/admin/members/{member_id}/coupons", headers=bearer(marketer))
    assert coupons.status_code == 200, coupons.text
    assert [c["name"] for c in coupons.json()["items"]] == ["满减券"]
    used = await stack.http.get(f"/api/v1/admin/members/{member_id}/coupons", params={"status": "used"},
                                headers=bearer(marketer))
    assert used.json()["items"] == []
    wrong = await stack.http.get(f"/api/v1/admin/members/{member_id}/coupons", params={"status": "lost"},
                                 headers=bearer(marketer))
    assert wrong.status_code == 400

    changed = await stack.http.put("/api/v1/mp/me/consents", headers=bearer(token),
                                   json={"consents": {"sms_marketing": True}, "text_version": "v1"})
    assert changed.status_code in (200, 204), changed.text
    await stack.http.put("/api/v1/mp/me/consents", headers=bearer(token),
                         json={"consents": {"sms_marketing": False}, "text_version": "v1"})
    history = await stack.http.get(f"/api/v1/admin/members/{member_id}/consents/history", headers=bearer(marketer))
    assert history.status_code == 200, history.text
    sms = [(e["granted"]) for e in history.json()["items"] if e["channel"] == "sms" and e["purpose"] == "marketing"]
    assert sms[:2] == [False, True]  # newest first

    for path in ("coupons", "consents/history"):
        missing = await stack.http.get(f"/api/v1/admin/members/999999999/{path}", headers=bearer(marketer))
        assert missing.status_code == 404
