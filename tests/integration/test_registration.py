"""Registration from the mini-program, the counter and the online mall: one member per phone."""

import asyncio
import json

import pytest

from backend.members.models import ConsentRecord, Member, MemberEvent, MemberIdentity
from backend.stores.models import AuditLog
from tests.factories import (
    bearer,
    counter_register,
    make_app_key,
    make_staff,
    register_mp,
    signed_headers,
    unique_phone,
    wechat_login,
)


async def test_mini_program_registration_creates_a_member_with_the_phone_encrypted(stack):
    response = await register_mp(stack, "13800138000", nickname="小林", gender="female", birthday="1992-05-20",
                                 consents={"sms_marketing": True, "email_marketing": False},
                                 consent_text_version="2026-01", expect=201)
    body = response.json()
    assert body["registered"] is True and body["created"] is True
    assert body["member"]["phone"] == "138****8000"
    assert "13800138000" not in response.text
    member = await Member.get(id=body["member_id"])
    assert member.registration_channel == "miniprogram"
    assert "13800138000" not in member.phone_enc and stack.pii.decrypt(member.phone_enc) == "13800138000"
    kinds = sorted(i.kind for i in await MemberIdentity.filter(member_id=member.id))
    assert kinds == ["card", "openid", "phone"]
    me = await stack.http.get("/api/v1/mp/me", headers=bearer(body["token"]))
    assert me.json()["nickname"] == "小林" and me.json()["birthday"] == "1992-05-20"
    types = [e.type for e in await MemberEvent.filter(member_id=member.id).order_by("id")]
    assert types == ["registered", "wechat_bound", "consent_changed", "registration_rewarded"]


