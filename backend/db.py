"""Tortoise ORM configuration: PostgreSQL from DATABASE_URL, a SQLite file as the embedded default.

On PostgreSQL the schema comes only from aerich migrations (``python -m backend migrate``); on
SQLite the models generate it at start, since the migrations are written in PostgreSQL's dialect.

On PostgreSQL the client is Tortoise's asyncpg client with transactions and releases that survive an
outage (``PostgresClient``): a blip costs the requests made during it and nothing after. Deadlocks and
serialization failures are retried here too, by ``retry_conflicts`` around a service's transaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import BaseDBAsyncClient, NestedTransactionContext, TransactionContext
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import IntegrityError, TransactionManagementError

log = logging.getLogger("backend.db")
P = ParamSpec("P")
T = TypeVar("T")

MODEL_MODULES = [
    "backend.stores.models",
    "backend.idempotency",
    "backend.security.nonces",
    "backend.members.models",
    "backend.loyalty.models",
    "backend.coupons.models",
    "backend.checkout.models",
    "notifications.models",
    "jobs.models",
    "jobs.audience_models",
    "backend.testclock",
    "backend.webhooks.models",
    "backend.imports.models",
    "backend.payments.models",
    "backend.membership.models",
    "backend.analytics.models",
]


def _with_pool(url: str, pool_size: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", "1")
    query.setdefault("maxsize", str(pool_size))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _keep_session(connection: Any) -> None:
    """Pool release without ``RESET ALL``: the app keeps no session state (no SET outside a
    transaction, no LISTEN, no advisory locks), and asyncpg still rolls back an open transaction on
    release. Saves a round trip on every query that runs outside a transaction."""


# Connections per process for transactions. More is not faster: on this kind of machine (2 cores) 8 to 10
# gave the best order rate and the shortest tails (bench orders, bench mixed); 20 queued more work on the
# same cores and lengthened every tail.
POOL_SIZE_DEFAULT = 10
# Connections per process for reads outside transactions (``reader()``: the asset view, previews), apart from
# the pool that transactions use: a read never waits for a connection behind the writers. 0: one shared pool.
READ_POOL_SIZE_DEFAULT = 10
read_pool_size = READ_POOL_SIZE_DEFAULT


def tortoise_config(database_url: str, *, pool_size: int | None = None) -> dict[str, Any]:
    global read_pool_size
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("postgres"):
        read_pool_size = max(0, int(os.environ.get("DB_READ_POOL_SIZE", str(READ_POOL_SIZE_DEFAULT))))
        connection = expand_db_url(_with_pool(database_url, pool_size or int(os.environ.get("DB_POOL_SIZE", str(POOL_SIZE_DEFAULT)))))
        connection["engine"] = __name__  # PostgresClient below
        connection["credentials"]["reset"] = _keep_session
        # asyncpg waits 60 s for a connection by default: an unreachable host would hold every request
        # that needs a new connection far past any client's timeout. Connecting takes milliseconds.
        connection["credentials"].setdefault("timeout", CONNECT_TIMEOUT_S)
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {"models": [*MODEL_MODULES, "aerich.models"], "default_connection": "default"},
        },
        "use_tz": True,
        "timezone": "UTC",
    }


CONNECT_TIMEOUT_S = 3.0
RELEASE_TIMEOUT_S = 1.0  # a ROLLBACK or a connection reset takes a round trip: milliseconds


class _Transaction(TransactionContext):
    """``in_transaction()`` on PostgreSQL: take the connection and BEGIN before the task sees the
    transaction, and whatever fails on the way out, give the connection back and restore the task's view.

    Tortoise's own context publishes the transaction in the task's context before it has a connection and
    restores it only after a clean release. During an outage the acquire, the BEGIN or the release fails,
    and the dead transaction stays published. Sanic serves every request of a keep-alive connection in one
    task, so that connection went on answering from it: 500s (no connection yet: ``'schema'``) or 503s for
    good (``connection has been released back to the pool``), long after the database was back.
    """

    def __init__(self, pool_client: PostgresClient) -> None:
        self._pool_client = pool_client
        self.client = _TransactionClient(pool_client)

    async def __aenter__(self) -> _TransactionClient:
        pool_client = self._pool_client
        if not pool_client._pool:
            async with pool_client._pool_init_lock:
                if not pool_client._pool:
                    await pool_client.create_connection(with_db=True)
        pool = self._pool = pool_client._pool
        raw = await pool_client.take(pool)
        self.client._connection = raw
        try:
            await self.client.begin()
        except BaseException:
            self.client._ended = True
            await pool_client.give(pool, raw)
            raise
        self._token = connections.set(pool_client.connection_name, self.client)
        return self.client

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        client = self.client
        # Cancelled (a response timeout, a client gone): no ROLLBACK round trip on a network that may not
        # answer; closing the connection rolls the transaction back on the server.
        cancelled = exc_type is not None and not issubclass(exc_type, Exception)
        try:
            if client._finalized or cancelled:
                pass
            elif exc_type is None:
                await client.commit()
            elif exc_type is not TransactionManagementError:
                async with asyncio.timeout(RELEASE_TIMEOUT_S):
                    await client.rollback()
        except (asyncio.CancelledError, TimeoutError):
            cancelled = True  # the COMMIT or ROLLBACK itself was cancelled or timed out
            raise
        finally:
            client._ended = True
            try:
                connections.reset(self._token)
            finally:
                await self._pool_client.give(self._pool, client._connection, cancelled=cancelled)


async def _give_back(pool: asyncpg.Pool | None, raw: Any, cancelled: bool = False) -> None:
    """Release to the pool, within RELEASE_TIMEOUT_S. A connection that fails its reset (it broke, or a
    cancelled query is still being cancelled over a network that does not answer) is closed by asyncpg
    instead; the pool opens a new one when needed, so the failure is not the caller's."""
    if pool is None:
        return
    if cancelled:
        raw.terminate()  # its last statement may still be running: never hand it to the next caller
    try:
        await pool.release(raw, timeout=RELEASE_TIMEOUT_S)
    except Exception as exc:  # whatever failed, asyncpg closed the connection
        log.warning("database connection closed on release: %s: %s", type(exc).__name__, exc)


