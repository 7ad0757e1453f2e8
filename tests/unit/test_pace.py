"""The per-channel send rate limit of a worker process."""

import asyncio
import time

from notifications.dispatch import Pace


async def test_a_rate_limit_spaces_calls_and_none_means_no_wait():
    paced = Pace(qps=50)  # one call every 20 ms
    started = time.monotonic()
    await asyncio.gather(*(paced.wait() for _ in range(6)))
    assert time.monotonic() - started >= 0.099  # the sixth call waits five intervals

    free = Pace(qps=0)
    started = time.monotonic()
    await asyncio.gather(*(free.wait() for _ in range(1000)))
    assert time.monotonic() - started < 0.5
