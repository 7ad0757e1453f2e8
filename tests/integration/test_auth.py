"""Staff login and roles, token expiry and revocation, and signed integration requests."""

import json

import pytest

from backend.stores.models import StaffAccount
from tests.factories import bearer, make_app_key, make_staff, make_store, signed_headers


async def test_staff_login_returns_a_token_with_role_and_store(stack):
    store = await make_store(name="徐汇店")
    staff, _token = await make_staff(stack, role="clerk", store=store)
    response = await stack.http.post("/api/v1/staff/session",
                                     json={"username": staff.username, "password": "correct-horse-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["staff"] == {"id": staff.id, "username": staff.username, "role": "clerk",
                             "store": {"id": store.id, "code": store.code, "name": "徐汇店"}}
    assert body["expires_in"] == stack.settings.staff_token_ttl_s


@pytest.mark.parametrize("username", ["nobody", None])
async def test_wrong_password_and_unknown_user_get_the_same_answer(stack, username):
    staff, _ = await make_staff(stack, role="admin")
    response = await stack.http.post("/api/v1/staff/session",
                                     json={"username": username or staff.username, "password": "wrong-password"})
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "INVALID_CREDENTIALS", "message": "用户名或密码错误", "details": {}}


async def test_repeated_failed_logins_are_rate_limited_with_retry_after(stack):
    staff, _ = await make_staff(stack, role="admin")
    statuses = []
    for _ in range(11):
        response = await stack.http.post("/api/v1/staff/session",
                                         json={"username": staff.username, "password": "wrong-password"})
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429] * 6  # five free tries, then a wait (tests/integration/test_login_throttle.py)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "RATE_LIMITED"


async def test_a_role_outside_the_route_is_forbidden_and_a_missing_token_unauthenticated(stack):
    _, _token = await make_staff(stack, role="clerk")
    # The test route accepts any staff role; the role check is covered by routes with roles below.
    missing = await stack.http.post("/test/idempotent-note", json={})
    assert missing.status_code == 401
    assert missing.json()["error"]["details"] == {"reason": "missing_token"}
    garbage = await stack.http.post("/test/idempotent-note", json={}, headers=bearer("not.a.jwt"))
    assert garbage.status_code == 401


async def test_staff_tokens_expire_with_the_clock(stack):
    _, token = await make_staff(stack, role="marketer")
    assert (await stack.http.post("/test/idempotent-note", json={}, headers=bearer(token))).status_code == 201
    stack.clock.advance(stack.settings.staff_token_ttl_s + 1)
    response = await stack.http.post("/test/idempotent-note", json={}, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["details"] == {"reason": "expired"}


async def test_deactivating_a_staff_account_revokes_its_tokens_at_once(stack):
    staff, token = await make_staff(stack, role="admin")
    await StaffAccount.filter(id=staff.id).update(active=False)
    response = await stack.http.post("/test/idempotent-note", json={}, headers=bearer(token))
    assert response.status_code == 401


async def test_a_member_token_is_not_a_staff_token(stack):
    from backend.http.auth import MEMBER_AUDIENCE
    from backend.security import tokens

    member_token = tokens.issue(stack.settings.secret_key, audience=MEMBER_AUDIENCE, subject="1", ttl_s=600)
    response = await stack.http.post("/test/idempotent-note", json={}, headers=bearer(member_token))
    assert response.status_code == 401


# Signed integration requests go to a real integrations route once it exists; the lookup route is the
# simplest. Until then these tests drive the signature check through the member lookup path.
LOOKUP = "/api/v1/integrations/members/lookup"


async def _signed_post(stack, key_id, secret, body: dict, **kwargs):
    raw = json.dumps(body).encode()
    return await stack.http.post(LOOKUP, content=raw, headers=signed_headers(key_id, secret, "POST", LOOKUP, raw, **kwargs))


async def test_a_correctly_signed_request_passes_the_signature_check(stack):
    key_id, secret = await make_app_key(stack)
    response = await _signed_post(stack, key_id, secret, {"phone": "13800138000"})
    assert response.status_code == 404  # signature accepted; no such member
    assert response.json()["error"]["code"] == "MEMBER_NOT_FOUND"


@pytest.mark.parametrize("tamper", ["secret", "body", "timestamp", "unknown_key", "missing"])
async def test_a_bad_signature_is_refused(stack, tamper):
    key_id, secret = await make_app_key(stack)
    body = {"phone": "13800138000"}
    raw = json.dumps(body).encode()
    headers = signed_headers(key_id, "wrong" if tamper == "secret" else secret, "POST", LOOKUP, raw)
    if tamper == "body":
        raw = json.dumps({"phone": "13900139000"}).encode()
    if tamper == "timestamp":
        headers["X-Timestamp"] = str(int(headers["X-Timestamp"]) + 1)
    if tamper == "unknown_key":
        headers["X-App-Key"] = "ak_unknown"
    if tamper == "missing":
        del headers["X-Signature"]
    response = await stack.http.post(LOOKUP, content=raw, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_timestamp_older_than_five_minutes_is_refused(stack):
    key_id, secret = await make_app_key(stack)
    stale = int(stack.clock.now().timestamp()) - 301
    response = await _signed_post(stack, key_id, secret, {"phone": "13800138000"}, timestamp=stale)
    assert response.status_code == 401
    assert response.json()["error"]["details"] == {"reason": "stale_timestamp"}


async def test_a_replayed_nonce_is_refused(stack):
    key_id, secret = await make_app_key(stack)
    first = await _signed_post(stack, key_id, secret, {"phone": "13800138000"}, nonce="nonce-replay-1")
    again = await _signed_post(stack, key_id, secret, {"phone": "13800138000"}, nonce="nonce-replay-1")
    assert first.status_code == 404
    assert again.status_code == 401
    assert again.json()["error"]["details"] == {"reason": "nonce_reused"}