async def test_registration_with_the_legacy_encrypted_phone(stack):
    stack.wechat.add_code("legacy", openid="o-legacy", session_key="bGVnYWN5LXNlc3Npb24tay==")
    token = (await stack.http.post("/api/v1/mp/session", json={"code": "legacy"})).json()["token"]
    encrypted, iv = stack.wechat.encrypt_phone(session_key="bGVnYWN5LXNlc3Npb24tay==", phone="13900139000")
    response = await stack.http.post("/api/v1/mp/register", json={"encrypted_data": encrypted, "iv": iv},
                                     headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.json()["member"]["phone"] == "139****9000"


@pytest.mark.parametrize("case", ["other_appid", "garbage"])
async def test_legacy_data_that_does_not_decrypt_or_names_another_app_is_refused(stack, case):
    stack.wechat.add_code("legacy2", openid="o-legacy2", session_key="bGVnYWN5LXNlc3Npb24tay==")
    token = (await stack.http.post("/api/v1/mp/session", json={"code": "legacy2"})).json()["token"]
    if case == "other_appid":
        encrypted, iv = stack.wechat.encrypt_phone(session_key="bGVnYWN5LXNlc3Npb24tay==", phone="13900139000",
                                                   app_id="wxsomeoneelse0001")
    else:
        encrypted, iv = "bm90IHJlYWxseSBlbmNyeXB0ZWQ=", "AAAAAAAAAAAAAAAAAAAAAA=="
    response = await stack.http.post("/api/v1/mp/register", json={"encrypted_data": encrypted, "iv": iv},
                                     headers=bearer(token))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "WECHAT_DECRYPT_FAILED"
    assert await Member.all().count() == 0


async def test_a_phone_code_used_twice_is_refused(stack):
    token = (await wechat_login(stack))["token"]
    stack.wechat.add_phone_code("pc-once", "13800138000")
    stack.wechat.add_phone_code("pc-once-b", "13800138000")
    first = await stack.http.post("/api/v1/mp/register", json={"phone_code": "pc-once"}, headers=bearer(token))
    other = (await wechat_login(stack))["token"]
    again = await stack.http.post("/api/v1/mp/register", json={"phone_code": "pc-once"}, headers=bearer(other))
    assert first.status_code == 201
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "WECHAT_PHONE_CODE_INVALID"


async def test_registering_twice_with_a_member_token_is_409(stack):
    body = (await register_mp(stack, "13800138000", expect=201)).json()
    again = await register_mp(stack, "13800138000", token=body["token"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ALREADY_REGISTERED"


async def test_a_register_body_needs_exactly_one_phone_source(stack):
    token = (await wechat_login(stack))["token"]
    response = await stack.http.post("/api/v1/mp/register", json={"nickname": "x"}, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"


async def test_a_counter_member_who_opens_the_mini_program_is_the_same_member_rewarded_once(stack):
    _, clerk = await make_staff(stack, role="clerk")
    counter = await counter_register(stack, clerk, "13800138000", name="小林",
                                     consents={"sms_marketing": True})
    assert counter.status_code == 201
    member_id = counter.json()["member"]["id"]
    joined = await register_mp(stack, "13800138000", nickname="林林", birthday="1990-01-01", expect=200)
    body = joined.json()
    assert body["created"] is False and body["member_id"] == member_id
    member = await Member.get(id=member_id)
    assert member.registration_channel == "pos"
    assert member.nickname == "小林" and member.birthday.isoformat() == "1990-01-01"  # kept; filled only if empty
    assert await Member.all().count() == 1
    assert await MemberEvent.filter(type="registration_rewarded").count() == 1


async def test_a_phone_bound_to_another_wechat_user_is_409_and_nothing_changes(stack):
    await register_mp(stack, "13800138000", unionid="union-A", expect=201)
    identities_before = await MemberIdentity.all().count()
    response = await register_mp(stack, "13800138000", unionid="union-B")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PHONE_BOUND_ELSEWHERE"
    assert await MemberIdentity.all().count() == identities_before
    assert await Member.all().count() == 1


async def test_a_malformed_phone_at_the_counter_is_a_400_naming_the_field(stack):
    _, clerk = await make_staff(stack, role="clerk")
    response = await counter_register(stack, clerk, "12345")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"phone": "手机号格式不正确，请输入 11 位中国大陆手机号"}


async def test_twenty_concurrent_counter_registrations_of_one_phone_make_one_member_one_reward(stack):
    _, clerk = await make_staff(stack, role="clerk")
    responses = await asyncio.gather(*[counter_register(stack, clerk, "13800138000") for _ in range(20)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["member"]["id"] for r in responses}) == 1
    assert await Member.all().count() == 1
    assert await MemberEvent.filter(type="registration_rewarded").count() == 1
    assert await MemberIdentity.filter(kind="phone").count() == 1


async def test_twenty_wechat_users_racing_for_one_phone_yield_one_member(stack):
    tokens = [(await wechat_login(stack))["token"] for _ in range(20)]
    responses = await asyncio.gather(*[register_mp(stack, "13800138000", token=t) for t in tokens])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"PHONE_BOUND_ELSEWHERE"}
    assert await Member.all().count() == 1
    assert await MemberIdentity.filter(kind="openid").count() == 1
    assert await MemberEvent.filter(type="registration_rewarded").count() == 1


async def test_counter_registration_is_idempotent_per_key(stack):
    _, clerk = await make_staff(stack, role="clerk")
    headers = {**bearer(clerk), "Idempotency-Key": "walk-in-1"}
    first = await stack.http.post("/api/v1/store/members", json={"phone": "13800138000"}, headers=headers)
    again = await stack.http.post("/api/v1/store/members", json={"phone": "13800138000"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_consents_are_recorded_with_channel_of_capture_and_text_version(stack):
    _, clerk = await make_staff(stack, role="clerk")
    await counter_register(stack, clerk, "13800138000", consents={"sms_marketing": True, "email_marketing": False},
                           consent_text_version="2026-01")
    records = await ConsentRecord.all().order_by("channel")
    assert [(r.channel, r.purpose, r.granted, r.source, r.text_version) for r in records] == [
        ("email", "marketing", False, "pos", "2026-01"), ("sms", "marketing", True, "pos", "2026-01")]


async def test_a_referral_is_recorded_once_and_shown_to_the_referrer(stack):
    referrer = (await register_mp(stack, "13800138000", expect=201)).json()
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer["token"]))).json()["referral_code"]
    invitee = (await register_mp(stack, "13900139000", referrer_code=code.lower(), expect=201)).json()
    assert (await Member.get(id=invitee["member_id"])).referrer_id == referrer["member_id"]
    view = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer["token"]))).json()
    assert view["invited_count"] == 1
    bad = await register_mp(stack, "13700137000", referrer_code="NOSUCH99")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "REFERRAL_CODE_INVALID"


