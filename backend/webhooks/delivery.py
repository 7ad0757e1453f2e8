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
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
import uuid
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

_DUE = (
    "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled = $5 "
    "WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $3 "
    "AND (d.lease_until IS NULL OR d.lease_until < $3) "
    "AND (d.member_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id "
    "AND p.member_id = d.member_id AND p.event_pk < d.event_pk AND p.status IN ('pending', 'failed'))) "
    "ORDER BY d.next_attempt_at, d.id LIMIT $4")
_CLAIM = ("UPDATE webhook_deliveries SET lease_until = $1, lease_token = $2, updated_at = $3 WHERE id IN ({due}) "
          "RETURNING id, endpoint_id, event_pk, member_id, attempts, lease_token")
_CLAIM_PG = _CLAIM.format(due=_DUE + " FOR UPDATE OF d SKIP LOCKED")
_CLAIM_SQLITE = _CLAIM.format(due=_DUE)  # one process, one writer: the UPDATE itself is the claim


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


class WebhookWorker:
    """Delivers due webhook deliveries; ``run`` until stopped, ``drain`` what is due now."""

    def __init__(self, settings: Settings, *, pii: PiiCipher | None = None, batch_size: int = 50,
                 concurrency: int = 16, lease_s: int = LEASE_S, timeout_s: float | None = None) -> None:
        self.settings = settings
        self.pii = pii or PiiCipher(settings.pii_key)
        self.batch_size = batch_size
        self.timeout_s = timeout_s or settings.webhook_timeout_s
        # A lease outlives the slowest attempt, or a second worker would send while the first still waits.
        self.lease_s = max(lease_s, int(self.timeout_s * 2) + 15)
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
        await asyncio.gather(*(self.deliver(row) for row in rows))
        return len(rows)

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

    async def deliver(self, claimed: dict[str, Any]) -> None:
        """One attempt of one claimed delivery, and its outcome written (if the lease is still ours)."""
        async with self._limit:
            event = await db.fetch_one("SELECT event_id, type, occurred_at, data FROM webhook_events WHERE id = $1",
                                       int(claimed["event_pk"]))
            endpoint = await db.fetch_one(
                "SELECT id, url, enabled, secret_enc, previous_secret_enc, previous_secret_until "
                "FROM webhook_endpoints WHERE id = $1", int(claimed["endpoint_id"]))
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
                await self._finish(claimed, status="succeeded", code=code, error=None, ms=ms)
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

    async def _finish(self, claimed: dict[str, Any], *, status: str, code: int | None, error: str | None,
                      ms: int | None, next_at: datetime | None = None) -> None:
        now = clock.now()
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
