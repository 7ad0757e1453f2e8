"""The delivery worker: claims due deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), signs and
POSTs them, records each attempt and schedules the next.

- Per member in order: a member's delivery waits while an earlier event of theirs to the same endpoint
  is still pending or retrying.
- Retries after a failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then ``dead`` (the first
  attempt is immediate). 429 and 503 with ``Retry-After`` wait that long instead (at most 10 h).
- 410 disables the endpoint; an endpoint without a success for FAILING_DISABLE_AFTER is disabled,
  with the reason the console shows.
- At least once: a claim is a lease; a worker that dies leaves it to run out, and the delivery is
  taken again. Receivers dedupe on ``webhook-id`` (the event id).
- The successes of a batch are written back together when the batch ends (one statement, one commit;
  failures at once): a worker that dies mid-batch has those taken again after the lease, as above.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from backend import audit, clock, db
from backend.errors import DomainError
from backend.security.pii import PiiCipher
from backend.settings import Settings
from backend.webhooks import outbox, signing, urls
from backend.webhooks.service import signing_secrets

log = logging.getLogger("backend.webhooks")

RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 36000)  # after attempts 1..7; the 8th failure is final
MAX_RETRY_AFTER_S = 36000
FAILING_DISABLE_AFTER = timedelta(days=5)
LEASE_S = 60
BATCH_SIZE = 50  # deliveries claimed at a time
CONCURRENCY = 16  # attempts in flight per worker process

_DUE = (
    "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled = $5 "
    "WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $3 "
    "AND (d.lease_until IS NULL OR d.lease_until < $3) "
    "AND (d.member_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id "
    "AND p.member_id = d.member_id AND p.event_pk < d.event_pk AND p.status IN ('pending', 'failed'))) "
    "ORDER BY d.next_attempt_at, d.id LIMIT $4")
_CLAIM = ("UPDATE webhook_deliveries SET lease_until = $1, lease_token = $2, updated_at = $3 WHERE id IN ({due}) "
          "RETURNING id, endpoint_id, event_pk, member_id, attempts, lease_token")
# On PostgreSQL the member-order check runs on the due rows in claim order, only until the batch is full:
# the inner query (fenced by OFFSET 0, so the check is not pushed into its scan) sorts the due rows and
# locks them as they are read; the check then takes the first that have no earlier pending delivery of
# their member. Written as one WHERE (``_DUE``), it was evaluated for every due row of the backlog on each
# claim: 40 ms a claim at 20 000 pending, most of the database's work while draining a backlog.
_DUE_PG = (
    "SELECT q.id FROM (SELECT d.id, d.endpoint_id, d.member_id, d.event_pk FROM webhook_deliveries d "
    "WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $3 "
    "AND (d.lease_until IS NULL OR d.lease_until < $3) "
    "AND d.endpoint_id IN (SELECT w.id FROM webhook_endpoints w WHERE w.enabled = $5) "
    "ORDER BY d.next_attempt_at, d.id OFFSET 0 FOR UPDATE OF d SKIP LOCKED) q "
    "WHERE q.member_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = q.endpoint_id "
    "AND p.member_id = q.member_id AND p.event_pk < q.event_pk AND p.status IN ('pending', 'failed')) LIMIT $4")
_CLAIM_PG = _CLAIM.format(due=_DUE_PG)
_CLAIM_SQLITE = _CLAIM.format(due=_DUE)  # one process, one writer: the UPDATE itself is the claim
_ENDPOINT_COLUMNS = "id, url, enabled, secret_enc, previous_secret_enc, previous_secret_until, failing_since"


def body_of(event: dict[str, Any]) -> str:
    """The one JSON shape every event is sent in."""
    data = event["data"]
    data = json.loads(data) if isinstance(data, str | bytes) else data
    occurred = db.to_datetime(event["occurred_at"])
    assert occurred is not None
    return json.dumps({"type": event["type"], "id": event["event_id"],
                       "occurred_at": occurred.isoformat().replace("+00:00", "Z"), "data": data},
                      ensure_ascii=False, separators=(",", ":"))


def retry_after_s(value: str | None) -> int | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - time.time()))


@dataclass(frozen=True)
class Succeeded:
    """A successful attempt not yet written back: the claimed row, the answer's status, its time, when."""

    claimed: dict[str, Any]
    code: int | None
    ms: int
    at: datetime


