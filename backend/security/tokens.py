"""Bearer tokens: short-lived JWTs (HS256) for members and staff.

Member refresh tokens are opaque random strings stored hashed (``members.models``) so they can
be rotated and revoked; only access tokens are JWTs.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import jwt

from backend import clock
from backend.errors import Unauthenticated

_ALG = "HS256"


def issue(secret: str, *, audience: str, subject: str, ttl_s: int, claims: dict[str, Any] | None = None) -> str:
    now = clock.now()
    payload = {"aud": audience, "sub": subject, "iat": int(now.timestamp()),
               "exp": int((now + timedelta(seconds=ttl_s)).timestamp()), **(claims or {})}
    return jwt.encode(payload, secret, algorithm=_ALG)


# Verified signatures, by (secret, audience, token): a shopper's app sends the same token on every
# call for its lifetime, and checking the signature again costs more than the rest of a small read.
# Expiry is still checked on every call; the cache only remembers that the signature was good.
_VERIFIED: dict[tuple[str, str, str], dict[str, Any]] = {}
_VERIFIED_MAX = 50_000


def verify(secret: str, token: str, *, audience: str) -> dict[str, Any]:
    """Claims of a valid token for ``audience``; 401 ``UNAUTHENTICATED`` otherwise."""
    key = (secret, audience, token)
    claims = _VERIFIED.get(key)
    if claims is None:
        try:
            claims = jwt.decode(token, secret, algorithms=[_ALG], audience=audience,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["exp", "sub", "aud"]})
        except jwt.PyJWTError:
            raise Unauthenticated("登录凭证无效，请重新登录") from None
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = claims
    # Expiry is checked against the injected clock so tests can move time.
    if claims["exp"] <= clock.now().timestamp():
        _VERIFIED.pop(key, None)
        raise Unauthenticated("登录已过期，请重新登录", details={"reason": "expired"})
    return dict(claims)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
