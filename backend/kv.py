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
from typing import Protocol

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

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
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class KV(Protocol):
    async def ping(self) -> None: ...
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl_s: int | None = None) -> None: ...
    async def set_nx(self, key: str, value: str, ttl_s: int) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str, ttl_s: int) -> int: ...
    async def advance(self, key: str, value: int, ttl_s: int) -> bool: ...
    def lock(self, name: str, ttl_s: int, wait_s: float = 0) -> AsyncIterator[None]: ...
    async def close(self) -> None: ...


class RedisKV:
    def __init__(self, url: str, prefix: str = "mp:") -> None:
        self.prefix = prefix
        self._redis = aioredis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0,
            health_check_interval=30, retry_on_timeout=False,
        )
        self._advance = self._redis.register_script(_ADVANCE)
        self._incr = self._redis.register_script(_INCR_EXPIRE)
        self._release = self._redis.register_script(_RELEASE)

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


def create_kv(redis_url: str, prefix: str) -> RedisKV | MemoryKV:
    return RedisKV(redis_url, prefix) if redis_url else MemoryKV(prefix)
