"""The primary's read pool and the fair hand-over of pooled connections (``backend.db.PostgresClient``).

Reads outside transactions (``db.reader()``: the asset view, segment previews) take their connection
from a pool of their own, so they answer while every connection of the transactions' pool is taken;
and connections are handed out in the order they were asked for, not to whoever asks at the moment one
is given back.
"""

from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack

import asyncpg
import pytest
from tortoise import connections

from backend import db
from tests.conftest import Stack

pytestmark = pytest.mark.postgres_only


async def test_reads_answer_while_every_transaction_connection_is_taken(stack: Stack) -> None:
    client = connections.get("default")
    assert db.read_pool_size > 0
    async with AsyncExitStack() as held:
        for _ in range(client.pool_maxsize):  # every connection of the transactions' pool
            raw = await held.enter_async_context(client.acquire_connection())
            await raw.execute("BEGIN")
        # The shared pool has nothing left: an acquire waits ...
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                async with client.acquire_connection():
                    pass
        # ... and a read does not.
        async with asyncio.timeout(5):
            async with db.reader() as reader:
                assert await reader.fetch_one("SELECT 1 AS one") == {"one": 1}
    # Given back: the shared pool serves again.
    async with asyncio.timeout(5):
        async with client.acquire_connection() as raw:
            assert await raw.fetchval("SELECT 2") == 2


async def test_connections_are_handed_out_in_the_order_they_were_asked_for(stack: Stack) -> None:
    """30 callers taking turns on a pool of 2, each asking again as soon as it has given its connection
    back: with asyncpg's queue alone, a caller that asks while a connection is on its way to the one woken
    for it takes it, and the woken one queues again at the back (86 of 600 served out of turn, measured)."""
    client = connections.get("default")
    pool = await asyncpg.create_pool(stack.settings.database_url, min_size=2, max_size=2)
    try:
        tickets = itertools.count()
        served: list[int] = []

        async def caller() -> None:
            for _ in range(20):
                ticket = next(tickets)  # asked for now: no await between the ticket and the ask
                conn = await client.take(pool)
                served.append(ticket)
                await asyncio.sleep(0)
                await client.give(pool, conn)

        async with asyncio.timeout(30):
            await asyncio.gather(*(caller() for _ in range(30)))
        assert len(served) == 600
        out_of_turn = [(a, b) for a, b in itertools.pairwise(served) if b < a]
        assert out_of_turn == []
    finally:
        await pool.close()


async def test_a_read_inside_a_transaction_block_runs_on_the_block_s_connection(stack: Stack) -> None:
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        own = (await conn.execute_query_dict("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        for replica in (False, True):
            async with db.reader(replica=replica) as reader:
                assert (await reader.fetch_one("SELECT pg_backend_pid() AS pid"))["pid"] == own
    async with db.reader() as reader:  # outside it: the read pool, another connection
        assert (await reader.fetch_one("SELECT pg_backend_pid() AS pid"))["pid"] != own
