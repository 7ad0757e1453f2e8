"""Load generators: ``wrk`` when installed, else the Python one in ``bench/loadgen.py``; and
:class:`PythonGenerator` (``bench/generator.py``) for open-model (constant arrival rate) runs and mixes.

wrk and the fallback run as a separate process against a URL and give a :class:`Result`: requests per
second, p50, p99 and p99.9 latency, and how many requests failed (answers outside 2xx/3xx,
connect/read/write errors, timeouts), so a broken endpoint is reported as broken instead of as fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench import Request, generator

LUA_SCRIPT = Path(__file__).resolve().parent / "request.lua"
TIMEOUT_S = 5  # a request slower than this counts as an error

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_NUMBER_SUFFIX = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Result:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    non_2xx: int = 0  # answers with a status >= 400 (wrk's "Non-2xx or 3xx responses")
    socket_errors: int = 0  # connect, read, write errors and timeouts
    pool_next: int = 0  # with pools: the first item no request of the run took (where the next run starts)
    statuses: dict[int, int] = field(default_factory=dict)  # answers by status, when counted

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass(frozen=True)
class Load:
    connections: int = 64
    threads: int = 2  # wrk threads; they share the 2 cores with the server under test


class LoadGenerator:
    name = "?"

    def describe(self, load: Load) -> str:
        raise NotImplementedError

    async def run(self, url: str, request: Request, load: Load, duration_s: int, *, pool_start: int = 0,
                  count_statuses: bool = False) -> Result:
        """Load ``url`` for ``duration_s``; pool items from ``pool_start`` on; answers by status if asked."""
        raise NotImplementedError


class Wrk(LoadGenerator):
    name = "wrk"

    def __init__(self, path: str) -> None:
        self.path = path

    def describe(self, load: Load) -> str:
        return f"loadgen=wrk threads={load.threads} connections={load.connections} timeout={TIMEOUT_S}s"

    async def run(self, url: str, request: Request, load: Load, duration_s: int, *, pool_start: int = 0,
                  count_statuses: bool = False) -> Result:
        threads = min(load.threads, load.connections)
        env = {**os.environ, "BENCH_METHOD": request.method, "BENCH_RUN": uuid.uuid4().hex[:8],
               "BENCH_THREADS": str(threads), "BENCH_PATH": request.path, "BENCH_POOL_START": str(pool_start),
               "BENCH_STATUSES": "1" if count_statuses else "0",
               "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in request.headers.items())}
        if request.body is not None:
            env["BENCH_BODY"] = request.body
        else:
            env.pop("BENCH_BODY", None)
        env.pop("BENCH_POOLS", None)
        # A path with placeholders is not a URL wrk would parse: the script sends it (BENCH_PATH).
        argv = [self.path, f"-t{threads}", f"-c{load.connections}",
                f"-d{duration_s}s", "--latency", "--timeout", f"{TIMEOUT_S}s",
                "-s", str(LUA_SCRIPT), url + ("/" if "{" in request.path else request.path)]
        with tempfile.TemporaryDirectory(prefix="mp-bench-pools-") as scratch:
            if request.pools:
                # A file, not the environment: hundreds of tokens outgrow what one variable may hold.
                pools = Path(scratch) / "pools.tsv"
                pools.write_text("".join(f"{name}\t{value}\n" for name, values in request.pools.items()
                                         for value in values))
                env["BENCH_POOLS"] = str(pools)
            output = await _run(argv, env)
        return parse_wrk(output)


class PythonLoad(LoadGenerator):
    """Fallback when wrk is missing: asyncio clients in one process (slower than wrk, one core)."""

    name = "python"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self, load: Load) -> str:
        return (f"loadgen=python (bench/loadgen.py, {self.reason}) connections={load.connections} "
                f"timeout={TIMEOUT_S}s; one Python process saturates sooner than wrk, so fast targets read low")

    async def run(self, url: str, request: Request, load: Load, duration_s: int, *, pool_start: int = 0,
                  count_statuses: bool = False) -> Result:
        spec = {"method": request.method, "path": request.path, "headers": request.headers, "body": request.body,
                "pools": {name: list(values) for name, values in request.pools.items()}}
        with tempfile.TemporaryDirectory(prefix="mp-bench-request-") as scratch:
            # A file, not an argument: thousands of pool items outgrow what one argument may hold.
            spec_path = Path(scratch) / "request.json"
            spec_path.write_text(json.dumps(spec, ensure_ascii=False))
            argv = [sys.executable, "-m", "bench.loadgen", url, "--connections", str(load.connections),
                    "--duration", str(duration_s), "--timeout", str(TIMEOUT_S), "--run", uuid.uuid4().hex[:8],
                    "--pool-start", str(pool_start), "--request-file", str(spec_path)]
            output = await _run(argv, dict(os.environ))
        try:
            fields = json.loads(output.strip().splitlines()[-1])
            fields["statuses"] = {int(code): n for code, n in fields.get("statuses", {}).items()} \
                if count_statuses else {}
            return Result(**fields)
        except (ValueError, TypeError, IndexError) as exc:
            raise LoadError(f"bench.loadgen printed no result:\n{output}") from exc


# Requests per second that one generator process schedules with its own delay p99 under a millisecond on
# this machine (about a third of a core at 10 000/s against bare Sanic); above it the rate is shared.
OPEN_RATE_PER_PROCESS = 6000
MAX_PROCESSES = max(1, min(2, os.cpu_count() or 1))
READY_TIMEOUT_S = 30
START_DELAY_S = 0.05  # from telling the processes when to start to the start


def open_processes(rate: float, per_process: float = OPEN_RATE_PER_PROCESS, most: int = MAX_PROCESSES) -> int:
    """Generator processes for an open-model ``rate``: one per ``per_process`` requests/s, at most ``most``."""
    return max(1, min(most, math.ceil(rate / per_process)))


class PythonGenerator:
    """``bench/generator.py`` in one or more processes, started together; their histograms merged.

    ``run(url, [(name, request), ...], ...)``: the open model with ``rate`` (requests due per second, the
    processes sharing the schedule), else the closed model; several requests make a mix.
    """

    name = "bench.generator"

    def describe(self, connections: int) -> str:
        return (f"loadgen=bench.generator (Python, HdrHistogram) connections={connections} timeout={TIMEOUT_S}s")

    async def run(self, url: str, requests: list[tuple[str, Request]], *, duration_s: float, connections: int,
                  rate: float | None = None, processes: int | None = None, pool_starts: list[int] | None = None,
                  timeout_s: float = TIMEOUT_S) -> generator.Run:
        names = [name for name, _ in requests]
        starts = list(pool_starts or [0] * len(requests))
        if processes is None:
            processes = open_processes(rate) if rate is not None else 1
        processes = max(1, min(processes, connections))
        run_id = uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory(prefix="mp-bench-generator-") as scratch:
            # A file, not an argument: thousands of pool items outgrow what one argument may hold.
            spec = Path(scratch) / "spec.json"
            spec.write_text(json.dumps(generator.spec_of([r for _, r in requests], starts), ensure_ascii=False))
            argv = [sys.executable, "-m", "bench.generator", url, "--spec", str(spec), "--duration", str(duration_s),
                    "--timeout", str(timeout_s), "--processes", str(processes), "--run", run_id, "--wait-start"]
            if rate is not None:
                argv += ["--rate", repr(rate)]
            children: list[asyncio.subprocess.Process] = []
            try:
                for k in range(processes):
                    share = generator.split_connections(connections, k, processes)
                    children.append(await asyncio.create_subprocess_exec(
                        *argv, "--process", str(k), "--connections", str(share), stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE))
                for child in children:  # each has opened its connections
                    assert child.stdout is not None
                    line = await asyncio.wait_for(child.stdout.readline(), READY_TIMEOUT_S)
                    if line.strip() != b"ready":
                        raise LoadError(f"bench.generator did not start: {line!r}\n{await _stderr(child)}")
                start_at = f"{time.time() + START_DELAY_S!r}\n".encode()
                for child in children:
                    assert child.stdin is not None
                    child.stdin.write(start_at)
                    await child.stdin.drain()
                    child.stdin.close()
                outputs = await asyncio.gather(*(child.communicate() for child in children))
            finally:
                for child in children:  # cancelled (Ctrl-C) or failed: do not leave load running
                    if child.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            child.kill()
                        await child.wait()
        parts = []
        for child, (stdout, stderr) in zip(children, outputs, strict=True):
            text = stdout.decode(errors="replace").strip()
            if child.returncode != 0 or not text:
                raise LoadError(f"bench.generator exited with {child.returncode}:\n{text}\n"
                                f"{stderr.decode(errors='replace')}")
            try:
                parts.append(json.loads(text.splitlines()[-1]))
            except ValueError as exc:
                raise LoadError(f"bench.generator printed no result:\n{text}") from exc
        return generator.merge("open" if rate is not None else "closed", rate, duration_s, connections, names,
                               starts, parts)


async def _stderr(child: asyncio.subprocess.Process) -> str:
    if child.stderr is None:
        return ""
    with contextlib.suppress(TimeoutError):
        return (await asyncio.wait_for(child.stderr.read(), 5)).decode(errors="replace")
    return ""


def choose(preference: str = "auto") -> LoadGenerator:
    """``wrk`` (if on PATH or at /usr/bin/wrk) unless ``preference`` is ``python``."""
    if preference in ("auto", "wrk"):
        path = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
        if path:
            return Wrk(path)
        if preference == "wrk":
            raise LoadError("wrk is not installed (apt-get install -y wrk); use --loadgen python")
        return PythonLoad("wrk not found")
    return PythonLoad("chosen with --loadgen python")


async def _run(argv: list[str], env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(*argv, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                   stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    try:
        stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled (Ctrl-C): do not leave the load running
            process.kill()
            await process.wait()
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        raise LoadError(f"{Path(argv[0]).name} exited with {process.returncode}:\n{output}")
    return output


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def _count(value: str, suffix: str) -> int:
    return round(float(value) * _NUMBER_SUFFIX[suffix])


def parse_wrk(output: str) -> Result:
    """Requests/sec, the 50% and 99% lines of ``--latency``, the 99.9th percentile ``request.lua``'s done()
    prints (``bench-latency-us: 99.9 N``) and the error counts of wrk's report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*([\d.]+)([kMG]?) requests in ([\d.]+)(us|ms|s|m|h),", output, re.M)
    p50 = re.search(r"^\s+50(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    p99 = re.search(r"^\s+99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    p999 = re.search(r"^bench-latency-us: 99\.9 ([\d.]+)$", output, re.M)
    if not (rps and total and p50 and p99 and p999):
        raise LoadError(f"could not read wrk's report:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    pool_next = re.search(r"^bench-pool-next: (\d+)$", output, re.M)  # printed by request.lua's done()
    return Result(
        requests=_count(total.group(1), total.group(2)),
        duration_s=_ms(total.group(3), total.group(4)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        p999_ms=float(p999.group(1)) / 1000,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        pool_next=int(pool_next.group(1)) if pool_next else 0,
        statuses={int(code): int(n) for code, n in re.findall(r"^bench-status: (\d+) (\d+)$", output, re.M)},
    )
