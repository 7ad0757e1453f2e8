"""Outage drills, measured in seconds: a server under keep-alive load loses PostgreSQL
(through a proxy the test cuts) or its Redis (a private redis-server killed with SIGKILL and started
again, empty). Only the requests made during the cut fail, each with a 503 in the error shape; every
connection, old or new, answers 200 again within 2 s of the dependency coming back; ledgers hold."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_PII_KEY, TEST_SECRET, _free_port
from tests.factories import assert_ledgers_hold, bearer, make_staff, member_token, scan_token, unique
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres_only

RECOVERY_S = 2.0
CLIENT_TIMEOUT_S = 5.0


@dataclass
class Answer:
    connection: int
    started: float
    ended: float
    status: int  # 0: no HTTP answer (transport error or client timeout)
    code: str | None
    dependency: str | None
    peer: Any  # the client side of the TCP connection: the same for a connection that was kept alive


@contextlib.asynccontextmanager
async def _server(tmp_path: Path, **env: str) -> AsyncIterator[str]:
    """``python -m backend serve`` in a subprocess; yields its base URL once /readyz is 200."""
    port = _free_port()
    full = {**os.environ, "APP_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET,
            "PII_KEY": TEST_PII_KEY, "LOG_LEVEL": "WARNING", "DB_POOL_SIZE": "4", **env}
    log_path = tmp_path / f"server-{port}.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "serve", "--port", str(port), env=full,
        stdout=log_path.open("wb"), stderr=asyncio.subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            deadline = asyncio.get_running_loop().time() + 90
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                if asyncio.get_running_loop().time() > deadline or process.returncode is not None:
                    raise AssertionError("server did not become ready:\n" + log_path.read_text()[-3000:])
                await asyncio.sleep(0.2)
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def _database_name() -> str:
    from tortoise import connections

    return connections.get("default").database


async def _ask(client: httpx.AsyncClient, index: int, request: Callable[[], Any], answers: list[Answer]) -> Answer:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        response = await request()
    except httpx.HTTPError:
        answer = Answer(index, started, loop.time(), 0, None, None, None)
    else:
        code = dependency = None
        if response.status_code >= 400:
            error = response.json()["error"]
            code, dependency = error["code"], error["details"].get("dependency")
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("client_addr") if stream else None
        answer = Answer(index, started, loop.time(), response.status_code, code, dependency, peer)
    answers.append(answer)
    return answer


async def _keep_asking(client: httpx.AsyncClient, index: int, make: Callable[[], Any], until: float,
                       answers: list[Answer]) -> None:
    while asyncio.get_running_loop().time() < until:
        await _ask(client, index, make, answers)


def _clients(base: str, n: int) -> list[httpx.AsyncClient]:
    """One keep-alive TCP connection per client."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=120)
    return [httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S, limits=limits) for _ in range(n)]


def _recovery(answers: list[Answer], restored: float, connections: int) -> dict[int, float]:
    """Per connection: seconds from the restore to the end of its first success begun after it."""
    seconds: dict[int, float] = {}
    for answer in sorted(answers, key=lambda a: a.started):
        if answer.started >= restored and answer.status < 300 and answer.connection not in seconds:
            seconds[answer.connection] = round(answer.ended - restored, 3)
    assert sorted(seconds) == list(range(connections)), f"connections that never recovered: {seconds}"
    return seconds


def _assert_cut_answers(answers: list[Answer], cut: float, restored: float, dependency: str) -> Counter:
    during = [a for a in answers if a.started >= cut + 0.1 and a.ended <= restored]
    assert during, "no request ran during the cut"
    assert all((a.status, a.code, a.dependency) == (503, "DEPENDENCY_UNAVAILABLE", dependency) for a in during), \
        Counter((a.status, a.code, a.dependency) for a in during)
    return Counter(a.status for a in during)