class WebhookWorker:
    """Delivers due webhook deliveries; ``run`` until stopped, ``drain`` what is due now."""

    def __init__(self, settings: Settings, *, pii: PiiCipher | None = None, batch_size: int = BATCH_SIZE,
                 concurrency: int = CONCURRENCY, lease_s: int = LEASE_S, timeout_s: float | None = None) -> None:
        self.settings = settings
        self.pii = pii or PiiCipher(settings.pii_key)
        self.batch_size = batch_size
        self.timeout_s = timeout_s or settings.webhook_timeout_s
        # A lease outlives the slowest batch (its successes are written when the batch ends: up to
        # ``batch_size / concurrency`` rounds of attempts that each may take the whole timeout), or a second
        # worker would send again while the first still waits.
        rounds = -(-batch_size // concurrency)
        self.lease_s = max(lease_s, int(self.timeout_s * max(rounds, 2)) + 15)
        self._limit = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False,
                                             headers={"user-agent": "member-platform-webhooks/1"})
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event, *, idle_s: float = 1.0) -> None:
        """Work until ``stop`` is set."""
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("webhook batch failed; its deliveries are taken again when their lease ends")
                done = 0
            if not done:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        rows = await self.claim()
        events = await self._events(rows)
        endpoints = await self._endpoints(rows)
        succeeded: list[Succeeded] = []
        try:  # every attempt ends (one that raised does not cut the others' write-back short) ...
            outcomes = await asyncio.gather(*(self.deliver(row, events.get(int(row["event_pk"])),
                                                           endpoints.get(int(row["endpoint_id"])),
                                                           succeeded=succeeded) for row in rows),
                                            return_exceptions=True)
        finally:  # ... and what was delivered is recorded, also when stopped mid-batch
            await self._succeeded(succeeded)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(rows)

    async def _endpoints(self, claimed: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The endpoint rows of a claimed batch, in one query, read when the batch starts: a change made
        meanwhile (a URL, a rotated secret) applies from the next batch (a batch lasts about
        ``batch_size / concurrency`` attempts)."""
        ids = sorted({int(row["endpoint_id"]) for row in claimed})
        if not ids:
            return {}
        marks = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
        rows = await db.fetch(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id IN ({marks})", *ids)
        return {int(row["id"]): row for row in rows}

    async def _events(self, claimed: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The event rows of a claimed batch, in one query (events never change once written)."""
        pks = sorted({int(row["event_pk"]) for row in claimed})
        if not pks:
            return {}
        marks = ", ".join(f"${n}" for n in range(1, len(pks) + 1))
        rows = await db.fetch(f"SELECT id, event_id, type, occurred_at, data FROM webhook_events WHERE id IN ({marks})",
                              *pks)
        return {int(row["id"]): row for row in rows}

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Deliver everything due now, following each member's order (tests, ``worker --once``)."""
        total = 0
        for _ in range(max_batches):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def claim(self) -> list[dict[str, Any]]:
        now = clock.now()
        sql = _CLAIM_PG if db.is_postgres() else _CLAIM_SQLITE
        return await db.fetch(sql, now + timedelta(seconds=self.lease_s), uuid.uuid4().hex, now, self.batch_size,
                              True)

    async def deliver(self, claimed: dict[str, Any], event: dict[str, Any] | None = None,
                      endpoint: dict[str, Any] | None = None, *, succeeded: list[Succeeded] | None = None) -> None:
        """One attempt of one claimed delivery, and its outcome written (if the lease is still ours).

        ``event``, ``endpoint``: their rows when the batch read them already (else read here); ``succeeded``:
        where a success is left for the batch to write back with the others (``run_once``), instead of
        written at once."""
        async with self._limit:
            if event is None:
                event = await db.fetch_one("SELECT event_id, type, occurred_at, data FROM webhook_events WHERE id = $1",
                                           int(claimed["event_pk"]))
            if endpoint is None:
                endpoint = await db.fetch_one(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1",
                                              int(claimed["endpoint_id"]))
            if event is None or endpoint is None:
                await self._finish(claimed, status="dead", code=None, error="event or endpoint removed", ms=None)
                return
            body = body_of(event)
            # The signed timestamp is the wall clock: receivers check it against theirs, whatever clock the
            # deployment's business time follows (a test clock).
            head = signing.headers(msg_id=event["event_id"], timestamp=int(time.time()), body=body,
                                   secrets_=signing_secrets(endpoint, self.pii))
            started = time.perf_counter()
            code: int | None = None
            retry_after: int | None = None
            try:
                if self.settings.app_env not in ("dev", "test"):
                    await urls.check(endpoint["url"], app_env=self.settings.app_env,
                                     allow_hosts=self.settings.webhook_allow_hosts)
                response = await self.client.post(endpoint["url"], content=body.encode(),
                                                  headers={**head, "content-type": "application/json"})
                code = response.status_code
                error = None if 200 <= code < 300 else f"HTTP {code}"
                if code in (429, 503):
                    retry_after = retry_after_s(response.headers.get("retry-after"))
            except DomainError as exc:
                error = f"{exc.code}: {exc.details.get('reason')}"
            except httpx.TimeoutException:
                error = f"timeout after {self.timeout_s:g} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            ms = int((time.perf_counter() - started) * 1000)
            if error is None:
                if succeeded is not None:
                    succeeded.append(Succeeded(claimed, code, ms, clock.now()))
                else:
                    await self._finish(claimed, status="succeeded", code=code, error=None, ms=ms)
                if endpoint["failing_since"] is not None:  # as read for the batch; a later batch rereads it
                    await db.fetch("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 "
                                   "AND failing_since IS NOT NULL", int(endpoint["id"]))
                return
            await self._failed(claimed, endpoint, code=code, error=error, ms=ms, retry_after=retry_after)

    async def _failed(self, claimed: dict[str, Any], endpoint: dict[str, Any], *, code: int | None, error: str,
                      ms: int, retry_after: int | None) -> None:
        now = clock.now()
        attempts = int(claimed["attempts"]) + 1
        endpoint_id = int(endpoint["id"])
        if code == 410:
            await self._finish(claimed, status="dead", code=code, error=error, ms=ms)
            await self._disable(endpoint_id, "接收方返回 410 Gone：端点已停用", now)
            return
        if attempts > len(RETRY_SCHEDULE_S):
            await self._finish(claimed, status="dead", code=code, error=error, ms=ms)
        else:
            delay = RETRY_SCHEDULE_S[attempts - 1]
            if retry_after is not None:
                delay = min(max(retry_after, 1), MAX_RETRY_AFTER_S)
            await self._finish(claimed, status="failed", code=code, error=error, ms=ms,
                               next_at=now + timedelta(seconds=delay))
        await db.fetch("UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
                       endpoint_id, now)
        row = await db.fetch_one("SELECT failing_since FROM webhook_endpoints WHERE id = $1", endpoint_id)
        since = db.to_datetime(row["failing_since"]) if row else None
        if since is not None and now - since >= FAILING_DISABLE_AFTER:
            await self._disable(endpoint_id, f"连续 {FAILING_DISABLE_AFTER.days} 天投递失败（最近一次：{error}）", now)

    async def _disable(self, endpoint_id: int, reason: str, now: datetime) -> None:
        rows = await db.fetch("UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, disabled_at = $4, "
                              "updated_at = $4 WHERE id = $1 AND enabled = $5 RETURNING id",
                              endpoint_id, False, reason[:300], now, True)
        if rows:
            log.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint_id, "reason": reason})
            await audit.record(actor=audit.SYSTEM, action="webhook_endpoint.disable", target_type="webhook_endpoint",
                               target_id=endpoint_id, after={"enabled": False, "disabled_reason": reason[:300]})
            outbox.forget()

    async def _succeeded(self, done: list[Succeeded]) -> None:
        """Write back successful attempts (those whose lease is still ours): one statement on PostgreSQL."""
        if not done:
            return
        if not db.is_postgres():
            for item in done:
                await self._finish(item.claimed, status="succeeded", code=item.code, error=None, ms=item.ms,
                                   at=item.at)
            return
        rows = await db.fetch(
            "UPDATE webhook_deliveries d SET status = 'succeeded', attempts = d.attempts + 1, "
            "last_status_code = u.code, last_error = NULL, last_response_ms = u.ms, last_attempt_at = u.at, "
            "updated_at = u.at, next_attempt_at = u.at, lease_until = NULL, lease_token = NULL "
            "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::timestamptz[]) AS u(id, token, code, ms, at) "
            "WHERE d.id = u.id AND d.lease_token = u.token RETURNING d.id",
            [int(item.claimed["id"]) for item in done], [item.claimed["lease_token"] for item in done],
            [item.code for item in done], [item.ms for item in done], [item.at for item in done])
        written = {int(row["id"]) for row in rows}
        for item in done:
            if int(item.claimed["id"]) not in written:
                log.warning("webhook delivery outcome dropped: its lease went to another worker",
                            extra={"delivery_id": item.claimed["id"]})

    async def _finish(self, claimed: dict[str, Any], *, status: str, code: int | None, error: str | None,
                      ms: int | None, next_at: datetime | None = None, at: datetime | None = None) -> None:
        now = at or clock.now()
        rows = await db.fetch(
            "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, last_status_code = $4, "
            "last_error = $5, last_response_ms = $6, last_attempt_at = $7, updated_at = $7, "
            "next_attempt_at = $8, lease_until = NULL, lease_token = NULL "
            "WHERE id = $1 AND lease_token = $2 RETURNING id",
            int(claimed["id"]), claimed["lease_token"], status, code, error[:300] if error else None, ms, now,
            next_at or now)
        if not rows:
            log.warning("webhook delivery outcome dropped: its lease went to another worker",
                        extra={"delivery_id": claimed["id"]})


async def run_webhook_worker(settings: Settings, stop: asyncio.Event, *, once: bool = False) -> int:
    """The worker on an already initialised database: until ``stop``, or what is due now with ``once``."""
    worker = WebhookWorker(settings)
    try:
        if once:
            return await worker.drain()
        await worker.run(stop)
        return 0
    finally:
        await worker.close()
