"""Reads that tolerate lag, on a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``).

Which reads: the asset view (mini-program home, the clerk's member card) and segment previews; they ask
with ``db.reader(replica=True, member_id=...)``. Everything else, and every write, stays on the primary.

- **Lag.** A probe asks the replica every PROBE_S how far behind it is (``pg_stat_wal_receiver`` and the
  replay position); over ``REPLICA_MAX_LAG_S``, or not answering, it is not used until a probe finds it
  caught up again. Reads meanwhile go to the primary.
- **Read your writes.** A member whose timeline got a row (every change of their assets writes one, in
  the same transaction) is read from the primary for ``REPLICA_MAX_LAG_S + RYW_MARGIN_S`` after it: the
  mark is kept in the shared store (Redis) so every process sees it, and in this process too. If the store
  cannot be read, the member is read from the primary.
- **Going away.** A replica that fails mid-read (connection refused, reset, shut down, a statement
  cancelled by a recovery conflict) costs that read nothing: the statement runs again on the primary, the
  replica is marked down, and the probe brings it back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from backend.db import Reader

log = logging.getLogger("backend.replica")

PROBE_S = 1.0
CONNECT_TIMEOUT_S = 2.0
RYW_MARGIN_S = 5
POOL_SIZE = 10
# The replica's answer: is it a standby, is its WAL receiver streaming, has it replayed all it received, and
# how long ago the last replayed transaction committed on the primary.
LAG_SQL = """
SELECT pg_is_in_recovery() AS standby,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver,
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed,
       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS since_replay"""
# The replica went away under a read, or cancelled it (a recovery conflict): read from the primary instead.
# A connection the server terminated between two statements can leave asyncpg's protocol in a state it then
# reports as an InternalClientError on the next one: the same loss.
GONE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError, asyncpg.exceptions.OperatorInterventionError,
        asyncpg.exceptions.TransactionRollbackError)


def lag_of(row: dict[str, Any]) -> float | None:
    """Seconds the replica is behind, from LAG_SQL's row; None when it cannot say (not streaming and
    nothing replayed yet). A server that is not a standby is never behind."""
    if not row["standby"]:
        return 0.0
    since = row["since_replay"]
    if row["receiver"] == "streaming" and row["replayed"]:
        return 0.0  # it has applied everything the primary sent: behind by the network only
    return None if since is None else max(0.0, float(since))


@dataclass
class Replica:
    url: str
    max_lag_s: float
    kv: Any = None  # backend.kv.KV: the read-your-writes marks shared by every process
    pool_size: int = POOL_SIZE
    usable: bool = False
    reason: str = "not probed yet"
    lag_s: float | None = None
    fallbacks: int = 0  # reads that went to the primary because the replica failed under them
    _pool: asyncpg.Pool | None = field(default=None, repr=False)
    _written: dict[int, float] = field(default_factory=dict, repr=False)  # member id -> monotonic deadline
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def ryw_s(self) -> float:
        return self.max_lag_s + RYW_MARGIN_S

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.url, min_size=0, max_size=self.pool_size,
                                                   timeout=CONNECT_TIMEOUT_S, command_timeout=30)
        return self._pool

    async def probe(self) -> bool:
        """Ask the replica how far behind it is; whether it is usable now."""
        try:
            pool = await self._connection_pool()
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                row = await pool.fetchrow(LAG_SQL)
        except (*GONE, asyncpg.PostgresError) as exc:
            self._set(False, f"not answering: {type(exc).__name__}", None)
            return False
        lag = lag_of(dict(row))
        if lag is None:
            self._set(False, "not streaming from the primary", None)
        elif lag > self.max_lag_s:
            self._set(False, f"{lag:.1f} s behind (REPLICA_MAX_LAG_S {self.max_lag_s:g})", lag)
        else:
            self._set(True, "streaming", lag)
        return self.usable

    def _set(self, usable: bool, reason: str, lag: float | None) -> None:
        if usable != self.usable:
            (log.info if usable else log.warning)("read replica " + ("in use" if usable else "not used"),
                                                  extra={"reason": reason})
        self.usable, self.reason, self.lag_s = usable, reason, lag

    def went_away(self, exc: BaseException) -> None:
        """A read failed on the replica: the primary serves until a probe finds it back."""
        self.fallbacks += 1
        if isinstance(exc, asyncpg.exceptions.TransactionRollbackError):
            return  # one statement cancelled by a recovery conflict: the replica itself is fine
        self._set(False, f"failed under a read: {type(exc).__name__}", None)

    async def run(self, stop: asyncio.Event) -> None:
        """Probe every PROBE_S until ``stop``."""
        while not stop.is_set():
            await self.probe()
            try:
                await asyncio.wait_for(stop.wait(), PROBE_S)
            except TimeoutError:
                pass

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self.run(self._stop), name="replica_probe")

    async def close(self) -> None:
        if self._task is not None:
            self._stop.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate()

    # --- read your writes -------------------------------------------------------------------------

    async def mark_written(self, member_ids: Iterable[int]) -> None:
        """These members just changed: read them from the primary for ``ryw_s``."""
        ids = {int(member_id) for member_id in member_ids}
        if not ids:
            return
        deadline = time.monotonic() + self.ryw_s
        for member_id in ids:
            self._written[member_id] = deadline
        if len(self._written) > 100_000:  # forget the marks that ran out
            now = time.monotonic()
            self._written = {k: v for k, v in self._written.items() if v > now}
        if self.kv is None:
            return
        try:
            await self.kv.set_many([f"ryw:{member_id}" for member_id in ids], "1", ttl_s=int(self.ryw_s) + 1)
        except Exception:  # the write stands; this process reads the member from the primary, others may lag
            log.warning("read-your-writes mark not shared", exc_info=True)

    async def recently_written(self, member_id: int) -> bool:
        if self._written.get(member_id, 0.0) > time.monotonic():
            return True
        if self.kv is None:
            return False
        try:
            return await self.kv.get(f"ryw:{member_id}") is not None
        except Exception:
            return True  # cannot tell: the primary is always right

    async def serves(self, member_id: int | None) -> bool:
        """Whether this read may go to the replica."""
        if not self.usable:
            return False
        return member_id is None or not await self.recently_written(member_id)

    def describe(self) -> dict[str, Any]:
        return {"usable": self.usable, "reason": self.reason, "lag_s": self.lag_s, "max_lag_s": self.max_lag_s,
                "fallbacks": self.fallbacks}

    @asynccontextmanager
    async def reader(self, primary: Any) -> AsyncIterator[Any]:
        """A ``db.Reader`` on a replica connection that moves to the primary (``primary()``: a context
        manager giving a raw primary connection) at the first statement the replica fails."""
        async with AsyncExitStack() as stack:
            raw = None
            try:
                pool = await self._connection_pool()
                raw = await stack.enter_async_context(pool.acquire(timeout=CONNECT_TIMEOUT_S))
            except GONE as exc:
                self.went_away(exc)
            if raw is None:
                yield Reader(await stack.enter_async_context(primary()))
                return
            yield _FallbackReader(self, raw, stack, primary)


class _FallbackReader(Reader):
    """A Reader whose statements run on the replica until one fails there, then on the primary."""

    def __init__(self, replica: Replica, raw: Any, stack: AsyncExitStack, primary: Any) -> None:
        super().__init__(raw)
        self._replica, self._stack, self._primary = replica, stack, primary
        self.on_replica = True

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.on_replica:
            try:
                return [dict(row) for row in await self._raw.fetch(sql, *args)]
            except GONE as exc:
                self._replica.went_away(exc)
                log.warning("replica read failed; read from the primary", extra={"error": type(exc).__name__})
                self.on_replica = False
                self._raw = await self._stack.enter_async_context(self._primary())
        return [dict(row) for row in await self._raw.fetch(sql, *args)]


_current: Replica | None = None


def current() -> Replica | None:
    return _current


async def start(url: str | None, *, max_lag_s: float, kv: Any = None) -> Replica | None:
    """Use the replica at ``url`` (None: no replica) in this process; the first probe runs now."""
    global _current
    await stop()
    if not url:
        return None
    _current = Replica(url=url, max_lag_s=max_lag_s, kv=kv)
    await _current.probe()
    _current.start()
    return _current


async def stop() -> None:
    global _current
    if _current is not None:
        replica, _current = _current, None
        await replica.close()


async def mark_written(member_ids: Iterable[int]) -> None:
    """Called for every timeline row: a no-op without a replica."""
    if _current is not None:
        await _current.mark_written(member_ids)
