"""Admin merge of two members, and the member's PIPL export and deletion."""

from backend.members.models import ConsentRecord, Member, MemberEvent, MemberIdentity, MemberMerge
from backend.stores.models import AuditLog
from tests.factories import bearer, counter_register, make_staff, register_mp


async def test_merging_moves_identities_consents_and_history_and_is_audited(stack):
    _, clerk = await make_staff(stack, role="clerk")
    _, admin = await make_staff(stack, role="admin")
    counter = (await counter_register(stack, clerk, "13900139000", name="柜台林",
                                      consents={"email_marketing": True})).json()["member"]["id"]
    online = (await register_mp(stack, "13800138000", expect=201)).json()
    response = await stack.http.post(f"/api/v1/admin/members/{counter}/merge", headers=bearer(admin),
                                     json={"other_id": online["member_id"]})
    assert response.status_code == 200, response.text
    assert set(i.member_id for i in await MemberIdentity.all()) == {counter}
    merged = await Member.get(id=online["member_id"])
    assert merged.status == "merged" and merged.merged_into_id == counter
    assert await MemberEvent.filter(member_id=online["member_id"]).count() == 0
    assert await MemberEvent.filter(member_id=counter, type="member_merged").count() == 1
    assert await ConsentRecord.filter(member_id=online["member_id"]).count() == 0
    assert await MemberMerge.filter(survivor_id=counter, merged_id=online["member_id"]).count() == 1
    assert await AuditLog.filter(action="member.merge", target_id=str(online["member_id"])).count() == 1
    # The merged member's token no longer works; logging in with that WeChat account reaches the survivor.
    assert (await stack.http.get("/api/v1/mp/me", headers=bearer(online["token"]))).status_code == 401
    lookup = await stack.http.get("/api/v1/admin/members", params={"phone": "13800138000"}, headers=bearer(admin))
    assert [m["id"] for m in lookup.json()["items"]] == [counter]


async def test_a_merge_cannot_be_repeated_or_target_itself_and_needs_an_admin(stack):
    _, admin = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    a = (await register_mp(stack, "13800138000", expect=201)).json()["member_id"]
    b = (await register_mp(stack, "13900139000", expect=201)).json()["member_id"]
    assert (await stack.http.post(f"/api/v1/admin/members/{a}/merge", headers=bearer(marketer),
                                  json={"other_id": b})).status_code == 403
    itself = await stack.http.post(f"/api/v1/admin/members/{a}/merge", headers=bearer(admin), json={"other_id": a})
    assert itself.status_code == 422 and itself.json()["error"]["code"] == "MERGE_NOT_ALLOWED"
    assert (await stack.http.post(f"/api/v1/admin/members/{a}/merge", headers=bearer(admin),
                                  json={"other_id": b})).status_code == 200
    again = await stack.http.post(f"/api/v1/admin/members/{a}/merge", headers=bearer(admin), json={"other_id": b})
    assert again.status_code == 422
    missing = await stack.http.post(f"/api/v1/admin/members/{a}/merge", headers=bearer(admin),
                                    json={"other_id": 999999})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "MEMBER_NOT_FOUND"


async def test_a_merge_never_leaves_a_member_referring_itself(stack):
    _, admin = await make_staff(stack, role="admin")
    referrer = (await register_mp(stack, "13800138000", expect=201)).json()
    code = (await stack.http.get("/api/v1/mp/me/referral", headers=bearer(referrer["token"]))).json()["referral_code"]
    invitee = (await register_mp(stack, "13900139000", referrer_code=code, expect=201)).json()
    await stack.http.post(f"/api/v1/admin/members/{invitee['member_id']}/merge", headers=bearer(admin),
                          json={"other_id": referrer["member_id"]})
    assert (await Member.get(id=invitee["member_id"])).referrer_id is None


async def test_the_export_holds_everything_including_the_full_phone(stack):
    me = (await register_mp(stack, "13800138000", nickname="小林", consents={"sms_marketing": True},
                            expect=201)).json()
    export = await stack.http.get("/api/v1/mp/me/export", headers=bearer(me["token"]))
    assert export.status_code == 200
    data = export.json()
    assert data["profile"]["phone"] == "13800138000" and data["profile"]["nickname"] == "小林"
    assert {i["kind"] for i in data["identities"]} == {"phone", "card", "openid"}
    assert data["consent_history"][0]["channel"] == "sms"
    assert next(e["type"] for e in data["events"]) == "registered"
    assert len(data["wechat_accounts"]) == 1 and "session_key" not in export.text


async def test_deleting_the_account_erases_personal_data_and_releases_the_phone(stack):
    me = (await register_mp(stack, "13800138000", nickname="小林", birthday="1990-01-01", expect=201)).json()
    response = await stack.http.delete("/api/v1/mp/me", headers=bearer(me["token"]))
    assert response.status_code == 200
    member = await Member.get(id=me["member_id"])
    assert member.status == "deleted"
    assert (member.phone_enc, member.nickname, member.birthday, member.phone_last4) == (None, None, None, None)
    assert await MemberIdentity.filter(member_id=member.id).count() == 0
    assert await MemberEvent.filter(member_id=member.id, type="registered").count() == 1  # history kept
    assert (await stack.http.get("/api/v1/mp/me", headers=bearer(me["token"]))).status_code == 401
    refreshed = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": me["refresh_token"]})
    assert refreshed.status_code == 401
    again = await register_mp(stack, "13800138000", expect=201)
    assert again.json()["member_id"] != me["member_id"]
    assert await AuditLog.filter(action="member.delete", member_id=member.id).count() == 1


async def test_member_tokens_are_not_staff_tokens_on_the_console(stack):
    me = (await register_mp(stack, "13800138000", expect=201)).json()
    response = await stack.http.get(f"/api/v1/admin/members/{me['member_id']}", headers=bearer(me["token"]))
    assert response.status_code == 401
