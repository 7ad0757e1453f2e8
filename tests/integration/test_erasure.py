"""Erasure (PIPL): after a member deletes the account in the mini-program, or an admin erases a
counter-only member, none of the person's values is left in any column of any row of any table —
the walk goes over every model Tortoise knows — while ledgers, orders and the audit trail's who and
what stay."""

import json
from datetime import date, datetime

from tortoise import Tortoise

from backend.loyalty.models import Order, PointsEntry
from backend.members.models import Member, MemberIdentity
from backend.stores.models import AuditLog
from notifications.models import Message
from tests.factories import (
    assert_ledgers_hold,
    bearer,
    counter_register,
    make_staff,
    register_mp,
    scan_token,
    unique,
    wechat_login,
)


async def _hits(values: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) where one of ``values`` appears, reading every column of every row."""
    hits = []
    for model in Tortoise.apps["models"].values():
        columns = list(model._meta.db_fields)
        for row in await model.all().values_list(*columns):
            for column, cell in zip(columns, row, strict=True):
                if cell is None:
                    continue
                text = json.dumps(cell, ensure_ascii=False, default=str) if isinstance(cell, dict | list) \
                    else cell.isoformat() if isinstance(cell, date | datetime) else str(cell)
                hits += [(model._meta.db_table, column, value) for value in values if value in text]
    return hits


async def _rendered_texts(member_id: int) -> list[str]:
    """The texts the member's messages were rendered to (what reached the provider)."""
    texts: list[str] = []

    def collect(value):
        if isinstance(value, str) and len(value) >= 6:
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for rendered in await Message.filter(member_id=member_id, rendered__isnull=False).values_list("rendered",
                                                                                               flat=True):
        collect(rendered)
    return texts


async def _identity_values(stack, member_id: int, phone: str) -> list[str]:
    member = await Member.get(id=member_id)
    values = [stack.pii.blind_index("phone", phone), member.phone_enc]
    values += await MemberIdentity.filter(member_id=member_id, kind__in=("openid", "unionid")).values_list(
        "value", flat=True)
    return values


async def _hobby_field(stack, admin):
    response = await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin), json={
        "key": "hobby", "label": "爱好", "type": "text", "max_length": 40})
    assert response.status_code == 201, response.text


async def test_a_member_who_deletes_the_account_leaves_no_personal_value_in_any_table(stack):
    # given: a shopper registered in the mini-program, edited the profile, ordered, got messages, and
    # staff typed the nickname and the phone into free-text reasons
    _, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    await _hobby_field(stack, admin)
    phone = "13812345678"
    me = (await register_mp(stack, phone, nickname="小林", birthday="1990-05-17",
                            consents={"sms_marketing": True}, expect=201)).json()
    member_id, token = me["member_id"], me["token"]
    openid = (await MemberIdentity.get(member_id=member_id, kind="openid")).value
    patched = await stack.http.patch("/api/v1/mp/me", headers=bearer(token), json={
        "nickname": "林晓岚", "email": "xiaolan.lin@example.test", "custom_fields": {"hobby": "登山与胶片摄影"}})
    assert patched.status_code == 200, patched.text
    scanned = await scan_token(stack, clerk, token)
    order_no = unique("O")
    placed = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": order_no, "scan_token": scanned, "amount_cents": 600000})  # gold: an upgrade message
    assert placed.status_code == 201, placed.text
    refunded = await stack.http.post(f"/api/v1/store/orders/{order_no}/refund", headers=bearer(clerk),
                                     json={"amount_cents": 1000, "reason": f"林晓岚来电 {phone} 退一件"})
    assert refunded.status_code == 201, refunded.text
    adjusted = await stack.http.post(f"/api/v1/admin/members/{member_id}/points/adjustments", headers=bearer(admin),
                                     json={"points": 50, "reason": "林晓岚投诉补偿"})
    assert adjusted.status_code == 201, adjusted.text
    await stack.dispatcher.drain()
    rendered = await _rendered_texts(member_id)
    assert rendered  # the welcome and the upgrade reached the provider
    values = [phone, "138****5678", "小林", "林晓岚", "xiaolan.lin@example.test", "1990-05-17", "登山与胶片摄影",
              *rendered, *await _identity_values(stack, member_id, phone)]
    assert await _hits(values)  # the walk finds them while the member exists
    ledger_rows = await PointsEntry.filter(member_id=member_id).count()

    # when
    response = await stack.http.delete("/api/v1/mp/me", headers=bearer(token))

    # then: nothing of the person anywhere
    assert response.status_code == 200, response.text
    assert await _hits(values) == []
    # ledgers and the order stay, balanced, under the member id
    assert await PointsEntry.filter(member_id=member_id).count() == ledger_rows
    assert (await Order.get(order_no=order_no)).member_id == member_id
    await assert_ledgers_hold(member_id)
    # the audit trail keeps who and what, and the names of the fields changed
    edit = await AuditLog.get(action="member.profile_update", member_id=member_id)
    assert (edit.actor_type, edit.actor_id, edit.target_type, edit.target_id) == (
        "member", str(member_id), "member", str(member_id))
    assert edit.after == {"custom_fields": "[erased]", "email": "[erased]", "nickname": "[erased]"}
    assert await AuditLog.filter(action="member.delete", member_id=member_id).count() == 1
    assert await Message.filter(member_id=member_id, rendered__isnull=False).count() == 0
    # and the person can come back as a new member, with the same WeChat account and phone
    again = await register_mp(stack, phone, token=(await wechat_login(stack, openid=openid))["token"], expect=201)
    assert again.json()["member_id"] != member_id