class _PooledConnection:
    """``acquire_connection()`` outside a transaction: Tortoise's, with the release bounded as above;
    ``read``: from the read pool (``acquire_read_connection``)."""

    def __init__(self, client: PostgresClient, *, read: bool = False) -> None:
        self.client = client
        self.read = read
        self.pool: asyncpg.Pool | None = None
        self.connection: Any = None

    async def __aenter__(self) -> Any:
        client = self.client
        if not client._pool:
            async with client._pool_init_lock:
                if not client._pool:
                    await client.create_connection(with_db=True)
        self.pool = await client.read_pool() if self.read else client._pool
        self.connection = await client.take(self.pool)
        return self.connection

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        cancelled = exc_type is not None and not issubclass(exc_type, Exception)
        await self.client.give(self.pool, self.connection, cancelled=cancelled)


class _TransactionClient(TransactionWrapper):
    """The client a transaction block publishes. Once the block has ended it stands for the pool again: a
    context copied while the block was open (a task started inside it) cannot keep using a connection
    the pool has taken back."""

    _ended = False

    def _after(self) -> BaseDBAsyncClient | None:
        """The pool client if this block or one around it has ended, else None."""
        client: BaseDBAsyncClient = self
        stale = False
        while isinstance(client, _TransactionClient):
            stale = stale or client._ended
            client = client._parent
        return client if stale else None

    def _in_transaction(self) -> TransactionContext:
        pool_client = self._after()
        if pool_client is not None:
            return pool_client._in_transaction()
        return NestedTransactionContext(_TransactionClient(self))  # a savepoint on the same connection

    def acquire_connection(self) -> Any:
        pool_client = self._after()
        return pool_client.acquire_connection() if pool_client is not None else super().acquire_connection()


