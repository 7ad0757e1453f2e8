"""Run one benchmark: seed, then for each target start its server, check, warm up, measure, stop."""

from __future__ import annotations

import contextlib
import io
import pstats
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import Benchmark, Phases, Request, Served, Target, load, servers
from bench.load import Load, LoadGenerator, Result
from bench.project import Project, profile_path


class BenchFailure(RuntimeError):
    """The run cannot give a trustworthy figure (errors under load, a target that does not work)."""


@dataclass(frozen=True)
class Options:
    duration_s: int = 10
    warmup_s: int = 2
    connections: int = 64
    threads: int = 2
    loadgen: str = "auto"
    max_error_rate: float = 0.001
    strict: bool = False
    profile_dir: Path | None = None


def out(line: str = "") -> None:
    print(line, flush=True)


def format_result(name: str, result: Result, width: int) -> str:
    return (f"{name:<{width}} rps={result.rps:8.1f}  p50={result.p50_ms:6.1f}ms  p99={result.p99_ms:6.1f}ms")


def comparable(subject: Target, base: Target) -> bool:
    return subject.group is None or base.group is None or subject.group == base.group


def ratio_lines(benchmark: Benchmark, targets: list[Target], results: dict[str, Result]) -> tuple[list[str], bool]:
    """``ratio project/baseline = x`` for each pair; False when a ratio misses its goal."""
    lines, met = [], True
    for subject in (t for t in targets if not t.baseline):
        for base in (t for t in targets if t.baseline and comparable(subject, t)):
            label = f"{subject.short_name}/{base.short_name}"
            value = results[subject.name].rps / results[base.name].rps
            line = f"ratio {label} = {value:.2f}"
            goal = benchmark.goals.get(label)
            if goal is not None:
                line += f" (target >= {goal:g})" if value >= goal else f" (target >= {goal:g}: BELOW TARGET)"
                met = met and value >= goal
            lines.append(line)
    return lines, met


async def check(base_url: str, target: Target, request: Request, pick: int = 0) -> int:
    """One request before any load: a target that does not answer 2xx is not measured. Its status."""
    path, headers, body = request.render(f"check-{uuid.uuid4().hex[:8]}", pick)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.request(request.method, path, headers=headers, content=body)
    if not 200 <= response.status_code < 300:
        raise BenchFailure(f"{target.name}: {request.method} {path} answered "
                           f"{response.status_code}, not 2xx: {response.text[:500]}")
    return response.status_code


def verify(target: Target, result: Result, options: Options, phase: str) -> None:
    attempted = result.requests + result.socket_errors
    if result.requests == 0:
        raise BenchFailure(f"{target.name}: no request completed during the {phase}")
    expected = sum(n for status, n in result.statuses.items() if status in target.expected_statuses)
    unexpected = result.non_2xx - expected
    if unexpected + result.socket_errors > options.max_error_rate * attempted:
        allowed = f", {expected} expected ({', '.join(map(str, sorted(target.expected_statuses)))})" \
            if target.expected_statuses else ""
        raise BenchFailure(
            f"{target.name}: {unexpected + result.socket_errors} of {attempted} requests failed during the {phase} "
            f"({result.non_2xx} answers >= 400{allowed}, {result.socket_errors} socket errors/timeouts; "
            f"at most {options.max_error_rate:.2%} allowed): no figure is reported for a failing endpoint")


class PoolCursors:
    """Where each request's pools go on: the check and every run take items after those taken before."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.next: dict[int, int] = {}  # id(request) -> first item not taken yet

    def start(self, request: Request) -> int:
        return self.next.get(id(request), 0)

    def taken(self, request: Request, upto: int, phase: str) -> None:
        """The run (or check) of ``phase`` took the items below ``upto``."""
        if request.single_use and upto > request.pool_size:
            raise BenchFailure(
                f"{self.target.name}: the {phase} needed {upto} single-use pool items, the pools hold "
                f"{request.pool_size}: seed more (or shorten --warmup/--duration); no item is used twice")
        self.next[id(request)] = upto


# Between building a target's request and the end of its measurement: server start, check, stop.
LIFETIME_MARGIN_S = 60


def check_lifetimes(targets: list[Target], options: Options) -> None:
    """Refuse, before any load, a run that would outlive the credentials of a target's request."""
    needed = options.warmup_s + options.duration_s + LIFETIME_MARGIN_S
    for target in targets:
        if target.lifetime_s is not None and needed > target.lifetime_s:
            raise BenchFailure(f"{target.name}: its credentials are valid {target.lifetime_s}s, too short for "
                               f"--warmup {options.warmup_s} plus --duration {options.duration_s} "
                               f"(+{LIFETIME_MARGIN_S}s to start and stop); shorten the run")


