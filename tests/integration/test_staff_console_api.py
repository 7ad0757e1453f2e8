"""Admins manage staff and stores from the console: change a role or store, reset a password, deactivate
(the account's tokens are refused at once), rename or deactivate a store; every change audited, and the
guards: no self-deactivation or self-demotion, never without an active admin, clerks keep a store."""

from backend.stores.models import AuditLog, StaffAccount
from tests.factories import bearer, make_staff, make_store

ADMIN_API = "/api/v1/admin"


def code_of(response):
    return response.json()["error"]["code"]


async def patch_staff(stack, token, staff_id, body):
    return await stack.http.patch(f"{ADMIN_API}/staff/{staff_id}", headers=bearer(token), json=body)


async def test_an_admin_moves_a_clerk_and_promotes_them_audited(stack):
    admin, token = await make_staff(stack, role="admin")
    clerk, _ = await make_staff(stack)
    other = await make_store(name="二号店")

    moved = await patch_staff(stack, token, clerk.id, {"store_id": other.id})
    assert moved.status_code == 200, moved.text
    assert moved.json()["store_id"] == other.id and moved.json()["role"] == "clerk"
    promoted = await patch_staff(stack, token, clerk.id, {"role": "marketer", "store_id": None})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {"id": clerk.id, "username": clerk.username, "role": "marketer", "store_id": None,
                               "active": True}
    rows = await AuditLog.filter(action="staff.update", target_id=str(clerk.id)).order_by("id")
    assert [row.after for row in rows] == [{"store_id": other.id}, {"role": "marketer", "store_id": None}]
    assert rows[0].actor_type == "staff" and rows[0].actor_id == str(admin.id)
    assert rows[1].before == {"role": "clerk", "store_id": other.id}


