"""``python -m bench.generator URL --spec FILE``: the Python load generator that keeps HdrHistograms.

Two models of load, both on ``--connections`` keep-alive HTTP/1.1 connections opened before the start:

- **closed** (no ``--rate``): each connection sends its next request as soon as the previous answer is
  complete, as wrk does; latency runs from the moment a request is written.
- **open** (``--rate R``): requests are due on a fixed schedule, request ``i`` of the run at ``start + i / R``
  for ``i / R < --duration``, whatever the answers do. A due request goes out on an idle connection; when
  every connection is busy it waits for the first one free. Its latency runs from its **planned** time, so
  a server that stalls is charged for the requests that could not be sent meanwhile (no coordinated
  omission). The generator's own delay (the time from a request's planned time to its write, when a
  connection was idle) is recorded in a histogram of its own: a run whose generator fell behind its
  schedule is reported as such.

Several processes may share one run (``--process K --processes P``): process ``K`` sends the requests
``K, K + P, K + 2P, ...`` of the schedule (open) or its share of the connections (closed). Each prints
``ready`` once its connections are open and starts when a wall-clock time arrives on its standard input,
so all start together; ``bench/load.py`` merges what they print.

The spec: ``{"requests": [{"name", "method", "path", "headers", "body", "pools"}, ...], "pool_starts": [n, ...]}``.
With several requests the load is a mix: in the open model request ``i`` is of kind ``i mod n``; in the
closed model connection ``c`` sends the kinds in turn, starting with ``c mod n``. Pool items are taken in
order per kind from its ``pool_starts`` entry. The result is one JSON line (see ``run``): per kind the
answers, their statuses, the latency histogram (HdrHistogram, microseconds, base64) and where its pools
stop; the socket errors, the schedule's count, the generator's lag and CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import Request

HIGHEST_US = 60_000_000  # a histogram records from 1 us to 60 s, to 3 significant digits
SIGNIFICANT_DIGITS = 3
WATCHDOG_S = 0.05  # how often requests are checked against the timeout
# The event loop's timers tick by the millisecond: the requests due within the next tick go out at once,
# up to a tick before their planned time rather than up to a tick after it; the latency of such a request
# runs from its write (the earlier of the two times, always), never from a planned time after it was sent.
TICK_S = 0.001


def histogram() -> Any:
    """An empty HdrHistogram of microseconds (``hdrhistogram``, in the project's test extras)."""
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError as exc:  # pragma: no cover - the extras are installed where the bench runs
        raise SystemExit("bench.generator needs hdrhistogram: pip install -e '.[test]'") from exc
    return HdrHistogram(1, HIGHEST_US, SIGNIFICANT_DIGITS)


def record(hist: Any, seconds: float) -> None:
    hist.record_value(min(max(round(seconds * 1e6), 1), HIGHEST_US))


def decode(encoded: str) -> Any:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram.decode(encoded.encode())


# -- the schedule (pure, unit-tested) ------------------------------------------------------------------------


def schedule_size(rate: float, duration_s: float) -> int:
    """Requests due in an open-model run: request ``i`` at ``i / rate`` for every ``i / rate < duration_s``."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("an open-model run needs a positive rate and duration")
    return math.ceil(round(rate * duration_s, 6))


def share(total: int, process: int, processes: int) -> range:
    """The schedule indices process ``process`` of ``processes`` sends: every ``processes``-th from its own."""
    return range(process, total, processes)


def planned_at(index: int, rate: float) -> float:
    """Seconds from the start at which request ``index`` is due."""
    return index / rate


def open_kind(index: int, kinds: int) -> tuple[int, int]:
    """Kind of schedule request ``index`` in a mix of ``kinds`` and its rank among the requests of that kind."""
    return index % kinds, index // kinds


def open_pool_next(total: int, kind: int, kinds: int, start: int) -> int:
    """The first pool item of ``kind`` that no request of a ``total``-request schedule takes."""
    return start + max(0, (total - kind + kinds - 1) // kinds)


def split_connections(connections: int, process: int, processes: int) -> int:
    """How many of ``connections`` process ``process`` of ``processes`` opens (the first ones one more)."""
    return connections // processes + (1 if process < connections % processes else 0)


def closed_pick(start: int, sent: int, process: int, processes: int) -> int:
    """Pool item of a process's ``sent``-th (0-based) request of a kind: processes interleave, as wrk's threads."""
    return start + sent * processes + process


def closed_pool_next(start: int, most_sent: int, processes: int) -> int:
    """Above every item the processes took, when the busiest sent ``most_sent`` requests of the kind."""
    return start + most_sent * processes


# -- the result ----------------------------------------------------------------------------------------------


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.I)


def take_answer(buffer: bytearray) -> tuple[int, bool] | None:
    """The status and connection-close flag of the first complete HTTP answer in ``buffer``, removed from
    it; None while it is incomplete. ValueError for an answer without Content-Length."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end])
    length = _CONTENT_LENGTH.search(head)
    if length is None:
        raise ValueError("answer without Content-Length")
    size = end + 4 + int(length.group(1))
    if len(buffer) < size:
        return None
    del buffer[:size]
    return int(head[9:12]), bool(_CLOSE.search(head))


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @classmethod
    def of(cls, hist: Any) -> Latency:
        if hist.get_total_count() == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        return cls(hist.get_total_count(), hist.get_value_at_percentile(50) / 1000,
                   hist.get_value_at_percentile(99) / 1000, hist.get_value_at_percentile(99.9) / 1000,
                   hist.get_max_value() / 1000)


@dataclass(frozen=True)
class Kind:
    """What one kind of request of a run got."""

    name: str
    answers: int  # complete answers (within the window or after it)
    in_window: int  # answers complete before the end of the window
    non_2xx: int  # answers >= 400
    statuses: dict[int, int]
    latency: Latency
    pool_next: int


@dataclass(frozen=True)
class Run:
    """A run of one or more processes, merged (``bench.load.PythonGenerator``)."""

    model: str  # "open" or "closed"
    rate: float | None  # open: requests due per second
    duration_s: float
    processes: int
    connections: int
    kinds: dict[str, Kind]
    planned: int  # open: requests of the schedule (closed: requests sent)
    sent_in_window: int  # requests written before the end of the window
    socket_errors: int  # connect, read, write errors and timeouts
    waited: int  # open: due requests that found every connection busy
    lag: Latency  # open: planned time to write, for requests that found a connection idle
    cpu_s: float  # the generator processes' CPU time over the run
    elapsed_s: float
    failed: str | None = None  # open, a baseline only: why too many of its requests failed at this rate

    @property
    def answers(self) -> int:
        return sum(kind.answers for kind in self.kinds.values())

    @property
    def non_2xx(self) -> int:
        return sum(kind.non_2xx for kind in self.kinds.values())

    @property
    def rps(self) -> float:
        """Answers per second of the window."""
        return sum(kind.in_window for kind in self.kinds.values()) / self.duration_s

    @property
    def sent_rps(self) -> float:
        return self.sent_in_window / self.duration_s

    @property
    def cores(self) -> float:
        return self.cpu_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


# Limits past which an open-model run's generator is said to have fallen behind its schedule.
LAG_P99_LIMIT_MS = 2.0  # its own delay, at the 99th percentile (timers tick by the millisecond)
SENT_SHORT_LIMIT = 0.99  # requests written in the window, of those due, while a connection was idle


def behind(run: Run) -> str | None:
    """Why an open-model run's generator did not keep its schedule, or None when it did.

    A request that waited because every connection was busy is the server's delay, not the
    generator's (its latency counts from its planned time); a generator that wrote requests later than
    due while connections were idle, or wrote fewer than due, measured its own delay too.
    """
    if run.model != "open":
        return None
    reasons = []
    if run.lag.count and run.lag.p99_ms > LAG_P99_LIMIT_MS:
        reasons.append(f"its own delay p99 {run.lag.p99_ms:.1f}ms > {LAG_P99_LIMIT_MS:g}ms")
    # Every request of the schedule is due within the window; with no request kept waiting for a
    # connection, one written after the window was late by the generator's doing.
    if run.waited == 0 and run.sent_in_window < SENT_SHORT_LIMIT * run.planned:
        reasons.append(f"it wrote {run.sent_in_window} of {run.planned} due requests within the window")
    return "; ".join(reasons) or None


def merge(model: str, rate: float | None, duration_s: float, connections: int, names: list[str],
          pool_starts: list[int], parts: list[dict[str, Any]]) -> Run:
    """One :class:`Run` from the JSON lines of its processes."""
    processes = len(parts)
    kinds = {}
    for k, name in enumerate(names):
        hist = histogram()
        answers = in_window = non_2xx = 0
        statuses: collections.Counter[int] = collections.Counter()
        most_sent = 0
        for part in parts:
            got = part["kinds"][k]
            hist.add(decode(got["hist"]))
            answers += got["answers"]
            in_window += got["in_window"]
            non_2xx += got["non_2xx"]
            statuses.update({int(code): n for code, n in got["statuses"].items()})
            most_sent = max(most_sent, got["sent"])
        if model == "open":
            pool_next = open_pool_next(parts[0]["planned_total"], k, len(names), pool_starts[k])
        else:
            pool_next = closed_pool_next(pool_starts[k], most_sent, processes)
        kinds[name] = Kind(name, answers, in_window, non_2xx, dict(statuses), Latency.of(hist), pool_next)
    lag = histogram()
    for part in parts:
        lag.add(decode(part["lag"]))
    return Run(model=model, rate=rate, duration_s=duration_s, processes=processes, connections=connections,
               kinds=kinds, planned=sum(part["planned"] for part in parts),
               sent_in_window=sum(part["sent_in_window"] for part in parts),
               socket_errors=sum(part["socket_errors"] for part in parts),
               waited=sum(part["waited"] for part in parts), lag=Latency.of(lag),
               cpu_s=sum(part["cpu_s"] for part in parts),
               elapsed_s=max(part["elapsed_s"] for part in parts))


# -- the generator -------------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the run is told of each complete answer (``Content-Length`` framed)."""

    def __init__(self, owner: _Generator) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: tuple[int, float, float] | None = None  # kind, latency origin, written at
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.owner.lost(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.pending is None:
            return
        try:
            answer = take_answer(self.buffer)
        except ValueError:
            self.owner.failed(self)
            return
        if answer is None:
            return
        pending, self.pending = self.pending, None
        self.owner.answered(self, pending, *answer)

    def write(self, payload: bytes, pending: tuple[int, float, float]) -> None:
        assert self.transport is not None
        self.pending = pending
        self.transport.write(payload)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _Generator:
    def __init__(self, url: str, requests: list[Request], pool_starts: list[int], *, connections: int,
                 duration_s: float, timeout_s: float, rate: float | None, process: int, processes: int,
                 run_id: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.netloc = parts.hostname or "127.0.0.1", parts.port or 80, parts.netloc
        self.requests, self.pool_starts = requests, pool_starts
        self.static = [None if r.distinct else self.payload(k, 0, "") for k, r in enumerate(requests)]
        self.connections = connections
        self.duration_s, self.timeout_s, self.rate = duration_s, timeout_s, rate
        self.process, self.processes, self.run_id = process, processes, run_id
        self.hists = [histogram() for _ in requests]
        self.lag = histogram()
        self.answers = [0] * len(requests)
        self.in_window = [0] * len(requests)
        self.non_2xx = [0] * len(requests)
        self.sent = [0] * len(requests)
        self.statuses: list[collections.Counter[int]] = [collections.Counter() for _ in requests]
        self.socket_errors = self.waited = self.sent_in_window = self.written = 0
        self.idle: list[_Connection] = []
        self.live: set[_Connection] = set()
        self.backlog: collections.deque[tuple[int, int, float]] = collections.deque()  # kind, rank, planned
        self.next_kind: dict[_Connection, int] = {}
        self.started = self.deadline = 0.0
        self.stopping = False
        self.settled: asyncio.Event | None = None
        self.total = schedule_size(rate, duration_s) if rate is not None else 0
        self.mine = share(self.total, process, processes) if rate is not None else range(0)

    def payload(self, kind: int, pick: int, seq: str) -> bytes:
        request = self.requests[kind]
        path, headers, body = request.render(seq, pick)
        lines = [f"{request.method} {path} HTTP/1.1", f"Host: {self.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    def build(self, kind: int, pick: int) -> bytes:
        static = self.static[kind]
        if static is not None:
            return static
        self.written += 1
        return self.payload(kind, pick, f"{self.run_id}-{self.process}-{self.written}")

    async def connect(self) -> _Connection | None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self.host, self.port), self.timeout_s)
        except (OSError, TimeoutError):
            self.socket_errors += 1
            return None
        self.live.add(connection)
        return connection

    # open model --------------------------------------------------------------------------------------------

    def send_open(self, connection: _Connection, kind: int, rank: int, planned: float, now: float) -> None:
        payload = self.build(kind, self.pool_starts[kind] + rank)
        self.sent[kind] += 1
        if now < self.deadline:
            self.sent_in_window += 1
        connection.write(payload, (kind, planned, now))

    async def schedule(self) -> None:
        kinds = len(self.requests)
        for index in self.mine:
            planned = self.started + planned_at(index, self.rate or 1)
            now = time.perf_counter()
            while planned - now > TICK_S:  # never a timer shorter than a tick: no busy loop
                await asyncio.sleep(max(planned - now - TICK_S / 2, TICK_S))
                now = time.perf_counter()
            kind, rank = open_kind(index, kinds)
            if self.idle:
                record(self.lag, max(0.0, now - planned))
                self.send_open(self.idle.pop(), kind, rank, min(planned, now), now)
            else:
                self.waited += 1
                self.backlog.append((kind, rank, planned))

    # closed model ------------------------------------------------------------------------------------------

    def send_closed(self, connection: _Connection, now: float) -> None:
        kind = self.next_kind[connection]
        self.next_kind[connection] = (kind + 1) % len(self.requests)
        pick = closed_pick(self.pool_starts[kind], self.sent[kind], self.process, self.processes)
        payload = self.build(kind, pick)
        self.sent[kind] += 1
        self.sent_in_window += 1
        connection.write(payload, (kind, now, now))

    # both --------------------------------------------------------------------------------------------------

    def next_for(self, connection: _Connection) -> None:
        """Give a free connection its next request, or leave it idle."""
        now = time.perf_counter()
        if self.rate is not None:
            if self.backlog:
                kind, rank, planned = self.backlog.popleft()
                self.send_open(connection, kind, rank, planned, now)
            else:
                self.idle.append(connection)
        elif now < self.deadline and not self.stopping:
            self.send_closed(connection, now)
        self.check_settled()

    def answered(self, connection: _Connection, pending: tuple[int, float, float], status: int,
                 close: bool) -> None:
        now = time.perf_counter()
        kind, origin, _ = pending
        record(self.hists[kind], now - origin)
        self.answers[kind] += 1
        if now <= self.deadline:
            self.in_window[kind] += 1
        self.statuses[kind][status] += 1
        if status >= 400:
            self.non_2xx[kind] += 1
        if close:
            connection.abort()
            return  # connection_lost replaces it
        self.next_for(connection)

    def failed(self, connection: _Connection) -> None:
        """A request that got no usable answer (lost, timed out, unframed): an error, never retried."""
        if connection.pending is not None:
            connection.pending = None
            self.socket_errors += 1
        connection.abort()

    def lost(self, connection: _Connection) -> None:
        if connection.pending is not None:
            connection.pending = None
            self.socket_errors += 1
        self.live.discard(connection)
        with contextlib.suppress(ValueError):
            self.idle.remove(connection)
        if not self.stopping:
            asyncio.get_running_loop().create_task(self.replace(connection))
        self.check_settled()

    async def replace(self, old: _Connection) -> None:
        while not self.stopping:
            connection = await self.connect()
            if connection is not None:
                self.next_kind[connection] = self.next_kind.pop(old, 0)
                self.next_for(connection)
                return
            await asyncio.sleep(0.05)

    async def watchdog(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_S)
            now = time.perf_counter()
            for connection in list(self.live):
                if connection.pending is not None and now - connection.pending[2] > self.timeout_s:
                    self.failed(connection)

    def check_settled(self) -> None:
        if self.settled is not None and not self.backlog and all(c.pending is None for c in self.live):
            self.settled.set()

    async def open_connections(self) -> list[_Connection]:
        """The run's connections, opened before its start: connecting is not part of the schedule."""
        opened = [c for c in await asyncio.gather(*(self.connect() for _ in range(self.connections))) if c]
        if not opened:
            raise SystemExit(f"could not connect to {self.host}:{self.port}")
        return opened

    async def run(self, pool: list[_Connection], start_at: float | None = None) -> dict[str, Any]:
        for n, connection in enumerate(pool):
            self.next_kind[connection] = (n * self.processes + self.process) % len(self.requests)
        if start_at is not None:  # started by bench.load together with the other processes
            delay = start_at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        cpu = time.process_time()
        self.started = time.perf_counter()
        self.deadline = self.started + self.duration_s
        watchdog = asyncio.get_running_loop().create_task(self.watchdog())
        try:
            if self.rate is not None:
                self.idle = list(reversed(pool))
                await self.schedule()
            else:
                for connection in pool:
                    self.send_closed(connection, self.started)
            await asyncio.sleep(max(0.0, self.deadline - time.perf_counter()))
            # What is in flight (or waiting for a connection) at the end is answered, or times out.
            self.stopping = self.rate is None  # closed: no new request after the window
            self.settled = asyncio.Event()
            self.check_settled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settled.wait(), self.timeout_s + 2 * WATCHDOG_S)
            self.stopping = True
            self.socket_errors += len(self.backlog) + sum(1 for c in self.live if c.pending is not None)
        finally:
            watchdog.cancel()
            self.stopping = True
            for connection in list(self.live):
                connection.abort()
        elapsed = time.perf_counter() - self.started
        kinds = [{"answers": self.answers[k], "in_window": self.in_window[k], "non_2xx": self.non_2xx[k],
                  "sent": self.sent[k], "statuses": dict(self.statuses[k]), "hist": self.hists[k].encode().decode()}
                 for k in range(len(self.requests))]
        return {"kinds": kinds, "planned": len(self.mine) if self.rate is not None else sum(self.sent),
                "planned_total": self.total, "sent_in_window": self.sent_in_window,
                "socket_errors": self.socket_errors, "waited": self.waited, "lag": self.lag.encode().decode(),
                "cpu_s": time.process_time() - cpu, "elapsed_s": elapsed}


def request_from(spec: dict[str, Any]) -> Request:
    return Request(spec["path"], spec.get("method") or "GET", spec.get("headers") or {}, spec.get("body"),
                   {name: tuple(values) for name, values in (spec.get("pools") or {}).items()})


def spec_of(requests: list[Request], pool_starts: list[int]) -> dict[str, Any]:
    return {"requests": [{"method": r.method, "path": r.path, "headers": r.headers, "body": r.body,
                          "pools": {name: list(values) for name, values in r.pools.items()}} for r in requests],
            "pool_starts": pool_starts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="http://host:port (the requests' paths are added)")
    parser.add_argument("--spec", type=Path, required=True, help="the requests, as JSON (see the module's doc)")
    parser.add_argument("--rate", type=float, help="open model: requests due per second, all processes together")
    parser.add_argument("--connections", type=int, default=64, help="this process's connections (64)")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=5)
    parser.add_argument("--process", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--run", default="run", help="prefix of the {seq} values")
    parser.add_argument("--wait-start", action="store_true",
                        help="print 'ready' once connected, then start at the wall-clock time read from stdin")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    requests = [request_from(item) for item in spec["requests"]]
    generator = _Generator(args.url, requests, list(spec.get("pool_starts") or [0] * len(requests)),
                           connections=args.connections, duration_s=args.duration, timeout_s=args.timeout,
                           rate=args.rate, process=args.process, processes=args.processes, run_id=args.run)

    async def run() -> dict[str, Any]:
        pool = await generator.open_connections()
        start_at = None
        if args.wait_start:
            print("ready", flush=True)
            start_at = float(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
        return await generator.run(pool, start_at)

    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(run())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