async def measure(target: Target, generator: LoadGenerator, options: Options,
                  log_dir: Path) -> tuple[Result, str | None]:
    """The target's measurement, and the line its ``reconcile`` gives (if it has one)."""
    shape = Load(connections=options.connections, threads=options.threads)
    built = target.build() if target.build is not None else target.request
    phases = built if isinstance(built, Phases) else Phases.same(built)
    cursors = PoolCursors(target)
    count_statuses = bool(target.expected_statuses)
    runs: list[Result] = []
    statuses: dict[str, dict[int, int]] = {}
    async with servers.running(target.server, name=target.name, log_dir=log_dir) as base_url:
        try:
            pick = cursors.start(phases.check)
            cursors.taken(phases.check, pick + 1, "check")
            statuses["check"] = {await check(base_url, target, phases.check, pick): 1}
            loads = [("warm-up", phases.warmup, options.warmup_s)] if options.warmup_s > 0 else []
            for phase, request, seconds in [*loads, ("measurement", phases.measurement, options.duration_s)]:
                runs.append(await generator.run(base_url, request, shape, seconds,
                                                pool_start=cursors.start(request), count_statuses=count_statuses))
                if request.pools:
                    cursors.taken(request, runs[-1].pool_next, phase)
                verify(target, runs[-1], options, phase)
                if count_statuses:
                    statuses[phase] = runs[-1].statuses
        except BenchFailure as exc:
            tail = servers.log_tail(servers.log_path(log_dir, target.name))
            raise BenchFailure(f"{exc}\n--- server log ({target.name}) ---\n{tail}" if tail else str(exc)) from None
    note = None
    if target.reconcile is not None:  # the server has stopped: whatever it accepted is committed
        note = await target.reconcile(Served(
            ok=1 + sum(r.requests - r.non_2xx for r in runs),
            unsure=sum(options.connections + r.socket_errors for r in runs), statuses=statuses))
    return runs[-1], note


def profile_summary(path: Path, limit: int = 25) -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return stream.getvalue().splitlines()


async def run(benchmark: Benchmark, options: Options) -> int:
    if benchmark.setup is None:
        raise BenchFailure(f"{benchmark.name} is a standalone benchmark: it has no HTTP targets")
    generator = load.choose(options.loadgen)
    shape = Load(connections=options.connections, threads=options.threads)
    out(f"# bench {benchmark.name}: {benchmark.description}")
    out(f"# {generator.describe(shape)} duration={options.duration_s}s warmup={options.warmup_s}s; "
        "one worker per server, targets measured one after another")
    if options.profile_dir is not None:
        options.profile_dir.mkdir(parents=True, exist_ok=True)
        out(f"# project servers run under cProfile ({options.profile_dir}): figures are not comparable")
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        scratch_dir = Path(scratch)
        async with Project.open(data_dir=scratch_dir / "data", profile_dir=options.profile_dir) as project:
            targets = await benchmark.setup(project)
            await project.disconnect()
            names = [t.name for t in targets]
            if not targets or len(set(names)) != len(names):
                raise BenchFailure(f"{benchmark.name}: targets must be present and uniquely named, got {names}")
            check_lifetimes(targets, options)
            width = max(len(name) for name in names)
            for target in targets:
                results[target.name], note = await measure(target, generator, options, scratch_dir)
                out(format_result(target.name, results[target.name], width))
                if note:
                    out(f"# {note}")
    lines, met = ratio_lines(benchmark, targets, results)
    for line in lines:
        out(line)
    if options.profile_dir is not None:
        for target in (t for t in targets if not t.baseline):
            path = profile_path(options.profile_dir, target.name)
            with contextlib.suppress(OSError):
                out(f"# profile of {target.name}: {path} (python -m pstats {path})")
                for line in profile_summary(path):
                    out(f"#   {line}")
    if options.strict and not met:
        print("error: a ratio is below its target", file=sys.stderr)
        return 1
    return 0
