"""App keys managed in the console: scopes (channels, stores, actions), rotation with overlap, revocation;
orders record the key that pushed them and a key refunds only what its scope covers."""

import asyncio
import json
import os
import sys
from datetime import timedelta

from backend.loyalty.models import Order, Refund
from backend.stores.models import AppKey, AuditLog
from tests.factories import bearer, make_staff, make_store, signed_headers, unique, unique_phone

EVERYTHING = {"channels": ["online", "pos", "miniprogram", "third_party"], "store_ids": None,
              "actions": ["orders", "refunds", "members.lookup", "members.write"]}
ORDERS = "/api/v1/integrations/orders"


async def create_key(stack, admin, scopes=None, name=None):
    response = await stack.http.post("/api/v1/admin/app-keys", headers=bearer(admin),
                                     json={"name": name or unique("mall"), "scopes": scopes or EVERYTHING})
    assert response.status_code == 201, response.text
    return response.json()


async def signed_post(stack, key, path, body, *, secret=None):
    raw = json.dumps(body).encode()
    headers = signed_headers(key["key_id"], secret or key["secret"], "POST", path, raw)
    return await stack.http.post(path, content=raw, headers=headers)


async def push_order(stack, key, *, channel="online", store_id=None, order_no=None, secret=None):
    body = {"channel": channel, "order_no": order_no or unique("WEB"), "amount_cents": 5000}
    if store_id is not None:
        body["store_id"] = store_id
    return await signed_post(stack, key, ORDERS, body, secret=secret)


async def refund(stack, key, order_no, *, channel):
    return await signed_post(stack, key, f"{ORDERS}/{order_no}/refund",
                             {"channel": channel, "amount_cents": 1000, "reason": "退货"})


async def counter_order(stack, clerk):
    order_no = unique("POS")
    response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk),
                                     json={"order_no": order_no, "amount_cents": 8000})
    assert response.status_code == 201, response.text
    return order_no


def refused(response, status, reason):
    body = response.json()["error"]
    assert response.status_code == status, response.text
    assert body["details"].get("reason") == reason, body


async def test_an_admin_creates_a_key_whose_secret_is_answered_once_and_signs_at_once(stack):
    _, admin = await make_staff(stack, role="admin")

    created = await create_key(stack, admin, name="线上商城")

    assert created["status"] == "active" and created["scopes"] == EVERYTHING and created["secret"]
    shown = await stack.http.get(f"/api/v1/admin/app-keys/{created['id']}", headers=bearer(admin))
    listed = await stack.http.get("/api/v1/admin/app-keys", headers=bearer(admin))
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert [item["key_id"] for item in listed.json()["items"]] == [created["key_id"]]
    assert created["secret"] not in shown.text + listed.text
    assert (await push_order(stack, created)).status_code == 201
    row = await AppKey.get(id=created["id"])
    assert created["secret"] not in row.secret_enc and stack.pii.decrypt(row.secret_enc) == created["secret"]
    audit = await AuditLog.get(action="app_key.create")
    assert audit.actor_type == "staff" and audit.target_id == created["key_id"]
    assert created["secret"] not in json.dumps(audit.after)


async def test_only_admins_manage_app_keys(stack):
    _, marketer = await make_staff(stack, role="marketer")
    _, clerk = await make_staff(stack)

    answers = [await stack.http.post("/api/v1/admin/app-keys", headers=bearer(token),
                                     json={"name": "x", "scopes": EVERYTHING}) for token in (marketer, clerk)]
    anonymous = await stack.http.get("/api/v1/admin/app-keys")

    assert [a.status_code for a in answers] == [403, 403] and anonymous.status_code == 401
    assert not await AppKey.exists()


async def test_a_key_scoped_to_online_cannot_refund_a_pos_order_nor_a_counter_order(stack):
    _, admin = await make_staff(stack, role="admin")
    clerk_staff, clerk = await make_staff(stack)
    pos_key = await create_key(stack, admin, {**EVERYTHING, "channels": ["pos"]})
    online_key = await create_key(stack, admin, {**EVERYTHING, "channels": ["online"]})
    pos_order = (await push_order(stack, pos_key, channel="pos", store_id=clerk_staff.store_id)).json()["order_no"]
    at_counter = await counter_order(stack, clerk)
    own = (await push_order(stack, online_key)).json()["order_no"]

    answers = [await refund(stack, online_key, no, channel="pos") for no in (pos_order, at_counter)]
    unknown = await refund(stack, online_key, "NO-SUCH-ORDER", channel="pos")

    for answer in (*answers, unknown):  # the same answer whether the order exists or not
        refused(answer, 403, "channel_not_in_scope")
    assert not await Refund.exists()
    assert await Order.filter(refunded_cents__gt=0).count() == 0
    assert (await refund(stack, online_key, own, channel="online")).status_code == 201
    assert await Refund.filter(order_id=(await Order.get(order_no=own)).id).count() == 1


