"""The hourly purge: idempotency records past retention, refresh tokens expired or spent past the grace
period and signature nonces past their window are deleted in batches, counted in job_runs; what is
still in use stays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from backend.idempotency import IdempotencyRecord
from backend.members.models import RefreshToken
from backend.security.nonces import UsedNonce
from jobs import maintenance
from jobs.scheduler import Host
from tests.factories import bearer, make_app_key, make_staff, signed_headers, wechat_login

LOOKUP = "/api/v1/integrations/members/lookup"
BODY = json.dumps({"phone": "13800138000"}).encode()
DAY = 86400


async def purge(stack, batch: int = maintenance.BATCH) -> dict:
    return await maintenance.run("purge", settings=stack.settings, kv=stack.kv, owner="scheduler", batch=batch)


async def run_row(period: str) -> dict:
    from backend import db

    row = await db.fetch_one("SELECT status, counts FROM job_runs WHERE job = 'maintenance:purge' AND period = $1",
                             period)
    assert row is not None
    counts = row["counts"]
    return {"status": row["status"], "counts": json.loads(counts) if isinstance(counts, str) else counts}


async def signed_lookup(stack, key_id: str, secret: str, nonce: str):
    headers = signed_headers(key_id, secret, "POST", LOOKUP, BODY, nonce=nonce)
    return await stack.http.post(LOOKUP, content=BODY, headers=headers), headers


async def test_the_purge_deletes_what_outlived_its_use_and_keeps_what_is_still_in_use(stack):
    # given: an idempotent request, a session whose refresh token was rotated, a signed request
    _, admin = await make_staff(stack, role="admin")
    noted = await stack.http.post("/test/idempotent-note", json={"note": "a"},
                                  headers={**bearer(admin), "Idempotency-Key": "purge-1"})
    assert noted.status_code == 201
    session = await wechat_login(stack)
    rotated = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200
    key_id, secret = await make_app_key(stack)
    assert (await signed_lookup(stack, key_id, secret, "old-nonce-1"))[0].status_code == 404

    # when: a day later (past the idempotency retention and the nonce window), a request is signed and the
    # purge runs
    stack.clock.advance(25 * 3600)
    recent, recent_headers = await signed_lookup(stack, key_id, secret, "recent-nonce-1")
    assert recent.status_code == 404
    first = await purge(stack)

    # then: the expired record and the old nonce are gone; the spent token is kept for reuse detection
    assert first["outcome"] == "done"
    assert first["counts"] == {"idempotency_records": 1, "refresh_tokens": 0, "used_nonces": 1, "batches": 3}
    assert await run_row(maintenance.period_of(stack.clock.now())) == {"status": "done", "counts": first["counts"]}
    assert await IdempotencyRecord.all().count() == 0
    assert await UsedNonce.all().values_list("nonce", flat=True) == ["recent-nonce-1"]
    assert await RefreshToken.all().count() == 2
    replay = await stack.http.post(LOOKUP, content=BODY, headers=recent_headers)
    assert replay.status_code == 401 and replay.json()["error"]["details"] == {"reason": "nonce_reused"}
    reused = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert reused.json()["error"]["details"] == {"reason": "refresh_reused"}  # still detected: ends the session

    # when/then: past the grace period a spent token goes; an expired one goes a grace period after expiry
    session = await wechat_login(stack)
    current = (await stack.http.post("/api/v1/mp/session/refresh",
                                     json={"refresh_token": session["refresh_token"]})).json()["refresh_token"]
    stack.clock.advance(stack.settings.refresh_token_grace_s + 3600)
    second = await purge(stack)
    assert second["counts"]["refresh_tokens"] == 1 and second["counts"]["used_nonces"] == 1
    assert await RefreshToken.all().count() == 1
    live = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": current})
    assert live.status_code == 200
    stack.clock.advance(stack.settings.member_refresh_ttl_s + stack.settings.refresh_token_grace_s)
    third = await purge(stack)
    assert third["counts"]["refresh_tokens"] == 2
    assert await RefreshToken.all().count() == 0


async def test_a_purge_larger_than_a_batch_deletes_batch_by_batch_and_keeps_the_window(stack):
    now = stack.clock.now()
    old = now - timedelta(seconds=2 * stack.settings.signature_max_skew_s + 1)
    await UsedNonce.bulk_create([UsedNonce(app_key="ak_bulk", nonce=f"old-{n:04d}", signed_at=old, created_at=old)
                                 for n in range(250)]
                                + [UsedNonce(app_key="ak_bulk", nonce=f"new-{n}", signed_at=now, created_at=now)
                                   for n in range(5)])

    result = await purge(stack, batch=100)

    # one batch for each empty table, three for the nonces (100, 100, 50)
    assert result["counts"] == {"idempotency_records": 0, "refresh_tokens": 0, "used_nonces": 250, "batches": 5}
    assert sorted(await UsedNonce.all().values_list("nonce", flat=True)) == [f"new-{n}" for n in range(5)]
    assert (await run_row(maintenance.period_of(now)))["counts"]["used_nonces"] == 250


async def test_a_second_purge_in_the_same_hour_does_not_run_again(stack):
    first = await purge(stack)
    again = await purge(stack)

    assert first["outcome"] == "done" and again["outcome"] == "already_done"
    assert (await run_row(maintenance.period_of(stack.clock.now())))["status"] == "done"


async def test_the_scheduler_runs_the_purge_every_hour(stack):
    host = Host(stack.settings, stack.kv)

    desired = await host.desired()

    trigger = desired["maintenance:purge"][0]
    first = trigger.get_next_fire_time(None, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert (first.minute, second - first) == (17, timedelta(hours=1))
