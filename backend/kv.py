"""Key-value store for short-lived shared state: nonces, single-use codes, counters and locks.

``RedisKV`` (redis.asyncio) serves any number of processes; ``MemoryKV`` mirrors its semantics
for the embedded one-process default. Nothing here is the only copy of anything that matters:
Redis may lose it all on restart, and every caller tolerates that.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from backend.errors import DependencyUnavailable, error

LockNotAcquired = error("LOCK_BUSY", 409, "操作正在进行中，请稍后重试")

# Sets KEYS[1] to ARGV[1] only when ARGV[1] is greater than the stored integer (or none is stored).
_ADVANCE = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_INCR_EXPIRE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Frequency caps: KEYS are sorted sets of message ids scored by time; ARGV = now_ms, member, then per key
# (limit, window_ms, ttl_s). A window of 0 is a calendar period named in the key (no trimming). All
# keys are checked before any is written, so a message counts against every cap or none. A member
# already in a set (a retried message) does not count again. Answers {0, 0} when reserved, else
# {index of the first full key (1-based), score of its oldest entry}.
_RESERVE = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 * i])
  local window = tonumber(ARGV[3 * i + 1])
  if window > 0 then redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window) end
  if not redis.call('ZSCORE', key, member) and redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {i, tonumber(oldest[2]) or now}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'NX', now, member)
  redis.call('EXPIRE', key, tonumber(ARGV[3 * i + 2]))
end
return {0, 0}
"""
# A lease: take KEYS[1] for ARGV[1] when free, or extend it when ARGV[1] already holds it.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Cap:
    """One counting window for ``reserve``: a key, its limit, its rolling length (0: calendar) and TTL."""

    key: str
    limit: int
    window_ms: int
    ttl_s: int


class KV(Protocol):
    async def ping(self) -> None: ...
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl_s: int | None = None) -> None: ...
    async def set_many(self, keys: list[str], value: str, ttl_s: int) -> None: ...
    async def set_nx(self, key: str, value: str, ttl_s: int) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str, ttl_s: int) -> int: ...
    async def advance(self, key: str, value: int, ttl_s: int) -> bool: ...
    def lock(self, name: str, ttl_s: int, wait_s: float = 0) -> AsyncIterator[None]: ...
    async def reserve(self, caps: list[Cap], member: str, now_ms: int) -> tuple[int, int]: ...
    async def lease(self, key: str, holder: str, ttl_s: int) -> bool: ...
    async def full(self, caps: list[Cap], now_ms: int) -> bool: ...
    async def release_lease(self, key: str, holder: str) -> None: ...
    async def unreserve(self, keys: list[str], member: str) -> None: ...
    async def close(self) -> None: ...


class RedisKV:
    def __init__(self, url: str, prefix: str = "mp:") -> None:
        self.prefix = prefix
        # A restarted Redis leaves every pooled connection dead, and the pool hands them out unchecked:
        # one retry on a fresh connection turns what would be a 503 into a short delay. Only errors
        # of the connection are retried: after a timeout the command may have run, and a second
        # SET NX or INCR would refuse a fresh nonce or count twice.
        self._redis = aioredis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0,
            health_check_interval=30, retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
        )
        self._advance = self._redis.register_script(_ADVANCE)
        self._incr = self._redis.register_script(_INCR_EXPIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._reserve = self._redis.register_script(_RESERVE)
        self._lease = self._redis.register_script(_LEASE)

    @property
    def client(self) -> aioredis.Redis:
        return self._redis

    def _k(self, key: str) -> str:
        return self.prefix + key

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            yield
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise DependencyUnavailable(details={"dependency": "redis"}) from exc

    async def ping(self) -> None:
        async with self._guard():
            await self._redis.ping()

    async def get(self, key: str) -> str | None:
        async with self._guard():
            return await self._redis.get(self._k(key))

    async def set(self, key: str, value: str, ttl_s: int | None = None) -> None:
        async with self._guard():
            await self._redis.set(self._k(key), value, ex=ttl_s)

    async def set_many(self, keys: list[str], value: str, ttl_s: int) -> None:
        """The same value under many keys, in one round trip."""
        async with self._guard():
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(self._k(key), value, ex=ttl_s)
                await pipe.execute()

    async def set_nx(self, key: str, value: str, ttl_s: int) -> bool:
        async with self._guard():
            return bool(await self._redis.set(self._k(key), value, ex=ttl_s, nx=True))

    async def delete(self, key: str) -> None:
        async with self._guard():
            await self._redis.delete(self._k(key))

    async def incr(self, key: str, ttl_s: int) -> int:
        async with self._guard():
            return int(await self._incr(keys=[self._k(key)], args=[ttl_s]))

    async def advance(self, key: str, value: int, ttl_s: int) -> bool:
        async with self._guard():
            return bool(await self._advance(keys=[self._k(key)], args=[value, ttl_s]))

    async def reserve(self, caps: list[Cap], member: str, now_ms: int) -> tuple[int, int]:
        """Count ``member`` against every cap, or against none when one is full (see _RESERVE)."""
        if not caps:
            return 0, 0
        args: list[object] = [now_ms, member]
        for cap in caps:
            args += [cap.limit, cap.window_ms, cap.ttl_s]
        async with self._guard():
            full, oldest = await self._reserve(keys=[self._k(cap.key) for cap in caps], args=args)
        return int(full), int(oldest)

    async def full(self, caps: list[Cap], now_ms: int) -> bool:
        """Whether any cap is already at its limit (a read: nothing is reserved or trimmed)."""
        async with self._guard():
            async with self._redis.pipeline(transaction=False) as pipe:
                for cap in caps:
                    low = now_ms - cap.window_ms if cap.window_ms else "-inf"
                    pipe.zcount(self._k(cap.key), f"({low}" if cap.window_ms else low, "+inf")
                counted = await pipe.execute()
        return any(int(n) >= cap.limit for n, cap in zip(counted, caps, strict=True))

    async def lease(self, key: str, holder: str, ttl_s: int) -> bool:
        """Take or extend a lease on ``key`` for ``holder``; False while someone else holds it."""
        async with self._guard():
            return bool(await self._lease(keys=[self._k("lease:" + key)], args=[holder, ttl_s]))

    async def release_lease(self, key: str, holder: str) -> None:
        async with self._guard():
            await self._release(keys=[self._k("lease:" + key)], args=[holder])

    async def unreserve(self, keys: list[str], member: str) -> None:
        if keys:
            async with self._guard():
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.zrem(self._k(key), member)
                    await pipe.execute()

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: int, wait_s: float = 0) -> AsyncIterator[None]:
        token = secrets.token_hex(16)
        key = self._k("lock:" + name)
        deadline = time.monotonic() + wait_s
        while True:
            async with self._guard():
                if await self._redis.set(key, token, ex=ttl_s, nx=True):
                    break
            if time.monotonic() >= deadline:
                raise LockNotAcquired(details={"lock": name})
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            async with self._guard():
                await self._release(keys=[key], args=[token])

    async def close(self) -> None:
        await self._redis.aclose()


