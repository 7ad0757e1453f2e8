"""The embedded default channel: when no provider is configured, a message is only logged.

Nothing leaves the process. The last messages stay in memory (``recent``) so a development page
can show what would have been sent. Recipients are masked in the log, never written in full.
"""

from __future__ import annotations

import logging
from collections import deque

from notifications.channels.base import Outgoing, SendResult

log = logging.getLogger(__name__)

RECENT_MAX = 1000


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``; a ``+86`` prefix is kept; short values are hidden whole."""
    prefix = ""
    if phone.startswith("+86"):
        prefix, phone = "+86", phone[3:]
    if len(phone) < 7:
        return prefix + "****"
    return f"{prefix}{phone[:3]}****{phone[-4:]}"


def mask_email(address: str) -> str:
    """``alice@example.com`` -> ``a***@example.com``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_openid(openid: str) -> str:
    return f"{openid[:6]}..." if len(openid) > 6 else "***"


def mask_recipient(channel: str, to: str) -> str:
    if channel == "email" or "@" in to:
        return mask_email(to)
    if channel == "sms":
        return mask_phone(to)
    return mask_openid(to)


class LogChannel:
    """A channel that accepts everything and only writes a masked line to the log."""

    provider = "log"

    def __init__(self, name: str) -> None:
        self.name = name
        self.recent: deque[Outgoing] = deque(maxlen=RECENT_MAX)

    async def send(self, message: Outgoing) -> SendResult:
        self.recent.append(message)
        log.info("log channel %s: message %s to %s (not sent: no provider configured)",
                 self.name, message.message_id, mask_recipient(message.channel or self.name, message.to))
        return SendResult("sent", provider="log", provider_message_id=f"log-{message.message_id}")

    async def close(self) -> None:
        return None