async def test_deactivation_revokes_the_accounts_tokens_at_once_and_reactivation_allows_a_new_login(stack):
    _, token = await make_staff(stack, role="admin")
    marketer, marketer_token = await make_staff(stack, role="marketer", password="old-password-1")
    assert (await stack.http.get(f"{ADMIN_API}/members", headers=bearer(marketer_token))).status_code == 200

    off = await patch_staff(stack, token, marketer.id, {"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    refused = await stack.http.get(f"{ADMIN_API}/members", headers=bearer(marketer_token))
    assert refused.status_code == 401 and code_of(refused) == "UNAUTHENTICATED"
    login = await stack.http.post("/api/v1/staff/session", json={"username": marketer.username,
                                                                  "password": "old-password-1"})
    assert login.status_code == 401
    audit = await AuditLog.get(action="staff.update", target_id=str(marketer.id))
    assert audit.before == {"active": True} and audit.after == {"active": False, "tokens_revoked": True}

    on = await patch_staff(stack, token, marketer.id, {"active": True})
    assert on.status_code == 200 and on.json()["active"] is True
    assert (await stack.http.get(f"{ADMIN_API}/members", headers=bearer(marketer_token))).status_code == 401
    login = await stack.http.post("/api/v1/staff/session", json={"username": marketer.username,
                                                                  "password": "old-password-1"})
    assert login.status_code == 200


async def test_a_password_reset_revokes_tokens_and_the_new_password_works(stack):
    _, token = await make_staff(stack, role="admin")
    marketer, marketer_token = await make_staff(stack, role="marketer", password="old-password-1")

    reset = await stack.http.post(f"{ADMIN_API}/staff/{marketer.id}/password", headers=bearer(token),
                                  json={"password": "new-password-2"})
    assert reset.status_code == 200, reset.text
    assert (await stack.http.get(f"{ADMIN_API}/members", headers=bearer(marketer_token))).status_code == 401
    old = await stack.http.post("/api/v1/staff/session", json={"username": marketer.username,
                                                                "password": "old-password-1"})
    new = await stack.http.post("/api/v1/staff/session", json={"username": marketer.username,
                                                                "password": "new-password-2"})
    assert old.status_code == 401 and new.status_code == 200
    audit = await AuditLog.get(action="staff.password_reset", target_id=str(marketer.id))
    assert "new-password-2" not in str(audit.after) + str(audit.before)
    short = await stack.http.post(f"{ADMIN_API}/staff/{marketer.id}/password", headers=bearer(token),
                                  json={"password": "short"})
    assert short.status_code == 400 and "password" in short.json()["error"]["details"]["fields"]


async def test_an_admin_cannot_deactivate_or_demote_themselves(stack):
    admin, token = await make_staff(stack, role="admin")
    await make_staff(stack, role="admin")  # not the last admin: the self rule alone refuses

    for body in ({"active": False}, {"role": "marketer"}):
        refused = await patch_staff(stack, token, admin.id, body)
        assert refused.status_code == 409 and code_of(refused) == "STAFF_SELF_CHANGE", refused.text
    row = await StaffAccount.get(id=admin.id)
    assert row.active and row.role == "admin"
    assert not await AuditLog.filter(action="staff.update").exists()


async def test_the_last_active_admin_cannot_be_removed(stack):
    admin, token = await make_staff(stack, role="admin")
    other, other_token = await make_staff(stack, role="admin")
    # Another admin may be deactivated while one stays …
    assert (await patch_staff(stack, token, other.id, {"active": False})).status_code == 200
    # … but the one left is the last: not even its own change (demotion or deactivation) goes through.
    for body in ({"active": False}, {"role": "marketer"}):
        refused = await patch_staff(stack, token, admin.id, body)
        assert refused.status_code == 409 and code_of(refused) == "LAST_ADMIN", refused.text
    assert (await StaffAccount.get(id=admin.id)).active
    assert (await stack.http.get(f"{ADMIN_API}/staff", headers=bearer(other_token))).status_code == 401


async def test_a_clerk_needs_a_known_store_and_unknown_staff_is_404(stack):
    _, token = await make_staff(stack, role="admin")
    marketer, _ = await make_staff(stack, role="marketer")
    clerk, _ = await make_staff(stack)

    no_store = await patch_staff(stack, token, marketer.id, {"role": "clerk"})
    assert no_store.status_code == 400 and "store_id" in no_store.json()["error"]["details"]["fields"]
    unbound = await patch_staff(stack, token, clerk.id, {"store_id": None})
    assert unbound.status_code == 400 and "store_id" in unbound.json()["error"]["details"]["fields"]
    unknown_store = await patch_staff(stack, token, clerk.id, {"store_id": 999999})
    assert unknown_store.status_code == 404 and code_of(unknown_store) == "STORE_NOT_FOUND"
    created = await stack.http.post(f"{ADMIN_API}/staff", headers=bearer(token),
                                    json={"username": "clerk-nostore", "password": "password-123", "role": "clerk"})
    assert created.status_code == 400 and "store" in created.json()["error"]["details"]["fields"]
    unknown = await patch_staff(stack, token, 999999, {"active": False})
    assert unknown.status_code == 404 and code_of(unknown) == "STAFF_NOT_FOUND"
    reset = await stack.http.post(f"{ADMIN_API}/staff/999999/password", headers=bearer(token),
                                  json={"password": "password-123"})
    assert reset.status_code == 404 and code_of(reset) == "STAFF_NOT_FOUND"
    empty = await patch_staff(stack, token, marketer.id, {})
    assert empty.status_code == 400
    assert (await StaffAccount.get(id=marketer.id)).role == "marketer"


async def test_an_admin_renames_and_deactivates_a_store_whose_clerks_then_cannot_log_in(stack):
    _, token = await make_staff(stack, role="admin")
    store = await make_store(name="旧名")
    clerk, _ = await make_staff(stack, store=store, password="clerk-pass-1")

    renamed = await stack.http.patch(f"{ADMIN_API}/stores/{store.id}", headers=bearer(token), json={"name": "新名"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "新名"
    off = await stack.http.patch(f"{ADMIN_API}/stores/{store.id}", headers=bearer(token), json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    login = await stack.http.post("/api/v1/staff/session", json={"username": clerk.username,
                                                                  "password": "clerk-pass-1"})
    assert login.status_code == 401
    rows = await AuditLog.filter(action="store.update", target_id=str(store.id)).order_by("id")
    assert [row.after for row in rows] == [{"name": "新名"}, {"active": False}]
    missing = await stack.http.patch(f"{ADMIN_API}/stores/999999", headers=bearer(token), json={"name": "x"})
    assert missing.status_code == 404 and code_of(missing) == "STORE_NOT_FOUND"
    empty = await stack.http.patch(f"{ADMIN_API}/stores/{store.id}", headers=bearer(token), json={})
    assert empty.status_code == 400


async def test_marketers_and_clerks_are_refused(stack):
    _, marketer = await make_staff(stack, role="marketer")
    _, clerk = await make_staff(stack)
    target, _ = await make_staff(stack, role="marketer")
    store = await make_store()
    for token in (marketer, clerk):
        calls = [
            await patch_staff(stack, token, target.id, {"active": False}),
            await stack.http.post(f"{ADMIN_API}/staff/{target.id}/password", headers=bearer(token),
                                  json={"password": "password-123"}),
            await stack.http.patch(f"{ADMIN_API}/stores/{store.id}", headers=bearer(token), json={"name": "x"}),
            await stack.http.get(f"{ADMIN_API}/staff", headers=bearer(token)),
            await stack.http.get(f"{ADMIN_API}/audit-log", headers=bearer(token)),
        ]
        assert [(r.status_code, code_of(r)) for r in calls] == [(403, "FORBIDDEN")] * len(calls)
    assert (await StaffAccount.get(id=target.id)).active
    no_token = await stack.http.patch(f"{ADMIN_API}/staff/{target.id}", json={"active": False})
    assert no_token.status_code == 401
