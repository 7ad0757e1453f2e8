"""Test clocks: move the deployment's time forward to watch expiry, reversal windows and birthdays happen.

Only with ``TEST_CLOCK=1`` outside production (production refuses to start with it). The offset lives in
one database row, so every process of the deployment — web, workers, scheduler — reads the same time:
each adds the offset to its clock and re-reads it every ``TEST_CLOCK_POLL_S``. Time only moves forward,
as with Stripe's test clocks: ledgers and expiry never see it go back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.models import Model

from backend import audit, clock, db

log = logging.getLogger("backend.testclock")
MAX_ADVANCE_S = 10 * 366 * 86400  # ten years at a time


class TestClockRow(Model):
    """The deployment's test clock offset (one row), read by every process."""

    id = fields.IntField(primary_key=True, generated=False)
    offset_s = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "test_clock"


class OffsetClock:
    """Another clock, moved forward by the deployment's offset."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offset_s = 0

    def now(self) -> datetime:
        return self.inner.now() + timedelta(seconds=self.offset_s)


_installed: OffsetClock | None = None
_poller: asyncio.Task[None] | None = None


async def _read() -> int:
    row = await db.fetch_one("SELECT offset_s FROM test_clock WHERE id = 1")
    return int(row["offset_s"]) if row else 0


async def _poll(every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await refresh()
        except Exception as exc:  # a database blip: keep the last offset, try again next time
            log.warning("test clock not refreshed: %s", exc)


async def refresh() -> int:
    if _installed is not None:
        _installed.offset_s = await _read()
    return _installed.offset_s if _installed else 0


async def start(settings: Any) -> None:
    """Put this process on the deployment's test clock (no-op unless ``TEST_CLOCK`` is on)."""
    global _installed, _poller
    if not getattr(settings, "test_clock", False):
        return
    if _installed is None or clock.current() is not _installed:
        _installed = OffsetClock(clock.current())
        clock.install(_installed)
    await refresh()
    if _poller is None or _poller.done():
        _poller = asyncio.get_running_loop().create_task(_poll(settings.test_clock_poll_s))


async def stop() -> None:
    global _installed, _poller
    if _poller is not None:
        _poller.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await _poller
        _poller = None
    if _installed is not None and clock.current() is _installed:
        clock.install(_installed.inner)
    _installed = None


def enabled() -> bool:
    return _installed is not None


async def advance(*, seconds: int, actor: audit.Actor) -> int:
    """Move the deployment's time forward by ``seconds``; the new offset."""
    before = await _read()
    # One statement, so two advances at once add up (SQLite ≥ 3.35 and PostgreSQL both speak it).
    row = await db.fetch_one(
        "INSERT INTO test_clock (id, offset_s, updated_at) VALUES (1, $1, $2) "
        "ON CONFLICT (id) DO UPDATE SET offset_s = test_clock.offset_s + $1, updated_at = $2 "
        "RETURNING offset_s", seconds, clock.now())
    offset = int(row["offset_s"]) if row else await _read()
    await refresh()
    await audit.record(actor=actor, action="test_clock.advance", target_type="test_clock", target_id=1,
                       before={"offset_s": before}, after={"offset_s": offset, "advanced_s": seconds})
    return offset
