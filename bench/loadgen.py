"""``python -m bench.loadgen URL``: a small HTTP/1.1 load generator for machines without wrk.

N connections, each sending the request again as soon as the previous answer is complete (keep-alive,
like wrk); the latency of every request is recorded. Prints one JSON line: requests, duration_s, rps,
p50_ms, p99_ms, p999_ms, non_2xx, socket_errors, pool_next (the first pool item no request took), statuses (answers
by status). Answers must carry Content-Length (Sanic's do).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from bench import Request
from bench.generator import take_answer
from bench.load import Result


class _Connection(asyncio.Protocol):
    """One keep-alive connection: ``send`` writes a request and waits for the whole answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed before the answer was complete"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            answer = take_answer(self.buffer)
        except ValueError as exc:
            self.waiter.set_exception(ConnectionError(str(exc)))
            return
        if answer is not None:
            self.waiter.set_result(answer)

    async def send(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        status, close = await self.waiter
        if close:
            self.transport.close()
            self.closed = True
        return status


def _payload(request: Request, host: str, seq: str, pick: int = 0) -> bytes:
    path, headers, body = request.render(seq, pick)
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def run(url: str, request: Request, *, connections: int, duration_s: float, timeout_s: float,
              run_id: str, pool_start: int = 0) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    static = None if request.distinct else _payload(request, parts.netloc, "")
    # One counter for all connections: consecutive requests take different pool items.
    picks = itertools.count(pool_start)
    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0}
    statuses: collections.Counter[int] = collections.Counter()
    started = time.perf_counter()
    deadline = started + duration_s

    async def client(number: int) -> None:
        connection: _Connection | None = None
        n = 0
        while time.perf_counter() < deadline:
            try:
                if connection is None or connection.closed:
                    _, connection = await asyncio.wait_for(
                        loop.create_connection(_Connection, host, port), timeout_s)
                n += 1
                payload = static or _payload(request, parts.netloc, f"{run_id}-{number}-{n}", next(picks))
                sent = time.perf_counter()
                status = await asyncio.wait_for(connection.send(payload), timeout_s)
                done = time.perf_counter()
            except (OSError, TimeoutError):
                counts["socket_errors"] += 1
                if connection is not None and connection.transport is not None:
                    connection.transport.close()
                connection = None
                continue
            if done > deadline:
                break
            latencies.append(done - sent)
            statuses[status] += 1
            if status >= 400:
                counts["non_2xx"] += 1
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    if not latencies:
        raise SystemExit("no request completed")
    latencies.sort()

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))] * 1000

    return Result(requests=len(latencies), duration_s=duration_s, rps=len(latencies) / duration_s,
                  p50_ms=percentile(0.50), p99_ms=percentile(0.99), p999_ms=percentile(0.999), pool_next=next(picks) if request.pools else 0,
                  statuses=dict(statuses), **counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="http://host:port (the request's path is added)")
    spec_source = parser.add_mutually_exclusive_group(required=True)
    spec_source.add_argument("--request", help='JSON: {"method", "path", "headers", "body", "pools"}')
    spec_source.add_argument("--request-file", type=Path, help="the same JSON, in a file")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=5)
    parser.add_argument("--run", default="run", help="prefix of the {seq} values")
    parser.add_argument("--pool-start", type=int, default=0, help="index of the first pool item to take (0)")
    args = parser.parse_args(argv)
    spec = json.loads(args.request if args.request is not None else args.request_file.read_text())
    request = Request(spec["path"], spec.get("method") or "GET", spec.get("headers") or {}, spec.get("body"),
                      {name: tuple(values) for name, values in (spec.get("pools") or {}).items()})
    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(run(args.url, request, connections=args.connections, duration_s=args.duration,
                                timeout_s=args.timeout, run_id=args.run, pool_start=args.pool_start))
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
