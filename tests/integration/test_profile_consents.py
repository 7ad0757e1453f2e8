"""Profile edits, custom fields and consents from the member's side and the console's."""

import pytest

from backend.members.models import ConsentRecord
from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff, register_mp


async def _member(stack, **fields):
    return (await register_mp(stack, "13800138000", expect=201, **fields)).json()


async def test_a_member_edits_nickname_email_and_custom_fields(stack):
    _, admin = await make_staff(stack, role="admin")
    await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin), json={
        "key": "style", "label": "风格", "type": "choice", "choices": ["简约", "复古"]})
    me = await _member(stack)
    response = await stack.http.patch("/api/v1/mp/me", headers=bearer(me["token"]), json={
        "nickname": "新昵称", "email": "lin@example.com", "custom_fields": {"style": "复古"}})
    assert response.status_code == 200
    assert response.json()["nickname"] == "新昵称"
    assert response.json()["email"] == "lin@example.com"
    assert response.json()["custom_fields"] == {"style": "复古"}


@pytest.mark.parametrize(("definition", "value", "message"), [
    ({"type": "number"}, "forty", "应为数字"),
    ({"type": "choice", "choices": ["A", "B"]}, "C", "应为以下之一：A、B"),
    ({"type": "date"}, "2026-13-01", "日期格式应为 YYYY-MM-DD"),
    ({"type": "text", "max_length": 3}, "abcd", "最长 3 个字符"),
])
async def test_custom_field_values_are_validated_against_their_definition(stack, definition, value, message):
    _, admin = await make_staff(stack, role="admin")
    await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin),
                          json={"key": "f1", "label": "字段", **definition})
    me = await _member(stack)
    response = await stack.http.patch("/api/v1/mp/me", headers=bearer(me["token"]),
                                      json={"custom_fields": {"f1": value}})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"custom_fields.f1": message}


async def test_an_undefined_custom_field_is_refused(stack):
    me = await _member(stack)
    response = await stack.http.patch("/api/v1/mp/me", headers=bearer(me["token"]),
                                      json={"custom_fields": {"nope": 1}})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"custom_fields.nope": "未定义的自定义字段"}


async def test_a_set_birthday_can_only_be_changed_by_staff_and_that_is_audited(stack):
    me = await _member(stack)
    first = await stack.http.patch("/api/v1/mp/me", headers=bearer(me["token"]), json={"birthday": "1992-05-20"})
    assert first.status_code == 200
    again = await stack.http.patch("/api/v1/mp/me", headers=bearer(me["token"]), json={"birthday": "1992-05-21"})
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "BIRTHDAY_LOCKED"
    _, admin = await make_staff(stack, role="admin")
    staff_edit = await stack.http.patch(f"/api/v1/admin/members/{me['member_id']}", headers=bearer(admin),
                                        json={"birthday": "1992-05-21"})
    assert staff_edit.status_code == 200 and staff_edit.json()["birthday"] == "1992-05-21"
    row = await AuditLog.filter(action="member.profile_update", actor_type="staff").get()
    assert row.before == {"birthday": "1992-05-20"} and row.after == {"birthday": "1992-05-21"}


async def test_a_marketer_cannot_edit_members(stack):
    me = await _member(stack)
    _, marketer = await make_staff(stack, role="marketer")
    response = await stack.http.patch(f"/api/v1/admin/members/{me['member_id']}", headers=bearer(marketer),
                                      json={"nickname": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_an_email_belongs_to_one_member(stack):
    first = await _member(stack)
    await stack.http.patch("/api/v1/mp/me", headers=bearer(first["token"]), json={"email": "same@example.com"})
    second = (await register_mp(stack, "13900139000", expect=201)).json()
    response = await stack.http.patch("/api/v1/mp/me", headers=bearer(second["token"]),
                                      json={"email": "SAME@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "EMAIL_BOUND_ELSEWHERE"


async def test_consents_are_shown_per_channel_and_purpose_and_withdrawal_is_kept_in_history(stack):
    me = await _member(stack, consents={"sms_marketing": True}, consent_text_version="2026-01")
    view = (await stack.http.get("/api/v1/mp/me/consents", headers=bearer(me["token"]))).json()["items"]
    sms = next(c for c in view if c["channel"] == "sms" and c["purpose"] == "marketing")
    assert sms["granted"] is True and sms["source"] == "miniprogram" and sms["text_version"] == "2026-01"
    email_service = next(c for c in view if c["channel"] == "email" and c["purpose"] == "service")
    assert email_service["granted"] is True and email_service["source"] == "default"
    withdrawn = await stack.http.put("/api/v1/mp/me/consents", headers=bearer(me["token"]),
                                     json={"consents": {"sms_marketing": False}, "text_version": "2026-02"})
    assert withdrawn.json()["changed"] == [{"channel": "sms", "purpose": "marketing", "granted": False}]
    history = await ConsentRecord.filter(member_id=me["member_id"], channel="sms").order_by("id")
    assert [(r.granted, r.text_version) for r in history] == [(True, "2026-01"), (False, "2026-02")]
    # Saying the same again records nothing new.
    await stack.http.put("/api/v1/mp/me/consents", headers=bearer(me["token"]),
                         json={"consents": {"sms_marketing": False}})
    assert await ConsentRecord.filter(member_id=me["member_id"], channel="sms").count() == 2


async def test_an_unknown_consent_name_is_a_400(stack):
    me = await _member(stack)
    response = await stack.http.put("/api/v1/mp/me/consents", headers=bearer(me["token"]),
                                    json={"consents": {"fax_marketing": True}})
    assert response.status_code == 400
