"""What every channel takes and answers.

A channel never raises for a provider's answer: it classifies it. The worker decides what happens
next from ``SendResult.outcome`` alone, so a new provider only has to map its own codes onto these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal[
    "sent",        # accepted by the provider (delivery may follow through a callback)
    "transient",   # timeout, connection error, 5xx, provider throttling: retry with backoff
    "permanent",   # bad number, bad template, bad data: never retry
    "no_consent",  # the recipient refused (WeChat 43101): end as no_consent, clear the grant
    "withdrawn",   # the provider reports an opt-out (SMS blacklist): end as no_consent, withdraw consent
    "defer",       # the provider's own per-recipient or daily quota: try again later, not an attempt lost
]


@dataclass(frozen=True)
class Outgoing:
    """One message ready to leave. ``message_id`` is ours, passed to providers that echo it back."""

    message_id: int
    channel: str  # sms | email | wechat
    purpose: str  # marketing | service
    to: str  # phone (11 digits, mainland), e-mail address, or WeChat openid
    # sms: the provider's template id and its positional parameters
    sms_template_id: str = ""
    sms_params: tuple[str, ...] = ()
    # email: subject, plain text and HTML bodies; headers added as given (List-Unsubscribe, ...)
    subject: str = ""
    text: str = ""
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # wechat: subscribe-message template id, the page to open and {key: value} data (already truncated)
    wechat_template_id: str = ""
    wechat_page: str = ""
    wechat_data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider: str  # "tencent", "smtp", "wechat", "log"
    provider_message_id: str | None = None  # Tencent SerialNo, SMTP Message-ID, WeChat msgid
    reason: str | None = None  # the provider's code and message, for the delivery log
    retry_after_s: float | None = None  # a provider's own hint (throttling), when it gives one
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


class Channel(Protocol):
    name: str  # sms | email | wechat
    provider: str

    async def send(self, message: Outgoing) -> SendResult: ...

    async def close(self) -> None: ...
