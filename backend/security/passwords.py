"""Staff passwords: argon2id (memory-hard), hashed off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# 64 MiB, 2 passes: ~50 ms here; OWASP's argon2id minimum is 19 MiB / 2 passes.
_hasher = PasswordHasher(time_cost=2, memory_cost=65536, parallelism=1)
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; ``stored=None`` still costs a full verification."""
    return await asyncio.to_thread(_verify, stored, password)
