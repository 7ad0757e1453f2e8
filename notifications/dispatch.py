"""The worker: claims due messages, passes each through the rules, sends, and records what happened.

Per message, in this order, each step leaving a recorded state:

1. consent (marketing needs an opt-in per channel; service goes unless withdrawn; WeChat needs a
   subscribe grant), 2. channel choice (the first channel in priority order the member can receive
   on), 3. quiet hours (marketing waits for the window's end), 4. frequency caps (reserved
   atomically in the key-value store), 5. send, with retries and backoff on transient failures.

Claiming is ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers run side by
side. A claimed message carries a lease: ``claimed`` means nothing was sent yet, ``sending`` that the
provider may have been called. When a lease runs out (the worker died), a ``claimed`` message goes
back to the queue; a ``sending`` marketing message ends ``unknown`` (a missed promotion beats a
duplicate) and a ``sending`` service message is sent again (a receipt must arrive).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from backend import clock, db
from backend.errors import DependencyUnavailable
from backend.kv import KV, Cap
from backend.members import events
from backend.security.pii import PiiCipher
from backend.settings import Settings
from notifications import links, policy, rendering, templates
from notifications.channels.base import Channel, Outgoing, SendResult
from notifications.channels.log import mask_recipient
from notifications.policy import WINDOW_SECONDS, Policy

log = logging.getLogger("notifications.worker")

_COLUMNS = ("id, member_id, template_key, purpose, channels, dedupe_key, touch_id, context, cap_behaviour, "
            "attempts, due_at, expires_at")
_CLAIM_PG = (
    "UPDATE messages SET status = 'claimed', claimed_by = $1, lease_until = $2, updated_at = $3 "
    "WHERE id IN (SELECT id FROM messages WHERE status IN ('queued', 'deferred') AND due_at <= $3 "
    "ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " + _COLUMNS)
# SQLite has one writer at a time: the UPDATE itself is the claim.
_CLAIM_SQLITE = (
    "UPDATE messages SET status = 'claimed', claimed_by = $1, lease_until = $2, updated_at = $3 "
    "WHERE id IN (SELECT id FROM messages WHERE status IN ('queued', 'deferred') AND due_at <= $3 "
    "ORDER BY due_at, id LIMIT $4) RETURNING " + _COLUMNS)
_RECLAIM = (
    ("UPDATE messages SET status = 'queued', claimed_by = NULL, lease_until = NULL, updated_at = $1 "
     "WHERE status = 'claimed' AND lease_until < $1", "requeued"),
    ("UPDATE messages SET status = 'unknown', reason = 'worker_lost_during_send: not sent again', "
     "finished_at = $1, updated_at = $1 WHERE status = 'sending' AND lease_until < $1 AND purpose = 'marketing'",
     "unknown"),
    ("UPDATE messages SET status = 'queued', due_at = $1, claimed_by = NULL, lease_until = NULL, "
     "reason = 'worker_lost_during_send: sending again', updated_at = $1 "
     "WHERE status = 'sending' AND lease_until < $1 AND purpose = 'service'", "resent"),
)
_WRITE_PG = (
    "UPDATE messages AS m SET status = v.status, reason = v.reason, channel = v.channel, provider = v.provider, "
    "provider_message_id = v.pid, recipient = v.recipient, rendered = v.rendered::jsonb, attempts = v.attempts, "
    "due_at = v.due_at, lease_until = v.lease_until, sent_at = v.sent_at, finished_at = v.finished_at, "
    "claimed_by = CASE WHEN v.status IN ('queued', 'deferred') THEN NULL ELSE m.claimed_by END, updated_at = $13 "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::text[], $9::int[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $15::timestamptz[], "
    "$16::text[]) AS v(id, status, reason, channel, provider, pid, recipient, rendered, attempts, due_at, "
    "lease_until, sent_at, finished_at, expect) "
    "WHERE m.id = v.id AND m.claimed_by = $14 AND (m.status = v.expect OR (v.expect = 'sending' AND m.status = 'unknown')) "
    "RETURNING m.id")
_WRITE_SQLITE = (
    "UPDATE messages SET status = $2, reason = $3, channel = $4, provider = $5, provider_message_id = $6, "
    "recipient = $7, rendered = $8, attempts = $9, due_at = $10, lease_until = $11, sent_at = $12, "
    "finished_at = $15, claimed_by = CASE WHEN $2 IN ('queued', 'deferred') THEN NULL ELSE claimed_by END, "
    "updated_at = $13 WHERE id = $1 AND claimed_by = $14 AND (status = $16 OR ($16 = 'sending' AND status = 'unknown')) "
    "RETURNING id")


@dataclass
class Recipient:
    active: bool
    phone: str | None
    email: str | None
    openid: str | None
    consents: dict[tuple[str, str], bool]
    grants: dict[str, int]
    member: dict[str, Any]


@dataclass
class Job:
    """One claimed message on its way through the rules; its fields are what gets written back."""

    row: dict[str, Any]
    status: str = "claimed"
    reason: str | None = None
    channel: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    recipient: str | None = None
    rendered: dict[str, Any] | None = None
    attempts: int = 0
    due_at: datetime | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    expect: str = "claimed"
    cap_keys: list[str] = field(default_factory=list)
    outgoing: Outgoing | None = None
    grant_template: str | None = None

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def purpose(self) -> str:
        return str(self.row["purpose"])

    def end(self, status: str, reason: str | None, now: datetime) -> None:
        self.status, self.reason, self.finished_at, self.lease_until = status, reason, now, None

    def later(self, status: str, due: datetime, reason: str | None) -> None:
        self.status, self.due_at, self.reason, self.lease_until = status, due, reason, None


@asynccontextmanager
async def _same(conn: Any) -> AsyncIterator[Any]:
    yield conn


class Pace:
    """At most ``qps`` calls a second from this process (0: no limit)."""

    def __init__(self, qps: float) -> None:
        self._interval = 1.0 / qps if qps > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass(frozen=True)
class ChannelLimits:
    concurrency: int
    qps: float


class Dispatcher:
    def __init__(self, *, settings: Settings, kv: KV, pii: PiiCipher, channels: dict[str, Channel],
                 limits: dict[str, ChannelLimits] | None = None, batch_size: int = 100,
                 worker_id: str | None = None) -> None:
        self.settings = settings
        self.kv = kv
        self.pii = pii
        self.channels = channels
        self.batch_size = batch_size
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self.tz = ZoneInfo(settings.timezone)
        limits = limits or {}
        self._slots = {name: asyncio.Semaphore(limits[name].concurrency if name in limits else 16)
                       for name in channels}
        self._pace = {name: Pace(limits[name].qps if name in limits else 0) for name in channels}
        self._random = random.Random()
        self._last_reclaim = 0.0

    # -- the loop --------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, loops: int = 2, idle_s: float = 1.0) -> None:
        """Work until ``stop`` is set: ``loops`` batches in flight, each claiming as soon as it finishes."""
        async def loop() -> None:
            while not stop.is_set():
                try:
                    done = await self.run_once()
                except DependencyUnavailable as exc:
                    log.warning("worker waiting for a dependency: %s", exc.details)
                    done = 0
                except Exception:
                    log.exception("worker batch failed; its messages return to the queue when the lease ends")
                    done = 0
                if not done:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=idle_s)
                    except TimeoutError:
                        pass

        await asyncio.gather(*(loop() for _ in range(loops)))

    async def run_once(self) -> int:
        """Reclaim expired leases (at most every few seconds), then claim and process one batch."""
        if time.monotonic() - self._last_reclaim >= 5.0:
            self._last_reclaim = time.monotonic()
            await self.reclaim()
        rows = await self.claim()
        if rows:
            await self.process(rows)
        return len(rows)

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Process everything due now (tests, the CLI's --once); the number of messages handled."""
        total = 0
        await self.reclaim()
        for _ in range(max_batches):
            rows = await self.claim()
            if not rows:
                break
            await self.process(rows)
            total += len(rows)
        return total

    async def reclaim(self) -> dict[str, int]:
        now = clock.now()
        counts: dict[str, int] = {}
        for sql, label in _RECLAIM:
            rows = await db.fetch(sql + " RETURNING id", now)
            if rows:
                counts[label] = len(rows)
        if counts:
            log.warning("reclaimed messages whose worker stopped", extra=counts)
        return counts

    async def claim(self) -> list[dict[str, Any]]:
        rules = await policy.load()
        now = clock.now()
        sql = _CLAIM_PG if db.is_postgres() else _CLAIM_SQLITE
        rows = await db.fetch(sql, self.worker_id, now + timedelta(seconds=rules.lease_s), now, self.batch_size)
        rows.sort(key=lambda row: int(row["id"]))  # the oldest first within the batch, as caps count them
        for row in rows:
            for name in ("channels", "context"):
                if isinstance(row[name], str | bytes):
                    row[name] = json.loads(row[name])
        return rows

    # -- one batch -------------------------------------------------------------------------------------

    async def process(self, rows: list[dict[str, Any]]) -> None:
        rules = await policy.load()
        now = clock.now()
        recipients = await self.recipients({int(row["member_id"]) for row in rows})
        jobs = [Job(row=row, attempts=int(row["attempts"]), due_at=db.to_datetime(row["due_at"])) for row in rows]
        for job in jobs:
            template = await templates.get(job.row["template_key"])
            try:
                await self._decide(job, template, recipients.get(int(job.row["member_id"])), rules, now)
            except DependencyUnavailable:
                await self._unreserve(job)
                job.later("queued", now + timedelta(seconds=30), "dependency_unavailable: retrying")
        sending = [job for job in jobs if job.status == "sending"]
        for job in sending:
            job.lease_until = now + timedelta(seconds=rules.lease_s)
        written = await self._write(jobs, now)
        lost = [job for job in sending if job.id not in written]
        for job in lost:  # another worker took it after our lease ran out: not ours to send
            await self._unreserve(job)
        await asyncio.gather(*(self._send(job, rules) for job in sending if job.id in written))
        for job in sending:
            job.expect = "sending"
        async with in_transaction() as conn:
            done = await self._write([job for job in sending if job.id in written], clock.now(), conn=conn)
            # The member timeline shows what reached them, committed with the message's state.
            await events.append_many(
                [(int(job.row["member_id"]), {"message_id": job.id, "template_key": job.row["template_key"],
                                              "channel": job.channel, "touch_id": job.row["touch_id"]})
                 for job in sending if job.id in done and job.status == "sent"],
                type="message_sent", using_db=conn)
            # ... and what failed for good (a retry ahead is not a failure yet).
            await events.append_many(
                [(int(job.row["member_id"]), {"message_id": job.id, "template_key": job.row["template_key"],
                                              "channel": job.channel, "touch_id": job.row["touch_id"],
                                              "reason": (job.reason or "")[:200]})
                 for job in sending if job.id in done and job.status == "failed"],
                type="message_failed", using_db=conn)

    async def _decide(self, job: Job, template: dict[str, Any] | None, who: Recipient | None, rules: Policy,
                      now: datetime) -> None:
        row = job.row
        expires = db.to_datetime(row["expires_at"])
        if template is None:
            return job.end("cancelled", "template_removed", now)
        if who is None or not who.active:
            return job.end("cancelled", "member_inactive", now)
        if expires is not None and now >= expires:
            return job.end("expired", "past_expiry", now)
        # 1-2. consent and channel choice
        job.channel, refusal = self.choose_channel(row["channels"] or template["channels"], template, who,
                                                   job.purpose)
        if job.channel is None:
            assert refusal is not None
            return job.end(*refusal, now)
        # 3. quiet hours
        if job.purpose == "marketing":
            quiet_end = rules.quiet_hours.window_end(now, self.tz)
            if quiet_end is not None:
                due = quiet_end + timedelta(seconds=self._random.uniform(0, rules.quiet_hours.jitter_s))
                if expires is not None and due >= expires:
                    return job.end("expired", "quiet_hours_until_expiry", now)
                return job.later("deferred", due, "quiet_hours")
        # 4. frequency caps
        capped = await self._reserve(job, who, rules, now)
        if capped is not None:
            if row["cap_behaviour"] == "defer" and (expires is None or capped < expires):
                return job.later("deferred", capped, "frequency_cap")
            return job.end("capped", "frequency_cap", now)
        # render (on the render threads, under the template's budget), then claim a WeChat grant
        content = template["content"]
        try:
            job.rendered = await rendering.render_channel(content, job.channel, self._variables(job, who, now))
        except rendering.RenderTooCostly as exc:  # this member's data took the template past a bound
            await self._unreserve(job)
            return job.end("failed", f"template_too_costly: {exc}", now)
        except rendering.RenderError as exc:
            await self._unreserve(job)
            return job.end("failed", f"render_error: {exc}", now)
        job.outgoing = self._outgoing(job, who)
        if job.channel == "wechat" and self.channels["wechat"].provider != "log":
            if not await self._take_grant(int(row["member_id"]), job.rendered["template_id"]):
                await self._unreserve(job)
                return job.end("no_consent", "wechat: no_grant", now)
            job.grant_template = job.rendered["template_id"]
        job.status = "sending"
        job.attempts += 1
        job.provider = self.channels[job.channel].provider
        job.recipient = mask_recipient(job.channel, job.outgoing.to)
        job.reason = None

    def choose_channel(self, channels: list[str], template: dict[str, Any], who: Recipient, purpose: str
                       ) -> tuple[str | None, tuple[str, str] | None]:
        """The first channel the member can receive on, or the final (status, reason) when none can."""
        reasons: dict[str, str] = {}
        for channel in channels:
            reason = self._unavailable(channel, template, who, purpose)
            if reason is None:
                return channel, None
            reasons[channel] = reason
        summary = "; ".join(f"{c}: {r}" for c, r in reasons.items()) or "no_channel"
        consent_blocked = any(r in ("no_consent", "no_grant") for r in reasons.values())
        return None, ("no_consent" if consent_blocked else "failed", summary)

    def _unavailable(self, channel: str, template: dict[str, Any], who: Recipient, purpose: str) -> str | None:
        part = template["content"].get(channel)
        if part is None or channel not in self.channels:
            return "no_content"
        live = self.channels[channel].provider != "log"
        if channel in ("sms", "wechat") and live and not part.get("template_id"):
            return "no_provider_template"
        address = {"sms": who.phone, "email": who.email, "wechat": who.openid}[channel]
        if not address:
            return "no_address"
        state = who.consents.get((channel, purpose))
        if (state is not True) if purpose == "marketing" else (state is False):
            return "no_consent"
        if channel == "wechat" and live and who.grants.get(part["template_id"], 0) <= 0:
            return "no_grant"
        return None

    async def _reserve(self, job: Job, who: Recipient, rules: Policy, now: datetime) -> datetime | None:
        """Count the message against its caps; when one is full, when that cap frees up (else None)."""
        caps = rules.caps_for(job.channel or "", job.purpose)
        if not caps:
            return None
        keys = self.cap_keys(int(job.row["member_id"]), caps, now)
        now_ms = int(now.timestamp() * 1000)
        full, oldest_ms = await self.kv.reserve(keys, str(job.id), now_ms)
        if not full:
            job.cap_keys = [cap.key for cap in keys]
            return None
        cap, rule = keys[full - 1], caps[full - 1]
        if rule.window == "day":
            local = now.astimezone(self.tz)
            frees = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        else:
            frees = datetime.fromtimestamp((oldest_ms + cap.window_ms) / 1000, tz=now.tzinfo)
        return frees + timedelta(seconds=self._random.uniform(1, min(600, rules.quiet_hours.jitter_s) + 1))

    def cap_keys(self, member_id: int, caps: list[Any], now: datetime) -> list[Cap]:
        local_day = now.astimezone(self.tz).date().isoformat()
        keys: list[Cap] = []
        for cap in caps:
            base = f"cap:{member_id}:{cap.channel}:{cap.purpose}:{cap.window}"
            if cap.window == "day":
                keys.append(Cap(f"{base}:{local_day}", cap.limit, 0, 2 * 86400))
            else:
                keys.append(Cap(base, cap.limit, WINDOW_SECONDS[cap.window] * 1000, WINDOW_SECONDS[cap.window] + 60))
        return keys

    async def would_cap(self, member_id: int, channel: str, purpose: str, rules: Policy, now: datetime) -> bool:
        """Whether one more message now would hit a cap (nothing is reserved)."""
        caps = rules.caps_for(channel, purpose)
        return bool(caps) and await self.kv.full(self.cap_keys(member_id, caps, now), int(now.timestamp() * 1000))

    async def _unreserve(self, job: Job) -> None:
        if job.cap_keys:
            await self.kv.unreserve(job.cap_keys, str(job.id))
            job.cap_keys = []

    async def _take_grant(self, member_id: int, template_id: str) -> bool:
        row = await db.fetch_one(
            "UPDATE wechat_subscribe_grants SET credits = credits - 1, updated_at = $3 "
            "WHERE member_id = $1 AND template_id = $2 AND credits > 0 RETURNING credits",
            member_id, template_id, clock.now())
        return row is not None

    async def _give_back_grant(self, job: Job) -> None:
        if job.grant_template:
            await db.fetch("UPDATE wechat_subscribe_grants SET credits = credits + 1, updated_at = $3 "
                           "WHERE member_id = $1 AND template_id = $2",
                           int(job.row["member_id"]), job.grant_template, clock.now())
            job.grant_template = None

    def _variables(self, job: Job, who: Recipient, now: datetime) -> dict[str, Any]:
        return rendering.variables(member=who.member, event=job.row["context"] or {},
                                   merchant=self.settings.merchant_name, now=now, tz=self.tz)

    def _outgoing(self, job: Job, who: Recipient) -> Outgoing:
        r = job.rendered or {}
        base = {"message_id": job.id, "channel": job.channel, "purpose": job.purpose}
        if job.channel == "sms":
            return Outgoing(**base, to=who.phone or "", sms_template_id=r["template_id"],
                            sms_params=tuple(r["params"]), text=r["text"])
        if job.channel == "email":
            headers: dict[str, str] = {}
            if job.purpose == "marketing":
                url = links.unsubscribe_url(self.settings.public_base_url, self.settings.secret_key,
                                            int(job.row["member_id"]))
                headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
            return Outgoing(**base, to=who.email or "", subject=r["subject"], text=r["text"], html=r["html"],
                            headers=headers)
        return Outgoing(**base, to=who.openid or "", wechat_template_id=r["template_id"], wechat_page=r["page"],
                        wechat_data=dict(r["fields"]))

    # -- sending ---------------------------------------------------------------------------------------

    async def _send(self, job: Job, rules: Policy) -> None:
        assert job.outgoing is not None and job.channel is not None
        channel = self.channels[job.channel]
        async with self._slots[job.channel]:
            await self._pace[job.channel].wait()
            try:
                result = await channel.send(job.outgoing)
            except Exception as exc:  # a channel bug must not lose the message: retry it like an outage
                log.exception("channel %s raised", job.channel)
                result = SendResult("transient", provider=channel.provider, reason=f"{type(exc).__name__}")
        now = clock.now()
        job.provider = result.provider
        if result.outcome == "sent":
            job.provider_message_id = result.provider_message_id
            job.sent_at = now
            return job.end("sent", None, now)
        if result.outcome != "no_consent":  # not taken: the grant is good for the next try
            await self._give_back_grant(job)
        if result.outcome == "transient":
            if job.attempts >= rules.retry.max_attempts:
                await self._unreserve(job)
                return job.end("failed", f"gave_up_after_{job.attempts}_attempts: {result.reason}", now)
            delay = min(rules.retry.max_s, rules.retry.base_s * 2 ** (job.attempts - 1))
            delay = max(self._random.uniform(delay / 2, delay), result.retry_after_s or 0)
            return job.later("queued", now + timedelta(seconds=delay), f"retrying: {result.reason}")
        await self._unreserve(job)
        if result.outcome == "defer":
            job.attempts -= 1  # the provider's quota, not a failed attempt
            due = now + timedelta(seconds=max(result.retry_after_s or 0, rules.retry.provider_defer_s))
            expires = db.to_datetime(job.row["expires_at"])
            if expires is not None and due >= expires:
                return job.end("expired", f"provider_quota_until_expiry: {result.reason}", now)
            return job.later("deferred", due, f"provider_quota: {result.reason}")
        if result.outcome == "no_consent":
            await self._clear_grant(job)
            return job.end("no_consent", result.reason, now)
        if result.outcome == "withdrawn":
            await self._withdraw(int(job.row["member_id"]), job.channel, source="sms_blacklist")
            return job.end("no_consent", result.reason, now)
        return job.end("failed", result.reason, now)

    async def _clear_grant(self, job: Job) -> None:
        if job.outgoing is not None and job.outgoing.wechat_template_id:
            await db.fetch("UPDATE wechat_subscribe_grants SET credits = 0, updated_at = $3 "
                           "WHERE member_id = $1 AND template_id = $2",
                           int(job.row["member_id"]), job.outgoing.wechat_template_id, clock.now())

    async def _withdraw(self, member_id: int, channel: str, *, source: str) -> None:
        from notifications.inbound import withdraw

        await withdraw(member_id=member_id, channel=channel, source=source)

    # -- reads and writes ------------------------------------------------------------------------------

    async def recipients(self, member_ids: set[int]) -> dict[int, Recipient]:
        ids = sorted(member_ids)
        marks = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
        app = len(ids) + 1
        from backend.loyalty import program as loyalty_program

        tiers = await loyalty_program.load()
        async with db.reader() as read:
            members = await read.fetch(
                "SELECT m.id, m.status, m.phone_enc, m.email, m.nickname, m.member_no, m.birthday, "
                "a.points_balance, a.principal_cents, a.bonus_cents, a.tier_code FROM members m "
                f"LEFT JOIN loyalty_accounts a ON a.member_id = m.id WHERE m.id IN ({marks})", *ids)
            consents = await read.fetch(
                f"SELECT member_id, channel, purpose, granted FROM member_consents WHERE member_id IN ({marks})",
                *ids)
            openids = await read.fetch(
                f"SELECT member_id, openid FROM wechat_accounts WHERE member_id IN ({marks}) AND app_id = ${app}",
                *ids, self.settings.wechat_app_id or "sandbox")
            grants = await read.fetch(
                f"SELECT member_id, template_id, credits FROM wechat_subscribe_grants WHERE member_id IN ({marks}) "
                "AND credits > 0", *ids)
        out: dict[int, Recipient] = {}
        for m in members:
            phone = None
            if m["phone_enc"]:
                try:
                    phone = self.pii.decrypt(m["phone_enc"])
                except ValueError:
                    log.error("member %s phone does not decrypt with this PII key", m["id"])
            balance = int(m["principal_cents"] or 0) + int(m["bonus_cents"] or 0)
            birthday = db.to_date(m["birthday"])
            out[int(m["id"])] = Recipient(
                active=m["status"] == "active", phone=phone, email=m["email"], openid=None, consents={}, grants={},
                member={"name": m["nickname"] or "会员", "nickname": m["nickname"] or "", "member_no": m["member_no"],
                        "tier_name": tiers.tier(m["tier_code"]).name, "points": int(m["points_balance"] or 0),
                        "balance_yuan": f"{balance // 100}.{balance % 100:02d}",
                        "birthday": birthday.isoformat() if birthday else ""})
        for c in consents:
            if int(c["member_id"]) in out:
                out[int(c["member_id"])].consents[(c["channel"], c["purpose"])] = bool(c["granted"])
        for o in openids:
            if int(o["member_id"]) in out:
                out[int(o["member_id"])].openid = o["openid"]
        for g in grants:
            if int(g["member_id"]) in out:
                out[int(g["member_id"])].grants[g["template_id"]] = int(g["credits"])
        return out

    async def _write(self, jobs: list[Job], now: datetime, conn: Any = None) -> set[int]:
        """Write every job's fields back in one statement (one transaction on SQLite); the ids written."""
        if not jobs:
            return set()
        values = [(job.id, job.status, job.reason, job.channel, job.provider, job.provider_message_id,
                   job.recipient, json.dumps(job.rendered, ensure_ascii=False) if job.rendered is not None else None,
                   job.attempts, job.due_at, job.lease_until, job.sent_at, job.finished_at, job.expect)
                  for job in jobs]
        if db.is_postgres():
            columns = list(zip(*values, strict=True))
            rows = await db.fetch(_WRITE_PG, *[list(c) for c in columns[:12]], now, self.worker_id,
                                  list(columns[12]), list(columns[13]), conn=conn)
            return {int(r["id"]) for r in rows}
        written: set[int] = set()
        async with in_transaction() if conn is None else _same(conn) as tx:
            for v in values:
                rows = await db.fetch(_WRITE_SQLITE, *v[:12], now, self.worker_id, v[12], v[13], conn=tx)
                written.update(int(r["id"]) for r in rows)
        return written