async def test_a_database_cut_under_keep_alive_load_costs_only_the_requests_made_during_it(stack, tmp_path):
    # given: 8 members, each with a keep-alive connection that reads their assets and one that places
    # orders for them at the counter, against two workers whose PostgreSQL runs through a proxy
    stack.clock.set(datetime.now(UTC))  # the server process runs on the real clock: tokens must be current
    _, clerk = await make_staff(stack)
    members = []
    for _ in range(8):
        member_id, token = await member_token(stack)
        members.append((member_id, token, await scan_token(stack, clerk, token)))
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    placed: dict[str, tuple[int, dict[str, Any]]] = {}

    def reads(token: str, client: httpx.AsyncClient) -> Callable[[], Any]:
        return lambda: client.get("/api/v1/mp/me/assets", headers=bearer(token))

    def orders(member_id: int, scanned: str, client: httpx.AsyncClient) -> Callable[[], Any]:
        def place() -> Any:
            body = {"order_no": unique("DRILL"), "scan_token": scanned, "amount_cents": 1000}
            placed[body["order_no"]] = (member_id, body)
            return client.post("/api/v1/store/orders", json=body, headers=bearer(clerk))
        return place

    async with _server(tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{proxy.port}/{_database_name()}",
                       REDIS_URL=stack.settings.redis_url, REDIS_PREFIX=stack.settings.redis_prefix) as base:
        clients = _clients(base, 16)
        loop = asyncio.get_running_loop()
        answers: list[Answer] = []
        start = loop.time()
        cut, restored, until = start + 2.0, start + 4.0, start + 7.0
        loops = []
        for i, (member_id, token, scanned) in enumerate(members):
            loops.append(_keep_asking(clients[i], i, reads(token, clients[i]), until, answers))
            loops.append(_keep_asking(clients[8 + i], 8 + i, orders(member_id, scanned, clients[8 + i]), until,
                                      answers))

        async def drill() -> None:
            await asyncio.sleep(cut - loop.time())
            proxy.cut()
            await asyncio.sleep(restored - loop.time())
            proxy.restore()

        # when: PostgreSQL is cut off for 2 s in the middle of 7 s of load
        await asyncio.gather(drill(), *loops)

        # then: nothing hung and nothing was a 500; every answer during the cut was the 503 shape
        by_status = Counter(a.status for a in answers)
        assert by_status[0] == 0 and all(a.status in (200, 201, 503) for a in answers), by_status
        during = _assert_cut_answers(answers, cut, restored, "database")
        # every connection answered 200 again within 2 s, and nothing failed after that
        recovery = _recovery(answers, restored, 16)
        late = [a for a in answers if a.started >= restored + RECOVERY_S and a.status >= 300]
        print(f"\ndatabase drill: {len(answers)} answers {dict(by_status)}, during the cut {dict(during)}, "
              f"recovery s per connection {recovery}, max {max(recovery.values())}")
        assert max(recovery.values()) <= RECOVERY_S, recovery
        assert not late, Counter((a.connection, a.code) for a in late)
        # the connections were kept alive through the outage: one client address per connection
        peers = {i: {a.peer for a in answers if a.connection == i and a.peer} for i in range(16)}
        assert all(len(addresses) == 1 for addresses in peers.values()), peers

        # and: an order answered 503 is either placed or not at all; retried with its order_no it is
        # placed once (200 replays what was committed before the cut, 201 places it now)
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S) as retry:
            statuses = Counter()
            for _, body in placed.values():
                again = await retry.post("/api/v1/store/orders", json=body, headers=bearer(clerk))
                statuses[again.status_code] += 1
            assert set(statuses) <= {200, 201}, statuses
        for client in clients:
            await client.aclose()
    await proxy.stop()
    from backend.loyalty.models import Order, PointsEntry

    for member_id, _, _ in members:
        mine = [no for no, (owner, _) in placed.items() if owner == member_id]
        assert await Order.filter(member_id=member_id).count() == len(mine)
        assert await PointsEntry.filter(member_id=member_id, kind="earn").count() == len(mine)
        await assert_ledgers_hold(member_id)


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence, that the test may kill (never the
    shared one on 6379: other tests use it)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.dir = tmp_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        from redis import asyncio as aioredis

        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.dir), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        client = aioredis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    await client.ping()
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved."""
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def test_a_redis_killed_and_restarted_costs_only_the_requests_made_while_it_was_down(stack, tmp_path):
    # given: a server on a private Redis and 8 keep-alive connections that each logged a clerk in (the
    # login limiter counts in Redis) and asked /readyz at once, so its pool holds several Redis connections
    redis = PrivateRedis(tmp_path)
    await redis.start()
    accounts = []
    for _ in range(8):
        staff, _ = await make_staff(stack)
        accounts.append({"username": staff.username, "password": "correct-horse-1"})
    try:
        async with _server(tmp_path, DATABASE_URL=stack.settings.database_url, REDIS_URL=redis.url,
                           REDIS_PREFIX=stack.settings.redis_prefix) as base:
            clients = _clients(base, 8)
            answers: list[Answer] = []

            def login(i: int) -> Callable[[], Any]:
                return lambda: clients[i].post("/api/v1/staff/session", json=accounts[i])

            def ready(i: int) -> Callable[[], Any]:
                return lambda: clients[i].get("/readyz")

            before = await asyncio.gather(*[_ask(client, i, ready(i), answers) for i, client in enumerate(clients)])
            assert [a.status for a in before] == [200] * 8  # at once: the pool holds several connections
            # one at a time: a login verifies an argon2 hash (64 MiB), slow on a busy machine
            assert [(await _ask(client, i, login(i), answers)).status for i, client in enumerate(clients)] == [200] * 8

            # when: Redis dies (SIGKILL, nothing persisted)
            await redis.kill()
            down = await _ask(clients[0], 0, login(0), answers)
            assert (down.status, down.code, down.dependency) == (503, "DEPENDENCY_UNAVAILABLE", "redis")
            # ... and comes back empty
            await redis.start()
            restored = asyncio.get_running_loop().time()

            # then: the first request on every kept connection is a 200, not a 503 from a stale pooled
            # connection, and so is a login; so is a new connection's
            first = await asyncio.gather(*[_ask(client, i, ready(i), answers) for i, client in enumerate(clients)])
            assert [a.status for a in first] == [200] * 8, [(a.status, a.code) for a in first]
            recovery = max(a.ended - restored for a in first)
            logins = [await _ask(client, i, login(i), answers) for i, client in enumerate(clients)]
            assert [a.status for a in logins] == [200] * 8, [(a.status, a.code) for a in logins]
            async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S) as fresh:
                assert (await fresh.get("/readyz")).status_code == 200
            print(f"\nredis drill: first answers after restart {dict(Counter(a.status for a in first))}, "
                  f"slowest {recovery:.3f} s; logins after it {dict(Counter(a.status for a in logins))}")
            assert recovery <= RECOVERY_S
            assert all(len({a.peer for a in answers if a.connection == i and a.peer}) == 1 for i in range(8)), \
                [[(a.status, a.peer) for a in answers if a.connection == i] for i in range(8)]
            for client in clients:
                await client.aclose()
    finally:
        await redis.kill()
