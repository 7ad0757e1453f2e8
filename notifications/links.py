"""Signed one-click unsubscribe links (``/u/{token}``): no login, no expiry, nothing guessable."""

from __future__ import annotations

import base64
import hashlib
import hmac

_KINDS = {"e": ("email", "marketing"), "s": ("sms", "marketing"), "w": ("wechat", "marketing")}
_CODES = {value: key for key, value in _KINDS.items()}


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(hashlib.sha256(b"unsubscribe\x00" + secret.encode()).digest(), body.encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(secret: str, member_id: int, channel: str = "email", purpose: str = "marketing") -> str:
    body = f"{_CODES[(channel, purpose)]}{member_id}"
    return f"{body}.{_mac(secret, body)}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str, str] | None:
    """(member id, channel, purpose) of a token this server signed, else None."""
    body, _, mac = token.partition(".")
    if not body or len(token) > 80 or body[0] not in _KINDS or not (body[1:].isascii() and body[1:].isdigit()):
        return None
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    channel, purpose = _KINDS[body[0]]
    return int(body[1:]), channel, purpose


def unsubscribe_url(base_url: str, secret: str, member_id: int) -> str:
    return f"{base_url}/u/{unsubscribe_token(secret, member_id)}"
