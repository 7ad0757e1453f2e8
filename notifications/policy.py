"""The merchant's sending rules: frequency caps, quiet hours, retries and SMS opt-out keywords.

One validated document in one row, like the loyalty program. A fresh install has none: the
defaults below apply until an admin saves a change. Each process keeps it for a few seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.documents import RowDocument
from notifications.models import NotificationPolicy

POLICY_ID = 1
WINDOW_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CapRule(Rule):
    """At most ``limit`` messages of ``purpose`` on ``channel`` ("any": all channels together) per window.

    ``day`` is the calendar day in merchant time; ``hour`` and ``week`` are rolling windows.
    """

    channel: Literal["sms", "email", "wechat", "any"]
    purpose: Literal["marketing", "service"]
    limit: int = Field(ge=1, le=10_000, description="a cap of 0 would silently block everything: use ≥ 1")
    window: Literal["hour", "day", "week"]


class QuietHours(Rule):
    enabled: bool = True
    start: str = Field("21:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    jitter_s: int = Field(900, ge=0, le=7200, description="deferred messages spread over this many seconds")

    @model_validator(mode="after")
    def not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("免打扰开始和结束时间不能相同")
        return self

    def window_end(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The end of the quiet window ``now`` falls in (UTC), or None outside it."""
        if not self.enabled:
            return None
        local = now.astimezone(tz)
        start, end = _hm(self.start), _hm(self.end)
        t = local.time()
        inside = (start <= t or t < end) if start > end else (start <= t < end)
        if not inside:
            return None
        end_day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo)


class Retry(Rule):
    max_attempts: int = Field(5, ge=1, le=20)
    base_s: int = Field(30, ge=1, le=3600, description="first retry after about this long, doubling")
    max_s: int = Field(3600, ge=1, le=86400)
    provider_defer_s: int = Field(1800, ge=60, le=86400, description="wait after a provider's own quota")


class Policy(Rule):
    caps: list[CapRule] = Field(max_length=32, description="one per channel, purpose and window")
    quiet_hours: QuietHours = QuietHours()
    retry: Retry = Retry()
    reply_keywords: list[Annotated[str, Field(max_length=20)]] = Field(
        min_length=1, max_length=30, description="an SMS reply that is exactly one of these (any case) opts out")
    lease_s: int = Field(120, ge=10, le=3600, description="a claimed message is another worker's after this")

    @field_validator("reply_keywords")
    @classmethod
    def keywords(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip().upper() for k in value if k.strip()]
        if not cleaned:
            raise ValueError("退订关键词不能为空")
        return cleaned

    @model_validator(mode="after")
    def distinct_caps(self) -> Policy:
        seen = [(c.channel, c.purpose, c.window) for c in self.caps]
        if len(set(seen)) != len(seen):
            raise ValueError("同一渠道、用途和时间窗口只能有一条频控规则")
        return self

    def caps_for(self, channel: str, purpose: str) -> list[CapRule]:
        return [c for c in self.caps if c.purpose == purpose and c.channel in (channel, "any")]

    def is_opt_out(self, text: str) -> bool:
        return text.strip().upper() in self.reply_keywords


def _hm(value: str) -> clock_time:
    hours, minutes = value.split(":")
    return clock_time(int(hours), int(minutes))


def default_policy() -> Policy:
    return Policy(
        caps=[CapRule(channel="sms", purpose="marketing", limit=1, window="day"),
              CapRule(channel="sms", purpose="marketing", limit=3, window="week"),
              CapRule(channel="any", purpose="marketing", limit=2, window="day"),
              CapRule(channel="any", purpose="service", limit=10, window="hour")],
        reply_keywords=["T", "TD", "N", "R", "退订", "拒收"],
    )


_document = RowDocument(NotificationPolicy, Policy, default_policy, row_id=POLICY_ID)


async def load(conn: BaseDBAsyncClient | None = None, *, fresh: bool = False) -> Policy:
    return await _document.load(conn, fresh=fresh)


def forget() -> None:
    _document.forget()


async def save(policy: Policy, conn: BaseDBAsyncClient | None = None) -> None:
    await _document.save(policy, conn)