async def test_a_store_scoped_key_cannot_write_orders_for_another_store(stack):
    _, admin = await make_staff(stack, role="admin")
    mine, other = await make_store(), await make_store()
    key = await create_key(stack, admin, {**EVERYTHING, "channels": ["pos"], "store_ids": [mine.id]})

    elsewhere = await push_order(stack, key, channel="pos", store_id=other.id)
    nowhere = await push_order(stack, key, channel="pos")
    here = await push_order(stack, key, channel="pos", store_id=mine.id)

    refused(elsewhere, 403, "store_not_in_scope")
    refused(nowhere, 403, "store_not_in_scope")
    assert here.status_code == 201, here.text
    assert await Order.all().values_list("store_id", flat=True) == [mine.id]


async def test_a_counter_order_is_refunded_only_by_a_key_covering_its_store_and_channel(stack):
    _, admin = await make_staff(stack, role="admin")
    clerk_staff, clerk = await make_staff(stack)
    other = await make_store()
    at_counter = await counter_order(stack, clerk)
    other_store_key = await create_key(stack, admin, {**EVERYTHING, "channels": ["pos"], "store_ids": [other.id]})
    orders_only = await create_key(stack, admin, {**EVERYTHING, "actions": ["orders"]})
    this_store_key = await create_key(stack, admin, {"channels": ["pos"], "store_ids": [clerk_staff.store_id],
                                                     "actions": ["refunds"]})

    hidden = await refund(stack, other_store_key, at_counter, channel="pos")
    no_refunds = await refund(stack, orders_only, at_counter, channel="pos")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "ORDER_NOT_FOUND"
    refused(no_refunds, 403, "action_not_in_scope")
    assert not await Refund.exists()

    done = await refund(stack, this_store_key, at_counter, channel="pos")

    assert done.status_code == 201, done.text
    order = await Order.get(order_no=at_counter)
    assert order.refunded_cents == 1000 and order.app_key_id is None
    assert await Refund.filter(order_id=order.id).count() == 1


async def test_an_order_records_the_key_that_pushed_it_and_another_key_cannot_reuse_its_number(stack):
    _, admin = await make_staff(stack, role="admin")
    _, clerk = await make_staff(stack)
    first, second = await create_key(stack, admin), await create_key(stack, admin)
    order_no = unique("WEB")

    placed = await push_order(stack, first, order_no=order_no)
    retried = await push_order(stack, first, order_no=order_no)
    taken = await push_order(stack, second, order_no=order_no)

    assert placed.status_code == 201 and retried.status_code == 200
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "ORDER_CONFLICT"
    assert await Order.filter(order_no=order_no).values_list("app_key_id", flat=True) == [first["id"]]
    assert (await Order.get(order_no=await counter_order(stack, clerk))).app_key_id is None


async def test_a_rotated_key_accepts_both_secrets_until_the_overlap_ends(stack):
    _, admin = await make_staff(stack, role="admin")
    key = await create_key(stack, admin)
    old = key["secret"]

    rotated = await stack.http.post(f"/api/v1/admin/app-keys/{key['id']}/rotate", headers=bearer(admin),
                                    json={"overlap_s": 3600})

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_valid_until"]
    assert (await push_order(stack, key, secret=new)).status_code == 201
    assert (await push_order(stack, key, secret=old)).status_code == 201
    stack.clock.advance(seconds=3599)
    assert (await push_order(stack, key, secret=old)).status_code == 201
    stack.clock.advance(seconds=2)
    refused(await push_order(stack, key, secret=old), 401, "bad_signature")
    assert (await push_order(stack, key, secret=new)).status_code == 201
    assert await Order.filter(app_key_id=key["id"]).count() == 4
    audit = await AuditLog.get(action="app_key.rotate")
    assert audit.actor_type == "staff" and new not in json.dumps(audit.after) and old not in json.dumps(audit.after)


async def test_a_rotation_without_overlap_stops_the_old_secret_at_once_and_the_default_is_a_day(stack):
    _, admin = await make_staff(stack, role="admin")
    key = await create_key(stack, admin)
    path = f"/api/v1/admin/app-keys/{key['id']}/rotate"

    at_once = (await stack.http.post(path, headers=bearer(admin), json={"overlap_s": 0})).json()
    refused(await push_order(stack, key), 401, "bad_signature")
    default = (await stack.http.post(path, headers=bearer(admin), json={})).json()

    assert at_once["previous_secret_valid_until"] is None
    assert (await push_order(stack, key, secret=at_once["secret"])).status_code == 201
    row = await AppKey.get(id=key["id"])
    assert row.previous_secret_until - row.rotated_at == timedelta(hours=24)
    assert (await push_order(stack, key, secret=default["secret"])).status_code == 201


