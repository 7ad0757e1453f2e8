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


def verify(secret: str, token: str, *, audience: str) -> dict[str, Any]:
    """Claims of a valid token for ``audience``; 401 ``UNAUTHENTICATED`` otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALG], audience=audience,
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "require": ["exp", "sub", "aud"]})
    except jwt.PyJWTError:
        raise Unauthenticated("登录凭证无效，请重新登录") from None
    # Expiry is checked against the injected clock so tests can move time.
    if claims["exp"] <= clock.now().timestamp():
        raise Unauthenticated("登录已过期，请重新登录", details={"reason": "expired"})
    return claims


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
