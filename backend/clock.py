"""The one injectable clock. Code calls ``clock.now()``; tests install a ``ManualClock`` and move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests move time without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = when

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kwargs)
        return self._now


_current: SystemClock | ManualClock | Any = SystemClock()


def now() -> datetime:
    """The current time, UTC, aware."""
    return _current.now()


def current() -> SystemClock | ManualClock:
    """The installed clock (a test clock wraps it)."""
    return _current


def install(clock: SystemClock | ManualClock | Any) -> None:
    global _current
    _current = clock


def reset() -> None:
    install(SystemClock())