class MemoryKV:
    """One process only: the same operations over a dict, with expiry on read."""

    def __init__(self, prefix: str = "mp:") -> None:
        self.prefix = prefix
        self._data: dict[str, tuple[str, float | None]] = {}
        self._sets: dict[str, dict[str, int]] = {}  # cap windows: key -> {member: score}
        self._set_expiry: dict[str, float] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl_s: int | None) -> None:
        self._data[key] = (value, time.monotonic() + ttl_s if ttl_s else None)
        if len(self._data) > 50_000:
            self._sweep()

    def _sweep(self) -> None:
        for key in list(self._data):
            self._live(key)

    async def ping(self) -> None:
        return None

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_s: int | None = None) -> None:
        self._put(key, value, ttl_s)

    async def set_many(self, keys: list[str], value: str, ttl_s: int) -> None:
        for key in keys:
            self._put(key, value, ttl_s)

    async def set_nx(self, key: str, value: str, ttl_s: int) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl_s)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, ttl_s: int) -> int:
        current = self._live(key)
        if current is None:
            self._put(key, "1", ttl_s)
            return 1
        value = int(current) + 1
        self._data[key] = (str(value), self._data[key][1])
        return value

    async def advance(self, key: str, value: int, ttl_s: int) -> bool:
        current = self._live(key)
        if current is not None and int(current) >= value:
            return False
        self._put(key, str(value), ttl_s)
        return True

    async def reserve(self, caps: list[Cap], member: str, now_ms: int) -> tuple[int, int]:
        # The same steps as _RESERVE; one event loop runs them without interleaving (no await inside).
        sets: list[dict[str, int]] = []
        for i, cap in enumerate(caps, start=1):
            entries = self._sets.setdefault(cap.key, {})
            if cap.window_ms > 0:
                for old in [m for m, score in entries.items() if score <= now_ms - cap.window_ms]:
                    del entries[old]
            if member not in entries and len(entries) >= cap.limit:
                return i, min(entries.values(), default=now_ms)
            sets.append(entries)
        expires = time.monotonic()
        for cap, entries in zip(caps, sets, strict=True):
            entries.setdefault(member, now_ms)
            self._set_expiry[cap.key] = expires + cap.ttl_s
        if len(self._sets) > 50_000:
            for key in [k for k, at in self._set_expiry.items() if at <= expires]:
                self._sets.pop(key, None)
                self._set_expiry.pop(key, None)
        return 0, 0

    async def full(self, caps: list[Cap], now_ms: int) -> bool:
        for cap in caps:
            entries = self._sets.get(cap.key, {})
            live = [s for s in entries.values() if not cap.window_ms or s > now_ms - cap.window_ms]
            if len(live) >= cap.limit:
                return True
        return False

    async def lease(self, key: str, holder: str, ttl_s: int) -> bool:
        name = "lease:" + key
        current = self._live(name)
        if current is not None and current != holder:
            return False
        self._put(name, holder, ttl_s)
        return True

    async def release_lease(self, key: str, holder: str) -> None:
        name = "lease:" + key
        if self._live(name) == holder:
            del self._data[name]

    async def unreserve(self, keys: list[str], member: str) -> None:
        for key in keys:
            self._sets.get(key, {}).pop(member, None)

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: int, wait_s: float = 0) -> AsyncIterator[None]:
        key = "lock:" + name
        token = secrets.token_hex(16)
        deadline = time.monotonic() + wait_s
        while not await self.set_nx(key, token, ttl_s):
            if time.monotonic() >= deadline:
                raise LockNotAcquired(details={"lock": name})
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            if self._live(key) == token:
                del self._data[key]

    async def close(self) -> None:
        self._data.clear()
        self._sets.clear()
        self._set_expiry.clear()


def create_kv(redis_url: str, prefix: str) -> RedisKV | MemoryKV:
    return RedisKV(redis_url, prefix) if redis_url else MemoryKV(prefix)