class PostgresClient(AsyncpgDBClient):
    """Tortoise's asyncpg client with transactions that survive an outage (see _Transaction) and
    releases that cannot hang on a network that stopped answering."""

    def _in_transaction(self) -> TransactionContext:
        return _Transaction(self)

    _read_pool: asyncpg.Pool | None = None
    _gates: tuple[asyncio.AbstractEventLoop, dict[int, tuple[asyncpg.Pool, asyncio.Semaphore]]] | None = None

    def acquire_connection(self) -> Any:
        return _PooledConnection(self)

    def acquire_read_connection(self) -> Any:
        """A connection for reads outside a transaction: from the read pool (``DB_READ_POOL_SIZE``), so that
        reads never queue for a connection behind transactions; the shared pool when it is 0."""
        return _PooledConnection(self, read=read_pool_size > 0)

    async def read_pool(self) -> asyncpg.Pool:
        if self._read_pool is None:
            async with self._pool_init_lock:
                if self._read_pool is None:  # the main pool's parameters (made first), its own size
                    template = {**self._template, "min_size": 0, "max_size": read_pool_size}
                    self._read_pool = await self.create_pool(password=self.password, **template)
        return self._read_pool

    def _slots(self, pool: asyncpg.Pool) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._gates is None or self._gates[0] is not loop:
            self._gates = (loop, {})
        entry = self._gates[1].get(id(pool))
        if entry is None or entry[0] is not pool:
            entry = self._gates[1][id(pool)] = (pool, asyncio.Semaphore(pool.get_max_size()))
        return entry[1]

    async def take(self, pool: asyncpg.Pool) -> Any:
        """A connection from ``pool``, handed out in the order they were asked for; give it back with
        ``give``.

        asyncpg's own queue is not fair under load: a released connection can go to a caller that has just
        arrived while one woken earlier has yet to run, and that one waits again (measured at 64 requests
        on a pool of 20: the median wait 0.01 ms, p99 33 ms, the longest 150 ms). Here each connection is
        a slot of a FIFO semaphore as large as the pool: a caller waits for a slot in arrival order (a
        newcomer cannot take a slot a woken waiter is about to), and with a slot the pool has a connection.
        """
        slots = self._slots(pool)
        await slots.acquire()
        try:
            return await pool.acquire()
        except BaseException:
            slots.release()
            raise

    async def give(self, pool: asyncpg.Pool, raw: Any, *, cancelled: bool = False) -> None:
        """Give back a connection ``take`` handed out: to the pool, then its slot to the next in line."""
        try:
            await _give_back(pool, raw, cancelled=cancelled)
        finally:
            self._slots(pool).release()

    async def _expire_connections(self) -> None:
        await super()._expire_connections()
        if self._read_pool is not None:
            await self._read_pool.expire_connections()

    async def _close(self) -> None:
        read_pool, self._read_pool = self._read_pool, None
        if read_pool is not None:
            try:
                await asyncio.wait_for(read_pool.close(), 10)
            except TimeoutError:
                read_pool.terminate()
        await super()._close()


client_class = PostgresClient  # what Tortoise looks up in the module an "engine" names

CONFLICT_ATTEMPTS = 3
_CONFLICTS = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)