async def test_a_revoked_key_is_refused_at_once_whichever_secret_signs(stack):
    _, admin = await make_staff(stack, role="admin")
    key = await create_key(stack, admin)
    rotated = (await stack.http.post(f"/api/v1/admin/app-keys/{key['id']}/rotate", headers=bearer(admin),
                                     json={})).json()
    assert (await push_order(stack, key)).status_code == 201

    revoked = await stack.http.post(f"/api/v1/admin/app-keys/{key['id']}/revoke", headers=bearer(admin),
                                    json={"reason": "密钥泄露"})

    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    for secret in (key["secret"], rotated["secret"]):
        refused(await push_order(stack, key, secret=secret), 401, "bad_signature")
    again = await stack.http.post(f"/api/v1/admin/app-keys/{key['id']}/revoke", headers=bearer(admin), json={})
    rotate = await stack.http.post(f"/api/v1/admin/app-keys/{key['id']}/rotate", headers=bearer(admin), json={})
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert rotate.status_code == 409 and rotate.json()["error"]["code"] == "APP_KEY_REVOKED"
    audits = await AuditLog.filter(action="app_key.revoke").values_list("after", flat=True)
    assert audits == [{"reason": "密钥泄露"}]
    assert await Order.filter(app_key_id=key["id"]).count() == 1


async def test_changed_scopes_judge_the_next_request(stack):
    _, admin = await make_staff(stack, role="admin")
    key = await create_key(stack, admin, {**EVERYTHING, "channels": ["online"]})
    refused(await push_order(stack, key, channel="third_party"), 403, "channel_not_in_scope")

    patched = await stack.http.patch(f"/api/v1/admin/app-keys/{key['id']}", headers=bearer(admin),
                                     json={"scopes": {**EVERYTHING, "channels": ["third_party"]}})

    assert patched.status_code == 200 and patched.json()["scopes"]["channels"] == ["third_party"]
    assert (await push_order(stack, key, channel="third_party")).status_code == 201
    refused(await push_order(stack, key, channel="online"), 403, "channel_not_in_scope")
    audit = await AuditLog.get(action="app_key.update")
    assert audit.before["scopes"]["channels"] == ["online"] and audit.after["scopes"]["channels"] == ["third_party"]


async def test_member_lookups_and_pushes_need_their_actions(stack):
    _, admin = await make_staff(stack, role="admin")
    orders_only = await create_key(stack, admin, {**EVERYTHING, "actions": ["orders"]})
    online_writer = await create_key(stack, admin, {**EVERYTHING, "channels": ["online"],
                                                    "actions": ["members.write"]})
    phone = unique_phone()

    lookup = await signed_post(stack, orders_only, "/api/v1/integrations/members/lookup", {"phone": phone})
    push = await signed_post(stack, orders_only, "/api/v1/integrations/members", {"phone": phone})
    third_party = await signed_post(stack, online_writer, "/api/v1/integrations/members",
                                    {"phone": phone, "channel": "third_party"})
    online = await signed_post(stack, online_writer, "/api/v1/integrations/members", {"phone": phone})

    refused(lookup, 403, "action_not_in_scope")
    refused(push, 403, "action_not_in_scope")
    refused(third_party, 403, "channel_not_in_scope")
    assert online.status_code == 201, online.text


async def test_scopes_are_validated_and_name_the_bad_part(stack):
    _, admin = await make_staff(stack, role="admin")
    store = await make_store()
    cases = [({**EVERYTHING, "store_ids": [store.id, 999_999]}, "scopes.store_ids"),
             ({**EVERYTHING, "channels": []}, "scopes.channels"),
             ({**EVERYTHING, "actions": ["coupons"]}, "scopes.actions.0"),
             ({"channels": ["pos"]}, "scopes.actions")]

    for scopes, field in cases:
        response = await stack.http.post("/api/v1/admin/app-keys", headers=bearer(admin),
                                         json={"name": "x", "scopes": scopes})
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]["details"]["fields"], response.text
    assert not await AppKey.exists()
    unknown = await stack.http.get("/api/v1/admin/app-keys/424242", headers=bearer(admin))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "APP_KEY_NOT_FOUND"


async def test_the_cli_still_creates_a_key_with_every_scope(stack):
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "create-app-key", "--name", "ERP", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    printed = json.loads(out)

    key = {"key_id": printed["app_key"], "secret": printed["secret"]}
    store = await make_store()

    assert (await AppKey.get(key_id=key["key_id"])).scopes == EVERYTHING
    assert (await push_order(stack, key, channel="pos", store_id=store.id)).status_code == 201