async def test_an_existing_member_joining_is_not_recorded_as_referred(stack):
    referrer = (await register_mp(stack, "13800138000", expect=201)).json()
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer["token"]))).json()["referral_code"]
    _, clerk = await make_staff(stack, role="clerk")
    existing = (await counter_register(stack, clerk, "13900139000")).json()["member"]["id"]
    await register_mp(stack, "13900139000", referrer_code=code, expect=200)
    assert (await Member.get(id=existing)).referrer_id is None


async def test_the_online_mall_pushes_members_through_the_same_rule(stack):
    key_id, secret = await make_app_key(stack)
    path = "/api/v1/integrations/members"
    raw = json.dumps({"phone": "13800138000", "nickname": "网购用户", "email": "a@example.com"}).encode()
    first = await stack.http.post(path, content=raw, headers=signed_headers(key_id, secret, "POST", path, raw))
    assert first.status_code == 201
    joined = await register_mp(stack, "13800138000", expect=200)
    assert joined.json()["member_id"] == first.json()["member"]["id"]
    assert (await Member.get(id=joined.json()["member_id"])).registration_channel == "online"
    audit_row = await AuditLog.get(action="member.register")
    assert audit_row.actor_type == "app" and audit_row.actor_id == key_id


@pytest.mark.parametrize(("field", "expected"), [("phone", "13800138000"), ("unionid", "u-lookup"),
                                                  ("member_no", None)])
async def test_integrations_look_members_up_by_phone_unionid_or_card(stack, field, expected):
    body = (await register_mp(stack, "13800138000", unionid="u-lookup", expect=201)).json()
    member = await Member.get(id=body["member_id"])
    key_id, secret = await make_app_key(stack)
    path = "/api/v1/integrations/members/lookup"
    raw = json.dumps({field: expected or member.member_no}).encode()
    response = await stack.http.post(path, content=raw, headers=signed_headers(key_id, secret, "POST", path, raw))
    assert response.status_code == 200
    assert response.json()["member"]["id"] == member.id
    assert response.json()["member"]["phone"] == "138****8000"


async def test_required_custom_fields_are_enforced_at_registration(stack):
    _, admin = await make_staff(stack, role="admin")
    created = await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin), json={
        "key": "shoe_size", "label": "鞋码", "type": "number", "required": True})
    assert created.status_code == 201
    missing = await register_mp(stack, "13800138000")
    assert missing.status_code == 400
    assert missing.json()["error"]["details"]["fields"] == {"custom_fields.shoe_size": "必填"}
    ok = await register_mp(stack, unique_phone(), custom_fields={"shoe_size": 38}, expect=201)
    assert ok.json()["member"]["custom_fields"] == {"shoe_size": 38}



async def test_counter_registration_opens_a_new_members_card_but_never_an_existing_one(stack):
    _, clerk = await make_staff(stack, role="clerk")
    created = await counter_register(stack, clerk, "13700137001", name="新客")
    assert created.status_code == 201 and created.json()["scan_token"]
    card = await stack.http.post("/api/v1/store/members/current", json={"scan_token": created.json()["scan_token"]},
                                 headers=bearer(clerk))
    assert card.status_code == 200 and card.json()["member"]["nickname"] == "新客"
    again = await counter_register(stack, clerk, "13700137001")
    assert again.status_code == 200
    assert again.json() == {"created": False, "member": {"id": created.json()["member"]["id"],
                                                         "member_no": created.json()["member"]["member_no"],
                                                         "phone": "137****7001"}}
