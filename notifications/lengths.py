"""Lengths the template editor shows: an SMS as the carrier bills it, and WeChat field limits.

An SMS: the sign name in 【】 counts, every character is one
(Chinese, Latin, digit, space, punctuation alike); 70 characters make one message, a longer one is
sent in parts of 67 (the rest of each part carries the concatenation header)."""

from __future__ import annotations

import math

from notifications import wechat_fields

SINGLE = 70
PART = 67


def with_sign(text: str, sign_name: str) -> str:
    """The text as the member's phone shows it: 【sign】 first (domestic SMS requires a sign name)."""
    return f"【{sign_name}】{text}" if sign_name else text


def segments(text: str) -> int:
    """Billed parts of ``text`` (0 for an empty text)."""
    n = len(text)
    if n == 0:
        return 0
    return 1 if n <= SINGLE else math.ceil(n / PART)


# WeChat's length limits per field type, in characters; the types not listed are formats (time, date,
# amount), checked by shape. ``name`` is 10 with Chinese characters (20 letters otherwise).
WECHAT_LIMITS = {"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32,
                 "phone_number": 17, "name": 10, "phrase": 5, "car_number": 8}


def wechat_limit(key: str) -> int | None:
    """The length limit of the field ``key`` (``thing1`` → 20), None for a format-only type."""
    return WECHAT_LIMITS.get(wechat_fields.field_type(key))
