"""Outage drills, measured in seconds: a server with two workers under keep-alive load loses PostgreSQL
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
    """``python -m backend serve --workers 2`` in a subprocess, as in production; yields its base URL once
    /readyz is 200."""
    port = _free_port()
    full = {**os.environ, "APP_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET,
            "PII_KEY": TEST_PII_KEY, "LOG_LEVEL": "WARNING", "DB_POOL_SIZE": "8", **env}
    log_path = tmp_path / f"server-{port}.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "serve", "--port", str(port), "--workers", "2", env=full,
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
        peer = None
        with contextlib.suppress(OSError):  # the server closed the connection after answering
            peer = response.extensions["network_stream"].get_extra_info("client_addr")
        answer = Answer(index, started, loop.time(), response.status_code, code, dependency, peer)
    answers.append(answer)
    return answer


async def _keep_asking(client: httpx.AsyncClient, index: int, make: Callable[[], Any], until: float,
                       answers: list[Answer]) -> None:
    while asyncio.get_running_loop().time() < until:
        if (await _ask(client, index, make, answers)).status >= 500:
            await asyncio.sleep(0.05)  # a client that retries at once, but does not spin


def _clients(base: str, n: int) -> list[httpx.AsyncClient]:
    """One keep-alive TCP connection per client."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=120)
    return [httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S, limits=limits) for _ in range(n)]


@dataclass
class Drill:
    answers: list[Answer]
    outage: float  # loop time the dependency went away
    restored: float  # loop time it came back
    connections: int

    def recovery(self) -> dict[int, float]:
        """Per connection: seconds from the restore to its first success after it."""
        seconds: dict[int, float] = {}
        for answer in sorted(self.answers, key=lambda a: a.ended):
            if answer.ended >= self.restored and answer.status < 300 and answer.connection not in seconds:
                seconds[answer.connection] = round(answer.ended - self.restored, 3)
        assert sorted(seconds) == list(range(self.connections)), f"connections that never recovered: {seconds}"
        return seconds

    def during(self) -> list[Answer]:
        """Answers to requests made while the dependency was away."""
        return [a for a in self.answers if a.started >= self.outage + 0.1 and a.ended <= self.restored]

    def peers(self) -> dict[int, set[Any]]:
        return {i: {a.peer for a in self.answers if a.connection == i and a.peer} for i in range(self.connections)}


async def _database_drill(stack: Any, tmp_path: Path, outage: str, down_s: float, **env: str) -> Drill:
    """8 members, each with a keep-alive connection that reads their assets and one that places orders for
    them at the counter, against a server whose PostgreSQL runs through a proxy; 2 s into the load the
    proxy cuts or stalls for ``down_s``, then a new connection joins, and the load runs 3 s more. Afterwards
    every order is sent again with its order_no and the ledgers are checked."""
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
                       REDIS_URL=stack.settings.redis_url, REDIS_PREFIX=stack.settings.redis_prefix, **env) as base:
        clients = _clients(base, 17)
        loop = asyncio.get_running_loop()
        start = loop.time()
        drill = Drill([], start + 2.0, start + 2.0 + down_s, 17)
        until = drill.restored + 3.0
        loops = []
        for i, (member_id, token, scanned) in enumerate(members):
            loops.append(_keep_asking(clients[i], i, reads(token, clients[i]), until, drill.answers))
            loops.append(_keep_asking(clients[8 + i], 8 + i, orders(member_id, scanned, clients[8 + i]), until,
                                      drill.answers))

        async def outage_and_back() -> None:
            await asyncio.sleep(drill.outage - loop.time())
            proxy.cut() if outage == "cut" else proxy.stall()
            await asyncio.sleep(drill.restored - loop.time())
            proxy.restore()
            # and a connection opened after the restore
            await _keep_asking(clients[16], 16, reads(members[0][1], clients[16]), until, drill.answers)

        await asyncio.gather(outage_and_back(), *loops)
        # an order answered 503 is either placed or not at all; sent again with its order_no it is placed
        # once (200 replays what was committed before the outage, 201 places it now)
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_S) as retry:
            again = Counter()
            for _, body in placed.values():
                again[(await retry.post("/api/v1/store/orders", json=body, headers=bearer(clerk))).status_code] += 1
            assert set(again) <= {200, 201}, again
        for client in clients:
            await client.aclose()
    await proxy.stop()
    from backend.loyalty.models import Order, PointsEntry

    for member_id, _, _ in members:
        mine = [no for no, (owner, _) in placed.items() if owner == member_id]
        assert await Order.filter(member_id=member_id).count() == len(mine)
        assert await PointsEntry.filter(member_id=member_id, kind="earn").count() == len(mine)
        await assert_ledgers_hold(member_id)
    return drill


