"""Personal data: AES-GCM encryption with an HMAC blind index, masking, and a log filter.

Phone numbers are stored only encrypted; exact lookups use the blind index (HMAC-SHA256 of the
normalised value under a key derived from PII_KEY), so the database never holds a plain number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.errors import field_errors

# Mainland mobile numbers: 11 digits starting 1[3-9]. An optional +86 / 86 prefix is accepted.
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$", re.ASCII)  # \d alone matches "٣" too
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def normalize_phone(raw: str) -> str:
    """``+86 138-0013-8000`` -> ``13800138000``; raises a 400 naming ``phone`` otherwise."""
    compact = re.sub(r"[\s\-()]", "", raw or "")
    match = _PHONE.match(compact)
    if not match:
        raise field_errors({"phone": "手机号格式不正确，请输入 11 位中国大陆手机号"})
    return match.group(1)


def mask_phone(phone: str) -> str:
    """``13800138000`` -> ``138****8000``."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


class PiiCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("PII key must be 32 bytes")
        self._aead = AESGCM(hashlib.sha256(b"pii-encrypt\x00" + key).digest())
        self._index_key = hashlib.sha256(b"pii-index\x00" + key).digest()

    def encrypt(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), b"pii")).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.b64decode(token)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], b"pii").decode()
        except InvalidTag:
            raise ValueError("PII value does not decrypt with this key") from None

    def blind_index(self, kind: str, value: str) -> str:
        """A stable keyed hash for exact lookup; ``kind`` separates phones from emails etc."""
        return hmac.new(self._index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


class PhoneMaskingFilter(logging.Filter):
    """Masks anything that looks like a mainland mobile number in every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
