"""The read replica for real: a private PostgreSQL primary and a streaming standby made from it with
pg_basebackup, both started on this machine, and the server (``python -m backend serve``) using the standby
through ``DATABASE_REPLICA_URL``.

Reads that tolerate lag (segment previews, asset views) come from the standby; a member's own write is read
back from the primary; a standby that falls behind more than ``REPLICA_MAX_LAG_S`` is left alone until it
catches up; a standby that goes away costs no read, and is used again once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from backend import replica as replicas
from tests.conftest import IN_CI, REDIS_TEST_URL, TEST_PII_KEY, TEST_SECRET, _free_port
from tests.factories import bearer, unique_phone
from tests.integration.test_processes import serve, tail, until_up

MAX_LAG_S = 6
ALL_ACTIVE = {"field": "registered_days_ago", "op": "gte", "value": 0}


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    return os.path.dirname(found[-1]) if found else None


@dataclass
class Cluster:
    """One private PostgreSQL server: its data directory, port and log."""

    bin: str
    data: Path
    port: int
    log: Path

    @property
    def dsn(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        _as_postgres([f"{self.bin}/pg_ctl", "-D", str(self.data), *args])

    def start(self) -> None:
        self.run("-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("-m", mode, "-w", "-t", "60", "stop")


def _as_postgres(command: list[str]) -> None:
    """PostgreSQL's tools refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)}: {result.stdout[-2000:]} {result.stderr[-2000:]}")


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster
    database: str
    http: httpx.AsyncClient
    admin: str  # a console token

    def db_dsn(self, cluster: Cluster) -> str:
        return f"postgres://postgres@127.0.0.1:{cluster.port}/{self.database}"

    async def standby_query(self, sql: str) -> Any:
        conn = await asyncpg.connect(self.db_dsn(self.standby), timeout=5)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def caught_up(self) -> None:
        """A transaction on the primary (the standby's last replayed one is then fresh: its lag is measured
        from it), and until the standby has replayed it."""
        conn = await asyncpg.connect(self.db_dsn(self.primary), timeout=5)
        try:
            await conn.execute("SELECT txid_current()")
            # The insert position: with synchronous_commit off, a commit may not be written out yet.
            target = await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        finally:
            await conn.close()
        await until(lambda: self.standby_query(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
                    "the standby to catch up")

    @contextlib.asynccontextmanager
    async def primary_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A raw connection to the primary, as ``Replica.reader`` falls back to."""
        conn = await asyncpg.connect(self.db_dsn(self.primary), timeout=5)
        try:
            yield conn
        finally:
            await conn.close()

    async def replica_state(self) -> dict[str, Any]:
        answer = await self.http.get("/readyz")
        assert answer.status_code == 200, answer.text  # the replica never makes the service unready
        return answer.json()["replica"]

    async def preview_count(self) -> int:
        answer = await self.http.post("/api/v1/admin/segments/preview", json={"rule": ALL_ACTIVE},
                                      headers=bearer(self.admin))
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    async def register(self) -> str:
        """A new member through the mini-program (their own write); their token."""
        session = await self.http.post("/api/v1/mp/session", json={"code": f"replica-{uuid.uuid4().hex[:10]}"})
        assert session.status_code == 200, session.text
        registered = await self.http.post("/api/v1/mp/register", json={"phone_code": unique_phone()},
                                          headers=bearer(session.json()["token"]))
        assert registered.status_code in (200, 201), registered.text
        return registered.json()["token"]


async def until(check: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (OSError, asyncpg.PostgresError) as exc:
            last = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited {timeout_s:g} s for {what}" + (f" (last: {last!r})" if last else ""))


@contextlib.contextmanager
def _clusters() -> Iterator[tuple[Cluster, Cluster]]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("CI=true but PostgreSQL's server binaries (pg_basebackup) are not installed")
        pytest.skip("PostgreSQL's server binaries are not installed")
    root = Path(tempfile.mkdtemp(prefix="mp-replica-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    primary = Cluster(bin_dir, root / "primary", _free_port(), root / "primary.log")
    standby = Cluster(bin_dir, root / "standby", _free_port(), root / "standby.log")
    try:
        _as_postgres([f"{bin_dir}/initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync"])
        settings = (f"port = {primary.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
                    "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n"
                    "synchronous_commit = off\nshared_buffers = 32MB\nmax_connections = 60\n")
        _append(primary.data / "postgresql.conf", settings)
        primary.start()
        _as_postgres([f"{bin_dir}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                      "-D", str(standby.data), "-R", "-X", "stream", "--no-sync"])
        _append(standby.data / "postgresql.conf", f"port = {standby.port}\n")
        standby.start()
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _append(path: Path, text: str) -> None:
    with path.open("a") as out:
        out.write(text)


async def _run_cli(env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "python", "-m", "backend", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, (out + err).decode()[-3000:]


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    with _clusters() as (primary, standby):
        database = "mp_replica"
        conn = await asyncpg.connect(primary.dsn, timeout=10)
        await conn.execute(f'CREATE DATABASE "{database}"')
        await conn.close()
        primary_url = f"postgres://postgres@127.0.0.1:{primary.port}/{database}"
        env = {**os.environ, "APP_ENV": "test", "SECRET_KEY": TEST_SECRET, "PII_KEY": TEST_PII_KEY,
               "LOG_LEVEL": "WARNING", "DATABASE_URL": primary_url, "REDIS_URL": REDIS_TEST_URL,
               "REDIS_PREFIX": f"test-replica-{uuid.uuid4().hex[:8]}:", "WORKER_IN_APP": "false",
               "SCHEDULER_IN_APP": "false", "DATA_DIR": str(tmp_path_factory.mktemp("replica"))}
        env.pop("WECHAT_APP_ID", None)  # the sandbox login: any code is a test user
        await _run_cli(env, "migrate")
        await _run_cli(env, "seed-demo")
        env.update({"DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{standby.port}/{database}",
                    "REPLICA_MAX_LAG_S": str(MAX_LAG_S)})
        port = _free_port()
        log = tmp_path_factory.mktemp("replica-log") / "server.log"
        process = await serve(env, port, log)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                await until_up(http, process, log)
                staff = await http.post("/api/v1/staff/session",
                                        json={"username": "admin", "password": "demo-pass-2026"})
                assert staff.status_code == 200, staff.text
                made = Pair(primary, standby, database, http, staff.json()["token"])
                await made.caught_up()
                await until(lambda: _usable(made), "the server to use the replica")
                yield made
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=20)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            if process.returncode not in (0, -15):
                print(tail(log))


async def _usable(pair: Pair) -> bool:
    return (await pair.replica_state())["usable"]


async def test_lag_tolerant_reads_come_from_the_replica_and_a_members_own_writes_from_the_primary(pair):
    # Given the standby caught up, then holding its replay (it receives, but applies nothing)
    before = await pair.preview_count()
    await pair.caught_up()
    await pair.standby_query("SELECT pg_wal_replay_pause()")
    try:
        # When a shopper registers
        token = await pair.register()
        # Then a segment preview, read from the standby, does not count them yet ...
        assert (await pair.replica_state())["usable"]
        assert await pair.preview_count() == before
        # ... while their own asset view, just after their own write, is read from the primary (the standby
        # does not have them at all)
        assets = await pair.http.get("/api/v1/mp/me/assets", headers=bearer(token))
        assert assets.status_code == 200, assets.text
        assert assets.json()["points"]["balance"] >= 0
        # When the standby stays behind longer than REPLICA_MAX_LAG_S
        await until(lambda: _not_usable(pair), "the server to leave the lagging replica", timeout_s=MAX_LAG_S + 10)
        state = await pair.replica_state()
        assert "behind" in state["reason"] and state["lag_s"] > MAX_LAG_S
        # Then previews come from the primary and count the new member
        assert await pair.preview_count() == before + 1
    finally:
        await pair.standby_query("SELECT pg_wal_replay_resume()")
    # And once it has caught up it is used again
    await until(lambda: _usable(pair), "the server to use the replica again")
    assert await pair.preview_count() == before + 1


async def test_an_asset_view_comes_from_the_replica_once_the_members_own_writes_are_past_the_window(pair):
    # Given a member whose registration (their last write) is older than the read-your-writes window
    token = await pair.register()
    first = await pair.http.get("/api/v1/mp/me/assets", headers=bearer(token))  # from the primary: just written
    assert first.status_code == 200, first.text
    member_id = (await pair.http.get("/api/v1/mp/me", headers=bearer(token))).json()["id"]
    await asyncio.sleep(MAX_LAG_S + replicas.RYW_MARGIN_S + 1)
    # and a standby that has it all, then holds its replay
    await pair.caught_up()
    await pair.standby_query("SELECT pg_wal_replay_pause()")
    try:
        # When their balance changes on the primary by a statement that marks nobody (a direct write, in this
        # private database only: the asset card's trigger still bumps the card's version)
        conn = await asyncpg.connect(pair.db_dsn(pair.primary), timeout=5)
        try:
            await conn.execute("INSERT INTO loyalty_accounts (member_id, principal_cents, updated_at) "
                               "VALUES ($1, 500, now()) ON CONFLICT (member_id) DO UPDATE "
                               "SET principal_cents = loyalty_accounts.principal_cents + 500", member_id)
        finally:
            await conn.close()
        # Then the asset view is the standby's, within the lag it tolerates: without the change
        held = await pair.http.get("/api/v1/mp/me/assets", headers=bearer(token))
        assert held.status_code == 200, held.text
        assert (await pair.replica_state())["usable"]
        assert held.json()["balance_cents"] == first.json()["balance_cents"]
    finally:
        await pair.standby_query("SELECT pg_wal_replay_resume()")
    # And once the standby has replayed it, the view has the change (the card recomputed there, written back
    # to the primary at the version the standby had)
    await pair.caught_up()
    after = await pair.http.get("/api/v1/mp/me/assets", headers=bearer(token))
    assert after.json()["balance_cents"] == first.json()["balance_cents"] + 500


async def _not_usable(pair: Pair) -> bool:
    return not (await pair.replica_state())["usable"]


async def test_a_replica_that_goes_away_costs_no_read_and_is_used_again_when_back(pair):
    token = await pair.register()
    await pair.caught_up()  # the standby has the new member too: both answer the same count
    expected = await pair.preview_count()
    # When the standby stops at once (connections cut, nothing answers)
    pair.standby.stop("immediate")
    try:
        # Then every read is still answered, from the primary
        for _ in range(5):
            assert await pair.preview_count() == expected
            answer = await pair.http.get("/api/v1/mp/me/assets", headers=bearer(token))
            assert answer.status_code == 200, answer.text
        state = await pair.replica_state()
        assert not state["usable"], state
    finally:
        pair.standby.start()
    # And the probe brings it back
    await until(lambda: _usable(pair), "the server to use the replica again")
    assert await pair.preview_count() == expected


async def test_a_statement_the_replica_fails_runs_again_on_the_primary(pair):
    # A reader on the standby whose connection the standby cuts between two statements
    source = replicas.Replica(url=pair.db_dsn(pair.standby), max_lag_s=MAX_LAG_S)
    try:
        assert await source.probe()

        async with source.reader(pair.primary_connection) as reader:
            first = await reader.fetch_one("SELECT pg_is_in_recovery() AS standby, pg_backend_pid() AS pid")
            assert first["standby"] is True
            killer = await asyncpg.connect(pair.db_dsn(pair.standby), timeout=5)
            try:
                assert await killer.fetchval("SELECT pg_terminate_backend($1)", first["pid"])
            finally:
                await killer.close()
            # Then the next statement runs on the primary, and the replica is left until a probe
            second = await reader.fetch_one("SELECT pg_is_in_recovery() AS standby")
            assert second["standby"] is False
        assert source.fallbacks == 1 and not source.usable
        assert await source.probe()  # it is still there: the next probe takes it back
    finally:
        await source.close()


async def test_an_unreachable_replica_is_not_used_and_reads_go_to_the_primary(pair):
    source = replicas.Replica(url=f"postgres://postgres@127.0.0.1:{_free_port()}/{pair.database}",
                              max_lag_s=MAX_LAG_S)
    try:
        assert not await source.probe() and "not answering" in source.reason
        assert not await source.serves(None)
        # A reader asked for anyway starts on the primary
        source.usable = True

        async with source.reader(pair.primary_connection) as reader:
            assert (await reader.fetch_one("SELECT pg_is_in_recovery() AS standby"))["standby"] is False
        assert not source.usable and source.fallbacks == 1
    finally:
        await source.close()


def test_lag_is_read_from_the_standbys_own_account():
    # Streaming and everything received replayed: behind by the network only
    assert replicas.lag_of({"standby": True, "receiver": "streaming", "replayed": True, "since_replay": 500.0}) == 0
    # Replaying a backlog: as old as the last transaction it applied
    assert replicas.lag_of({"standby": True, "receiver": "streaming", "replayed": False, "since_replay": 7.5}) == 7.5
    # Cut off from the primary: it cannot know what it misses, only how old its data is
    assert replicas.lag_of({"standby": True, "receiver": None, "replayed": True, "since_replay": 3.0}) == 3.0
    assert replicas.lag_of({"standby": True, "receiver": None, "replayed": True, "since_replay": None}) is None
    # Not a standby at all (the primary itself): never behind
    assert replicas.lag_of({"standby": False, "receiver": None, "replayed": True, "since_replay": None}) == 0


async def test_a_members_write_is_read_from_the_primary_for_the_window_in_every_process():
    from backend.kv import MemoryKV

    shared = MemoryKV()
    writer = replicas.Replica(url="postgres://unused", max_lag_s=2, kv=shared, usable=True)
    other = replicas.Replica(url="postgres://unused", max_lag_s=2, kv=shared, usable=True)
    await writer.mark_written([7, 8])
    assert not await writer.serves(7) and not await other.serves(8)  # the other process reads the shared mark
    assert await other.serves(9) and await other.serves(None)
    assert writer.ryw_s == 2 + replicas.RYW_MARGIN_S