def _assert_recovered(drill: Drill, name: str) -> None:
    """Every connection, old or new, answered 200 within RECOVERY_S of the restore, and nothing failed after."""
    by_status = Counter(a.status for a in drill.answers)
    recovery = drill.recovery()
    before = sorted(a.ended - a.started for a in drill.answers if a.ended < drill.outage)
    print(f"\n{name}: latency before the outage p50 {before[len(before) // 2]:.3f} s, "
          f"p95 {before[int(len(before) * 0.95)]:.3f} s")
    print(f"{name}: {len(drill.answers)} answers {dict(by_status)}, during the outage "
          f"{dict(Counter(a.status for a in drill.during()))}, recovery s per connection "
          f"{dict(sorted(recovery.items()))}, max {max(recovery.values())}")
    assert max(recovery.values()) <= RECOVERY_S, recovery
    late = [a for a in drill.answers if a.started >= drill.restored + RECOVERY_S and a.status >= 300]
    assert not late, Counter((a.connection, a.code) for a in late)


def _assert_outage_answers(drill: Drill) -> None:
    during = drill.during()
    assert during, "no request ran during the outage"
    assert all((a.status, a.code, a.dependency) == (503, "DEPENDENCY_UNAVAILABLE", "database") for a in during), \
        Counter((a.status, a.code, a.dependency) for a in during)


async def test_a_database_cut_under_keep_alive_load_costs_only_the_requests_made_during_it(stack, tmp_path):
    # when: PostgreSQL's connections are reset and refused for 2 s in the middle of 7 s of load
    drill = await _database_drill(stack, tmp_path, "cut", 2.0)

    # then: nothing hung and nothing was a 500; every answer during the cut was the 503 shape
    assert all(a.status in (200, 201, 503) for a in drill.answers), Counter(a.status for a in drill.answers)
    _assert_outage_answers(drill)
    _assert_recovered(drill, "database cut")
    # the connections were kept alive through the outage: one client address per connection
    assert all(len(addresses) == 1 for addresses in drill.peers().values()), drill.peers()


async def test_a_stalled_database_network_answers_503_by_the_response_timeout_and_recovers(stack, tmp_path):
    # when: PostgreSQL's network moves no bytes for 5 s (a partition: no reset, nothing refused), with a
    # response timeout of 1 s
    drill = await _database_drill(stack, tmp_path, "stall", 5.0, SANIC_RESPONSE_TIMEOUT="1")

    # then: no request waited for the network to come back (the response timeout, checked every 0.5 s,
    # and a busy machine's scheduling), none was a 500; every answer during the stall was the 503 shape
    assert all(a.status in (200, 201, 503) for a in drill.answers), Counter(a.status for a in drill.answers)
    slowest = max(a.ended - a.started for a in drill.answers)
    print(f"\ndatabase stall: slowest answer {slowest:.3f} s")
    assert slowest < 3.0, sorted(((round(a.ended - a.started, 2), a.connection, a.status) for a in drill.answers),
                                 reverse=True)[:8]
    during = drill.during()
    assert during and all((a.status, a.code) == (503, "DEPENDENCY_UNAVAILABLE") for a in during)
    _assert_recovered(drill, "database stall")


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
