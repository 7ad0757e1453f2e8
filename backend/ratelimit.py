"""Fixed-window rate limits over the shared key-value store (a 429 with ``Retry-After``)."""

from __future__ import annotations

import time

from backend.errors import RateLimited
from backend.kv import KV


class Limiter:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    async def hit(self, name: str, *, limit: int, window_s: int) -> None:
        window = int(time.time() // window_s)
        count = await self.kv.incr(f"rl:{name}:{window}", window_s)
        if count > limit:
            retry = window_s - int(time.time() % window_s)
            raise RateLimited(details={"retry_after_s": max(retry, 1)})