def find_cause(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """``exc`` or the first exception that caused it (``__cause__``/``__context__``) of one of ``types``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, types):
            return current
        current = current.__cause__ or current.__context__
    return None


def is_conflict(exc: BaseException) -> bool:
    """PostgreSQL aborted the transaction to break a deadlock (40P01) or a serialization conflict (40001)."""
    return find_cause(exc, _CONFLICTS) is not None


def in_open_transaction() -> bool:
    """Whether the calling task runs inside a transaction block on PostgreSQL."""
    client = connections.get("default")
    return isinstance(client, _TransactionClient) and client._after() is None


def retry_conflicts(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Re-run a service whose whole body is one ``in_transaction()`` block when PostgreSQL aborts it as
    a deadlock victim or on a serialization failure: up to CONFLICT_ATTEMPTS runs, short jittered pauses.

    The aborted run was rolled back whole, so running it again is safe, provided the service does nothing
    outside its transaction before it can fail (no Redis writes, no calls out). Called inside another
    transaction it runs once: only the outermost block can be re-run, and the conflict goes to its owner.
    """

    @functools.wraps(func)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        attempts = 1 if in_open_transaction() else CONFLICT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                if attempt == attempts or not is_conflict(exc):
                    raise
                log.info("transaction conflict, run %d of %d again: %s", attempt, attempts, exc)
                await asyncio.sleep(random.uniform(0.005, 0.03) * attempt)  # jitter: the two runs part ways
        raise AssertionError("unreachable")

    return run


def _default_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        url = "postgres" + url[len("postgresql") :]
    return url or f"sqlite://{os.environ.get('DATA_DIR') or './data'}/member.sqlite3"


# Read by aerich (pyproject's [tool.aerich]); the server builds its own from validated settings.
TORTOISE_ORM = tortoise_config(_default_url())


async def init_tortoise(config: dict[str, Any]) -> None:
    """Tortoise.init that is safe when the process already talked to another database.

    Tortoise caches each model's INSERT statement per connection name, in the dialect of the first
    database it saw; a process that switches databases (``migrate`` then ``serve``, the test suite's
    SQLite and PostgreSQL stacks) would reuse SQLite's ``?`` placeholders on PostgreSQL.

    It also gives the process back its ``TIMEZONE``: Tortoise writes its own (UTC) into the process
    environment, where our setting of the same name lives, so every process started after it (a
    ``run-job`` from a test, a worker) would otherwise take UTC for the merchant's time zone.
    """
    from tortoise import timezone as tortoise_tz
    from tortoise.backends.base import executor

    executor.EXECUTOR_CACHE.clear()
    ours = os.environ.get("TIMEZONE")
    await Tortoise.init(config=config)
    tortoise_tz.get_timezone()  # Tortoise caches its UTC now, before the variable is ours again
    tortoise_tz.get_default_timezone()
    if ours is None:
        os.environ.pop("TIMEZONE", None)
    else:
        os.environ["TIMEZONE"] = ours


async def init_db(database_url: str, *, generate_sqlite_schema: bool = True) -> None:
    await init_tortoise(tortoise_config(database_url))
    if database_url.startswith("sqlite"):
        conn = connections.get("default")
        await conn.execute_script("PRAGMA busy_timeout = 5000;")
        if generate_sqlite_schema:
            await Tortoise.generate_schemas(safe=True)
            # What a model cannot declare (triggers): a models module's SQLITE_SCHEMA, after the tables.
            for module in MODEL_MODULES:
                script = getattr(sys.modules.get(module), "SQLITE_SCHEMA", "")
                if script:
                    await conn.execute_script(script)


async def close_db() -> None:
    await connections.close_all()


async def ping_db() -> None:
    await connections.get("default").execute_query("SELECT 1")


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


_PLACEHOLDER = re.compile(r"\$(\d+)")
_SQLITE_FORMS: dict[str, tuple[str, list[int]]] = {}


def _sqlite_form(sql: str) -> tuple[str, list[int]]:
    """``$n`` placeholders as SQLite's ``?``, with the argument order they need."""
    form = _SQLITE_FORMS.get(sql)
    if form is None:
        order = [int(n) - 1 for n in _PLACEHOLDER.findall(sql)]
        form = _SQLITE_FORMS[sql] = (_PLACEHOLDER.sub("?", sql), order)
    return form


async def fetch(sql: str, *args: Any, conn: BaseDBAsyncClient | None = None) -> list[dict[str, Any]]:
    """Rows of a fixed SQL string written with PostgreSQL's ``$n`` placeholders, on either database.

    For the hottest reads: a fixed string skips the query builder, which costs more than the query
    on a small lookup. Keep to SQL both databases speak; values come back as the driver gives them
    (``to_datetime`` reads SQLite's text timestamps).
    """
    conn = conn or connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        text, order = _sqlite_form(sql)
        return await conn.execute_query_dict(text, [_sqlite_value(args[i]) for i in order])
    return await conn.execute_query_dict(sql, list(args))


async def fetch_one(sql: str, *args: Any, conn: BaseDBAsyncClient | None = None) -> dict[str, Any] | None:
    rows = await fetch(sql, *args, conn=conn)
    return rows[0] if rows else None


def _sqlite_value(value: Any) -> Any:
    # Timestamps are stored as UTC text ("2026-11-26 01:40:14.808481+00:00"): compare like with like.
    return str(value.astimezone(UTC)) if isinstance(value, datetime) else value


def to_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def to_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Reader:
    """Several fixed-SQL reads on one pooled connection (one acquire and release instead of one per
    read); on SQLite, the shared connection."""

    def __init__(self, raw: Any = None) -> None:
        self._raw = raw

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self._raw is None:
            return await fetch(sql, *args)
        return [dict(row) for row in await self._raw.fetch(sql, *args)]

    async def fetch_one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        if self._raw is None or type(self) is not Reader:  # a subclass reads through its own fetch
            rows = await self.fetch(sql, *args)
            return rows[0] if rows else None
        row = await self._raw.fetchrow(sql, *args)
        return None if row is None else dict(row)


def reader(*, replica: bool = False, member_id: int | None = None) -> _ReaderScope:
    """A Reader on one connection of the read pool (``DB_READ_POOL_SIZE``); inside a transaction block, on
    the block's own connection. ``replica``: a read that tolerates lag may go to the read replica
    (``backend.replica``), unless ``member_id`` changed within the read-your-writes window or a transaction
    block is open; it falls back to the primary by itself."""
    return _ReaderScope(replica, member_id)


class _ReaderScope:
    """``reader()``'s context: a plain class rather than a generator-based one, as the hottest read (the asset
    view) goes through it on every request."""

    __slots__ = ("_scope", "member_id", "replica")

    def __init__(self, replica: bool, member_id: int | None) -> None:
        self.replica, self.member_id = replica, member_id
        self._scope: Any = None

    async def __aenter__(self) -> Reader:
        client = connections.get("default")
        if client.capabilities.dialect == "sqlite":
            return Reader()
        if in_open_transaction():  # what the block wrote is visible on its connection only
            self._scope = client.acquire_connection()
            return Reader(await self._scope.__aenter__())
        if isinstance(client, _TransactionClient):  # a block that has ended: the pool client it stood for
            client = client._after()
        if self.replica:
            from backend import replica as replicas

            source = replicas.current()
            if source is not None and await source.serves(self.member_id):
                self._scope = source.reader(client.acquire_read_connection)
                return await self._scope.__aenter__()
        self._scope = client.acquire_read_connection()
        return Reader(await self._scope.__aenter__())

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        scope, self._scope = self._scope, None
        if scope is None:
            return None
        return await scope.__aexit__(exc_type, exc, tb)


async def copy_rows(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                    conn: BaseDBAsyncClient) -> None:
    """Append ``rows`` to ``table`` on the transaction ``conn``: PostgreSQL's binary COPY (the bulk writes of
    an import), one prepared INSERT run for each row on SQLite. JSON columns take their text."""
    if not rows:
        return
    if conn.capabilities.dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        await conn.execute_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                [[_sqlite_value(value) for value in row] for row in rows])
        return
    raw = conn._connection  # type: ignore[attr-defined]  # the transaction's asyncpg connection
    try:
        await raw.copy_records_to_table(table, columns=list(columns), records=rows)
    except asyncpg.IntegrityConstraintViolationError as exc:  # as Tortoise reports it for its own statements
        raise IntegrityError(str(exc)) from exc


async def reserve_ids(table: str, count: int, conn: BaseDBAsyncClient) -> list[int]:
    """``count`` fresh primary keys of ``table`` for rows written with ``copy_rows`` (their children need them).
    PostgreSQL draws them from the sequence; on SQLite the caller's transaction must already hold the write
    lock (one writer at a time), so the next ids after the largest are free until it commits."""
    if count <= 0:
        return []
    if conn.capabilities.dialect == "sqlite":
        rows = await conn.execute_query_dict(f"SELECT COALESCE(MAX(id), 0) AS top FROM {table}")
        top = int(rows[0]["top"])
        return list(range(top + 1, top + count + 1))
    rows = await conn.execute_query_dict(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, $1)", [count])
    return [int(row["id"]) for row in rows]
