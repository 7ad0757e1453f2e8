"""Workers side by side and workers that die: caps hold under 32 concurrent workers, a killed worker
loses nothing, and a marketing message it may have sent is never sent again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from notifications.dispatch import Dispatcher
from notifications.models import FINAL, Message
from tests.factories import bearer
from tests.notify_helpers import add_promo, admin_token, messages, put_policy, queue, shopper

pytestmark = pytest.mark.usefixtures("every_message_ends_final")

NOTICE = {"key": "notice", "name": "服务通知", "purpose": "service", "channels": ["sms"],
          "content": {"sms": {"template_id": "400001", "params": ["{{ event.n }}"], "text": "服务通知 {{ event.n }}"}}}


def worker(stack, batch_size: int = 10) -> Dispatcher:
    return Dispatcher(settings=stack.settings, kv=stack.kv, pii=stack.pii, channels=stack.dispatcher.channels,
                      batch_size=batch_size)


async def add_notice(stack, admin):
    response = await stack.http.post("/api/v1/admin/message-templates", json=NOTICE, headers=bearer(admin))
    assert response.status_code == 201, response.text


@pytest.mark.postgres_only
async def test_32_workers_never_exceed_a_cap_and_never_send_a_message_twice(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(16)]
    for member_id in members:
        for _ in range(5):
            await queue(member_id)
    workers = [worker(stack, batch_size=3) for _ in range(32)]
    await asyncio.gather(*(w.drain() for w in workers))

    for member_id in members:
        statuses = Counter(m.status for m in await messages(member_id, "promo"))
        assert statuses == {"sent": 1, "capped": 4}, (member_id, statuses)  # marketing SMS ≤ 1 a day
    contexts = Counter(s["session_context"] for s in stack.sms.sent)
    assert len(contexts) == 16 and max(contexts.values()) == 1


async def test_an_expired_lease_requeues_claimed_messages_ends_marketing_unknown_and_resends_service(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    await add_notice(stack, admin)
    await put_policy(stack, admin, caps=[])
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    promo = await queue(member_id)
    notice = await queue(member_id, "notice", context={"n": 1})
    untouched = await queue(member_id, "notice", context={"n": 2})

    dead = worker(stack)
    claimed = {int(row["id"]): row for row in await dead.claim()}
    assert set(claimed) >= {promo, notice, untouched}
    # It marked two as sending (the provider may have been called) and then died.
    from notifications.dispatch import Job

    jobs = [Job(row=claimed[i], status="sending", lease_until=stack.clock.now() + timedelta(seconds=120),
                due_at=stack.clock.now()) for i in (promo, notice)]
    assert await dead._write(jobs, stack.clock.now()) == {promo, notice}

    alive = worker(stack)
    assert await alive.drain() == 0  # the leases still run: nobody else touches them
    stack.clock.advance(seconds=121)
    await alive.drain()
    rows = {m.id: m for m in await messages(member_id)}
    assert rows[promo].status == "unknown" and "not sent again" in rows[promo].reason
    assert rows[notice].status == "sent" and rows[untouched].status == "sent"
    assert sorted(s["params"][0] for s in stack.sms.sent if s["template_id"] == "400001") == ["1", "2"]
    assert all(s["session_context"] != str(promo) for s in stack.sms.sent)
    # The dead worker's late write-back finds the messages are no longer its own to finish.
    assert await dead._write(jobs, stack.clock.now()) == set()


@pytest.mark.postgres_only
async def test_a_worker_killed_mid_batch_loses_nothing_and_sends_no_promotion_twice(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    await add_notice(stack, admin)
    await put_policy(stack, admin, caps=[], quiet_hours={"enabled": False, "start": "21:00", "end": "09:00",
                                                         "jitter_s": 0})
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(6)]
    for member_id in members:
        for n in range(25):
            await queue(member_id, dedupe=f"promo:{member_id}:{n}")
            await queue(member_id, "notice", context={"n": n}, dedupe=f"notice:{member_id}:{n}")
    ids = {m.id: m.purpose for m in await Message.filter(template_key__in=["promo", "notice"])}
    stack.sms.latency_s = 0.3  # every send is in flight for a while

    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR", "SMS_CONCURRENCY": "8"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "worker", "--batch", "40", "--loops", "2", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while stack.sms.count("calls") < 30:
            if process.returncode is not None:
                raise AssertionError((await process.stderr.read()).decode()[-2000:])
            assert time.monotonic() < deadline, "the worker sent nothing within a minute"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await asyncio.sleep(0.5)  # sends the fake was still answering when the worker died
    mid = Counter(m.status for m in await Message.filter(id__in=list(ids)))
    assert mid["sending"] > 0, mid  # killed with sends in flight
    stack.sms.latency_s = 0.0

    stack.clock.set(datetime.now(UTC) + timedelta(seconds=125))  # past the dead worker's leases
    await worker(stack, batch_size=100).drain()
    rows = await Message.filter(id__in=list(ids))
    assert all(m.status in FINAL for m in rows), Counter(m.status for m in rows)
    by_context = Counter(s["session_context"] for s in stack.sms.sent)
    for m in rows:
        at_provider = by_context[str(m.id)]
        if m.purpose == "marketing":
            assert at_provider <= 1, m.id  # never twice
            assert m.status in ("sent", "unknown")
            assert at_provider == 1 or m.status == "unknown"
        else:
            assert m.status == "sent" and at_provider >= 1  # a receipt must arrive
    statuses = Counter(m.status for m in rows if m.purpose == "marketing")
    assert statuses["unknown"] >= 1 and statuses["sent"] + statuses["unknown"] == 150
