"""Outages for real: a server process whose PostgreSQL and Redis connections run through a proxy
that the test cuts and restores. Every request during the cut is a 503 in the error shape, and
the server recovers by itself once the dependency is back. And transactions PostgreSQL aborts to
break a deadlock or a serialization conflict run again instead of failing (``db.retry_conflicts``)."""

import asyncio
import os
import sys
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import TEST_PII_KEY, TEST_SECRET, _free_port
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres_only


async def _wait_ready(client: httpx.AsyncClient, url: str, within_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.fixture
async def proxied_server(stack, tmp_path):
    from tortoise import connections

    database = connections.get("default").database
    pg, redis = TcpProxy("127.0.0.1", 5432), TcpProxy("127.0.0.1", 6379)
    await pg.start()
    await redis.start()
    port = _free_port()
    env = {**os.environ, "APP_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET,
           "PII_KEY": TEST_PII_KEY, "LOG_LEVEL": "ERROR", "DB_POOL_SIZE": "4",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg.port}/{database}",
           "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "REDIS_PREFIX": stack.settings.redis_prefix}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
        try:
            await _wait_ready(client, "/readyz")
            yield client, pg, redis
        finally:
            process.terminate()
            await process.wait()
            await pg.stop()
            await redis.stop()


async def _login(client):
    return await client.post("/api/v1/staff/session", json={"username": "nobody", "password": "whatever-1"})


async def test_a_database_outage_is_a_503_and_recovers_by_itself(proxied_server):
    client, pg, _ = proxied_server
    assert (await _login(client)).status_code == 401
    pg.cut()
    during = await _login(client)
    assert during.status_code == 503
    assert during.json()["error"] == {"code": "DEPENDENCY_UNAVAILABLE", "message": "服务暂时不可用，请稍后重试",
                                      "details": {"dependency": "database"}}
    assert during.headers["Retry-After"] == "5"
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["checks"] == {"database": "unavailable", "redis": "ok"}
    pg.restore()
    for _ in range(20):  # the pool replaces broken connections on the next requests
        if (await _login(client)).status_code == 401:
            break
        await asyncio.sleep(0.25)
    assert (await _login(client)).status_code == 401
    assert (await client.get("/readyz")).status_code == 200


async def test_a_redis_outage_is_a_503_and_recovers_by_itself(proxied_server):
    client, _, redis = proxied_server
    redis.cut()
    during = await _login(client)  # the login rate limiter lives in Redis
    assert during.status_code == 503
    assert during.json()["error"] == {"code": "DEPENDENCY_UNAVAILABLE", "message": "服务暂时不可用，请稍后重试",
                                      "details": {"dependency": "redis"}}
    assert (await client.get("/readyz")).json()["error"]["details"]["checks"]["redis"] == "unavailable"
    redis.restore()
    for _ in range(20):
        if (await _login(client)).status_code == 401:
            break
        await asyncio.sleep(0.25)
    assert (await _login(client)).status_code == 401


async def test_a_database_outage_on_the_asset_paths_loses_nothing_and_earns_once(proxied_server, stack):
    from backend.loyalty.models import PointsEntry
    from tests.factories import bearer, make_staff, member_token, scan_token, unique

    client, pg, _ = proxied_server
    stack.clock.set(datetime.now(UTC))  # the server process runs on the real clock: tokens must be current
    member_id, token = await member_token(stack)
    _, clerk = await make_staff(stack)
    scanned = await scan_token(stack, clerk, token)
    order = {"order_no": unique("OUT"), "scan_token": scanned, "amount_cents": 8800}
    assert (await client.get("/api/v1/mp/me/assets", headers=bearer(token))).status_code == 200
    pg.cut()
    for method, path, body, who in (("GET", "/api/v1/mp/me", None, token),
                                    ("GET", "/api/v1/mp/me/assets", None, token),
                                    ("POST", "/api/v1/store/orders", order, clerk)):
        during = await client.request(method, path, json=body, headers=bearer(who))
        assert during.status_code == 503, (path, during.text)
        assert during.json()["error"]["code"] == "DEPENDENCY_UNAVAILABLE"
    pg.restore()
    for _ in range(20):
        placed = await client.post("/api/v1/store/orders", json=order, headers=bearer(clerk))
        if placed.status_code != 503:
            break
        await asyncio.sleep(0.25)
    assert placed.status_code == 201 and placed.json()["points_earned"] == 88
    again = await client.post("/api/v1/store/orders", json=order, headers=bearer(clerk))
    assert again.status_code == 200 and again.json() == placed.json()
    assert await PointsEntry.filter(member_id=member_id, kind="earn").count() == 1
    assert (await client.get("/api/v1/mp/me/assets", headers=bearer(token))).json()["points"]["balance"] == 88


async def _store_names(*store_ids: int) -> list[str]:
    from backend.stores.models import Store

    return [(await Store.get(id=store_id)).name for store_id in store_ids]


async def test_two_transactions_that_deadlock_both_commit_the_victim_runs_again(stack):
    from tortoise.transactions import in_transaction

    from backend import db
    from tests.factories import make_store

    # given: two stores, and two transactions that lock them in opposite orders
    first, second = await make_store(name="甲"), await make_store(name="乙")
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []

    @db.retry_conflicts
    async def rename_both(order: tuple[int, int], tag: str) -> str:
        runs.append(tag)
        async with in_transaction() as conn:
            await conn.execute_query("UPDATE stores SET name = $1 WHERE id = $2", [tag, order[0]])
            if runs.count(tag) == 1:
                await both_hold_one.wait()
            await conn.execute_query("UPDATE stores SET name = $1 WHERE id = $2", [tag, order[1]])
        return tag

    # when: they run at once (PostgreSQL aborts one of them after deadlock_timeout)
    results = await asyncio.gather(rename_both((first.id, second.id), "A"), rename_both((second.id, first.id), "B"))

    # then: both answered; the victim ran twice, after the winner had committed, so its names stand
    assert sorted(results) == ["A", "B"]
    assert len(runs) == 3
    victim = runs[-1]
    assert runs.count(victim) == 2
    assert await _store_names(first.id, second.id) == [victim, victim]


async def test_a_lost_update_under_repeatable_read_is_run_again_on_fresh_data(stack):
    from tortoise.transactions import in_transaction

    from backend import db
    from tests.factories import make_store

    # given: two transactions that each read a store's name in one snapshot and append to it
    store = await make_store(name="店")
    both_read = asyncio.Barrier(2)
    runs: list[str] = []

    @db.retry_conflicts
    async def append(tag: str) -> None:
        runs.append(tag)
        async with in_transaction() as conn:
            await conn.execute_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            name = (await db.fetch_one("SELECT name FROM stores WHERE id = $1", store.id, conn=conn))["name"]
            if runs.count(tag) == 1:
                await both_read.wait()
            await conn.execute_query("UPDATE stores SET name = $1 WHERE id = $2", [name + tag, store.id])

    # when: both write (the second waits for the first's row lock, then gets 40001)
    await asyncio.gather(append("A"), append("B"))

    # then: the one refused ran again on what the other committed: neither append is lost
    assert len(runs) == 3
    assert (await _store_names(store.id))[0] in ("店AB", "店BA")


_SERIALIZATION_FAILURE = "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$"


async def test_a_transaction_that_keeps_conflicting_gives_up_after_three_runs_as_a_503(stack):
    import asyncpg
    from tortoise.transactions import in_transaction

    from backend import db
    from backend.http.errors import to_domain_error
    from backend.stores.models import Store
    from tests.factories import make_store

    store = await make_store(name="原名")
    runs = []

    @db.retry_conflicts
    async def always_refused() -> None:
        runs.append(1)
        async with in_transaction() as conn:
            await conn.execute_query("UPDATE stores SET name = '改名' WHERE id = $1", [store.id])
            await conn.execute_query(_SERIALIZATION_FAILURE)

    with pytest.raises(asyncpg.exceptions.SerializationError) as caught:
        await always_refused()
    assert len(runs) == db.CONFLICT_ATTEMPTS == 3
    assert (await Store.get(id=store.id)).name == "原名"  # every run rolled back
    error = to_domain_error(None, caught.value)
    assert (error.status, error.code, error.details) == (503, "DEPENDENCY_UNAVAILABLE",
                                                         {"dependency": "database", "reason": "conflict"})


async def test_a_conflict_inside_an_outer_transaction_is_left_to_the_outer_block(stack):
    import asyncpg
    from tortoise.transactions import in_transaction

    from backend import db

    runs = []

    @db.retry_conflicts
    async def inner() -> None:
        runs.append(1)
        async with in_transaction() as conn:  # a savepoint: the outer transaction is aborted with it
            await conn.execute_query(_SERIALIZATION_FAILURE)

    with pytest.raises(asyncpg.exceptions.SerializationError):
        async with in_transaction():
            await inner()
    assert runs == [1]
    assert not db.in_open_transaction()


async def test_a_task_started_inside_a_transaction_reads_from_the_pool_once_the_block_has_ended(stack):
    from tortoise.transactions import in_transaction

    from backend import db
    from backend.stores.models import Store
    from tests.factories import make_store

    # given: a task started inside a transaction block (it copies the task context, transaction included)
    store = await make_store(name="旧名")
    go = asyncio.Event()

    async def later() -> tuple[str, str]:
        await go.wait()
        async with in_transaction() as conn:  # a transaction of its own, not a savepoint on a released connection
            await conn.execute_query("UPDATE stores SET name = '新名' WHERE id = $1", [store.id])
        return (await Store.get(id=store.id)).name, (await db.fetch_one("SELECT 1 AS one"))["one"]

    async with in_transaction():
        task = asyncio.create_task(later())

    # when: it uses the database after the block committed and gave its connection back
    go.set()

    # then: it works on connections of its own, and what it wrote is committed
    assert await task == ("新名", 1)
    assert (await Store.get(id=store.id)).name == "新名"
    assert not db.in_open_transaction()
