"""The Idempotency-Key contract of DESIGN.md, through real HTTP, on both backends."""

import asyncio
import hashlib
from datetime import timedelta

import pytest

from backend.idempotency import IdempotencyRecord
from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff

ROUTE = "/test/idempotent-note"


def headers(token, key):
    return {**bearer(token), "Idempotency-Key": key}


async def test_the_same_key_and_body_returns_the_first_response_and_acts_once(stack):
    _, token = await make_staff(stack, role="admin")
    first = await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token, "k-1"))
    again = await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token, "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await AuditLog.filter(action="test.note").count() == 1


async def test_the_same_key_with_another_body_is_422(stack):
    _, token = await make_staff(stack, role="admin")
    await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token, "k-2"))
    other = await stack.http.post(ROUTE, json={"note": "b"}, headers=headers(token, "k-2"))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await AuditLog.filter(action="test.note").count() == 1


async def test_the_same_key_while_the_first_is_in_flight_is_409(stack):
    _, token = await make_staff(stack, role="admin")
    slow = asyncio.create_task(stack.http.post(ROUTE, json={"sleep": 0.5}, headers=headers(token, "k-3")))
    await asyncio.sleep(0.2)
    during = await stack.http.post(ROUTE, json={"sleep": 0.5}, headers=headers(token, "k-3"))
    first = await slow
    assert first.status_code == 201
    assert during.status_code == 409
    assert during.json()["error"]["code"] == "IDEMPOTENCY_IN_FLIGHT"


async def test_ten_concurrent_duplicates_act_once(stack):
    _, token = await make_staff(stack, role="admin")
    responses = await asyncio.gather(*[
        stack.http.post(ROUTE, json={"note": "x", "sleep": 0.05}, headers=headers(token, "k-4")) for _ in range(10)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert await AuditLog.filter(action="test.note").count() == 1
    winners = {r.json()["audit_id"] for r in responses if r.status_code == 201}
    assert len(winners) == 1


async def test_a_failed_request_is_not_remembered_so_a_retry_runs_again(stack):
    _, token = await make_staff(stack, role="admin")
    failed = await stack.http.post(ROUTE, json={"fail": True}, headers=headers(token, "k-5"))
    assert failed.status_code == 409
    assert await IdempotencyRecord.filter(key="k-5").count() == 0
    # The same key with the same body runs again: nothing happened the first time.
    retried = await stack.http.post(ROUTE, json={"fail": True}, headers=headers(token, "k-5"))
    assert retried.status_code == 409 and "Idempotent-Replayed" not in retried.headers


async def test_keys_are_scoped_per_caller(stack):
    _, token_a = await make_staff(stack, role="admin")
    _, token_b = await make_staff(stack, role="admin")
    a = await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token_a, "shared-key"))
    b = await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token_b, "shared-key"))
    assert a.json()["audit_id"] != b.json()["audit_id"]


async def test_a_record_expires_after_24_hours_and_the_key_can_be_used_again(stack):
    _, token = await make_staff(stack, role="admin")
    await stack.http.post(ROUTE, json={"note": "a"}, headers=headers(token, "k-6"))
    stack.clock.advance(hours=11)
    # Staff tokens last 12 h: take a fresh one after moving the clock 24 h.
    stack.clock.advance(hours=13)
    _, token2 = await make_staff(stack, role="admin")
    later = await stack.http.post(ROUTE, json={"note": "b"}, headers=headers(token2, "k-6"))
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers


@pytest.mark.parametrize(("lease_left_s", "expected"), [(-1, 201), (30, 409)])
async def test_a_claim_left_by_a_dead_process_is_taken_over_only_after_its_lease(stack, lease_left_s, expected):
    staff, token = await make_staff(stack, role="admin")
    body = b'{"note":"z"}'
    now = stack.clock.now()
    await IdempotencyRecord.create(
        scope=f"staff:{staff.id}:{stack.app.name}.test_support.idempotent_note"[:120], key="k-7",
        request_hash=hashlib.sha256(b"POST /test/idempotent-note?\n" + body).hexdigest(),
        locked_until=now + timedelta(seconds=lease_left_s), expires_at=now + timedelta(hours=24), created_at=now)
    response = await stack.http.post(ROUTE, content=body, headers={**headers(token, "k-7"),
                                                                   "Content-Type": "application/json"})
    assert response.status_code == expected
    assert await AuditLog.filter(action="test.note").count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_malformed_key_is_a_validation_error(stack, key):
    _, token = await make_staff(stack, role="admin")
    response = await stack.http.post(ROUTE, json={}, headers=headers(token, key))
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]["fields"]