async def test_an_admin_exports_and_erases_a_counter_only_member_who_leaves_no_personal_value(stack):
    # given: a walk-in member who never used the mini-program, edited by staff, with orders and messages
    _, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    await _hobby_field(stack, admin)
    phone = "13987654321"
    registered = await counter_register(stack, clerk, phone, name="王建国", birthday="1985-11-02",
                                        consents={"sms_marketing": True})
    assert registered.status_code == 201, registered.text
    body = registered.json()
    member_id, member_no, scanned = body["member"]["id"], body["member"]["member_no"], body["scan_token"]
    edited = await stack.http.patch(f"/api/v1/admin/members/{member_id}", headers=bearer(admin), json={
        "email": "jianguo.wang@example.test", "custom_fields": {"hobby": "周末海钓俱乐部"}})
    assert edited.status_code == 200, edited.text
    placed = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": unique("O"), "scan_token": scanned, "amount_cents": 120000})
    assert placed.status_code == 201, placed.text
    topped = await stack.http.post("/api/v1/store/wallet/topups", headers=bearer(clerk), json={
        "scan_token": scanned, "amount_cents": 5000, "payment_ref": unique("P")})
    assert topped.status_code == 201, topped.text
    await stack.dispatcher.drain()
    rendered = await _rendered_texts(member_id)
    values = [phone, "139****4321", "王建国", "jianguo.wang@example.test", "1985-11-02", "周末海钓俱乐部",
              *rendered, *await _identity_values(stack, member_id, phone)]
    path = f"/api/v1/admin/members/{member_id}"

    # when: the member asks at the counter for their data, then for erasure
    assert (await stack.http.get(f"{path}/export", params={"reason": "顾客到店申请"},
                                 headers=bearer(marketer))).status_code == 403
    missing_reason = await stack.http.get(f"{path}/export", headers=bearer(admin))
    assert missing_reason.status_code == 400
    export = await stack.http.get(f"{path}/export", params={"reason": "顾客到店申请"}, headers=bearer(admin))
    # then: the export holds everything, the phone in full, and is audited
    assert export.status_code == 200, export.text
    data = export.json()
    assert data["profile"]["phone"] == phone and data["profile"]["custom_fields"] == {"hobby": "周末海钓俱乐部"}
    assert data["orders"] and data["wallet_ledger"] and data["points_ledger"]
    assert await AuditLog.filter(action="member.export", member_id=member_id, actor_type="staff").count() == 1

    # when: erasure needs an admin and the member's card number
    erase = f"{path}/erase"
    assert (await stack.http.post(erase, json={"confirm": member_no, "reason": "顾客申请"},
                                  headers=bearer(marketer))).status_code == 403
    wrong = await stack.http.post(erase, json={"confirm": "000000000000", "reason": "顾客申请"}, headers=bearer(admin))
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "ERASURE_NOT_CONFIRMED"
    assert (await Member.get(id=member_id)).status == "active" and await _hits(values)
    erased = await stack.http.post(erase, json={"confirm": member_no, "reason": "王建国本人到店申请删除"},
                                   headers=bearer(admin))

    # then
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "deleted" and erased.json()["erased"]["identities"] == 3  # phone, card, email
    assert await _hits(values) == []
    await assert_ledgers_hold(member_id)
    record = await AuditLog.get(action="member.erase", member_id=member_id)
    assert (record.actor_type, record.after["reason"]) == ("staff", "***本人到店申请删除")
    staff_edit = await AuditLog.get(action="member.profile_update", member_id=member_id)
    assert staff_edit.actor_type == "staff" and set(staff_edit.after) == {"custom_fields", "email"}
    assert (await stack.http.get(f"{path}/export", params={"reason": "再查"}, headers=bearer(admin))).status_code == 404
    # the phone registers again as a new member
    again = await counter_register(stack, clerk, phone)
    assert again.status_code == 201 and again.json()["member"]["id"] != member_id


async def test_erasing_the_survivor_of_a_merge_erases_the_merged_member_too(stack):
    # given: a counter member and a mini-program member of the same person, merged
    _, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    counter = (await counter_register(stack, clerk, "13700001111", name="赵一")).json()["member"]
    online = (await register_mp(stack, "13700002222", nickname="赵小一", birthday="1992-02-29", expect=201)).json()
    merged = await stack.http.post(f"/api/v1/admin/members/{counter['id']}/merge", headers=bearer(admin),
                                   json={"other_id": online["member_id"]})
    assert merged.status_code == 200, merged.text
    # when: the merged member cannot be erased on its own; the survivor can
    alone = await stack.http.post(f"/api/v1/admin/members/{online['member_id']}/erase", headers=bearer(admin),
                                  json={"confirm": str(online["member_id"]), "reason": "顾客申请"})
    assert alone.status_code == 422 and alone.json()["error"]["code"] == "ERASURE_NOT_ALLOWED"
    assert alone.json()["error"]["details"]["merged_into_id"] == counter["id"]
    erased = await stack.http.post(f"/api/v1/admin/members/{counter['id']}/erase", headers=bearer(admin),
                                   json={"confirm": str(counter["id"]), "reason": "顾客申请"})
    # then
    assert erased.status_code == 200 and erased.json()["erased"]["members"] == 2
    assert await _hits(["13700001111", "13700002222", "赵一", "赵小一", "1992-02-29"]) == []
    assert (await Member.get(id=online["member_id"])).status == "merged"


async def test_erasing_again_runs_the_scrub_again_and_an_unknown_member_is_not_found(stack):
    _, admin = await make_staff(stack, role="admin")
    me = (await register_mp(stack, "13600003333", nickname="钱多多", expect=201)).json()
    assert (await stack.http.delete("/api/v1/mp/me", headers=bearer(me["token"]))).status_code == 200
    again = await stack.http.post(f"/api/v1/admin/members/{me['member_id']}/erase", headers=bearer(admin),
                                  json={"confirm": str(me["member_id"]), "reason": "复查"})
    assert again.status_code == 200, again.text
    assert await AuditLog.filter(action="member.erase", member_id=me["member_id"]).count() == 1
    unknown = await stack.http.post("/api/v1/admin/members/999999/erase", headers=bearer(admin),
                                    json={"confirm": "999999", "reason": "顾客申请"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "MEMBER_NOT_FOUND"


async def test_a_message_not_yet_sent_to_an_erased_member_is_cancelled_and_never_sent(stack):
    # given: the welcome message is queued, not yet sent
    me = (await register_mp(stack, "13500004444", nickname="孙某", expect=201)).json()
    queued = await Message.get(member_id=me["member_id"], template_key="welcome")
    assert queued.status == "queued"
    # when
    assert (await stack.http.delete("/api/v1/mp/me", headers=bearer(me["token"]))).status_code == 200
    await stack.dispatcher.drain()
    # then
    message = await Message.get(id=queued.id)
    assert (message.status, message.reason, message.rendered, message.recipient) == (
        "cancelled", "member_erased", None, None)
    assert not [sms for sms in stack.sms.sent if "13500004444" in json.dumps(sms, ensure_ascii=False)]


async def test_an_order_for_an_erased_member_is_refused(stack):
    # given: the clerk scanned the member's code before the member deleted the account
    _, clerk = await make_staff(stack)
    me = (await register_mp(stack, "13400005555", expect=201)).json()
    scanned = await scan_token(stack, clerk, me["token"])
    assert (await stack.http.delete("/api/v1/mp/me", headers=bearer(me["token"]))).status_code == 200
    # when
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
        "order_no": unique("O"), "scan_token": scanned, "amount_cents": 1000})
    # then
    assert response.status_code == 404 and response.json()["error"]["code"] == "MEMBER_NOT_FOUND"
    assert await Order.filter(member_id=me["member_id"]).count() == 0
