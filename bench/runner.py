"""Run one benchmark: seed, then for each target start its server, check, warm up, measure, stop."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import pstats
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import Benchmark, Phases, Request, Served, Target, load, servers
from bench.generator import Run, behind, schedule_size
from bench.load import Load, LoadGenerator, PythonGenerator, Result
from bench.project import Project, profile_path

# --open: after its closed-model measurement, each target is loaded at these fractions of the rate it reached.
OPEN_FRACTIONS = (0.5, 0.8)
# A single-use pool is topped up before a measurement to this many times what the warm-up's rate needs:
# a measurement may run faster than its warm-up.
POOL_MARGIN = 1.5


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
    open_model: bool = False  # --open: also at 50% and 80% of the closed-model rate, at a constant arrival rate


def out(line: str = "") -> None:
    print(line, flush=True)


def latencies(p50_ms: float, p99_ms: float, p999_ms: float) -> str:
    return f"p50={p50_ms:7.2f}ms  p99={p99_ms:7.2f}ms  p99.9={p999_ms:7.2f}ms"


def format_result(name: str, result: Result, width: int) -> str:
    return f"{name:<{width}} rps={result.rps:8.1f}  {latencies(result.p50_ms, result.p99_ms, result.p999_ms)}"


def open_label(name: str, fraction: float) -> str:
    return f"{name} @{fraction:.0%}"


def format_open(name: str, fraction: float, run: Run, width: int) -> list[str]:
    """The line of an open-model run and, when its figures need a caveat, a ``#`` line saying why."""
    kind = run.kinds[name]
    lag = behind(run)
    line = (f"{open_label(name, fraction):<{width}} rate={run.rate or 0:8.1f}  sent={run.sent_rps:8.1f}/s  "
            f"{latencies(kind.latency.p50_ms, kind.latency.p99_ms, kind.latency.p999_ms)}  "
            f"(generator: {run.processes} process{'es' if run.processes > 1 else ''}, {run.cores:.2f} cores, "
            f"own delay p99 {run.lag.p99_ms:.2f}ms)")
    notes = []
    if run.failed:
        line += "  BASELINE OVERLOADED"
        notes.append(f"# {open_label(name, fraction)}: {run.failed.split(': no figure')[0]}; its latencies "
                     "count the answered requests only, and no higher rate is tried")
    if lag:
        line += "  GENERATOR BEHIND SCHEDULE"
        notes.append(f"# {open_label(name, fraction)}: the generator fell behind its schedule ({lag}): these "
                     "latencies include its own delay, not only the server's")
    if run.waited:
        notes.append(f"# {open_label(name, fraction)}: {run.waited} of {run.planned} requests "
                     f"({run.waited / max(run.planned, 1):.1%}) found all {run.connections} connections busy and "
                     "waited for one (counted from their planned time): the server fell behind the schedule")
    return [line, *notes]


def comparable(subject: Target, base: Target) -> bool:
    return subject.group is None or base.group is None or subject.group == base.group


def pairs(targets: list[Target]) -> list[tuple[Target, Target]]:
    return [(subject, base) for subject in targets if not subject.baseline
            for base in targets if base.baseline and comparable(subject, base)]


def p99_verdict(value: float, goal: float | None) -> tuple[str, bool]:
    if goal is None:
        return "", True
    return (f" (target <= {goal:g})", True) if value <= goal else (f" (target <= {goal:g}: ABOVE TARGET)", False)


def over(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def ratio_lines(benchmark: Benchmark, targets: list[Target], results: dict[str, Result]) -> tuple[list[str], bool]:
    """``ratio project/baseline = x  p99 ratio = y`` for each pair; False when a ratio misses its goal.

    The rate ratio is the project's over the baseline's (higher is better), the p99 ratio the project's
    p99 over the baseline's (lower is better).
    """
    lines, met = [], True
    for subject, base in pairs(targets):
        label = f"{subject.short_name}/{base.short_name}"
        mine, theirs = results[subject.name], results[base.name]
        value = mine.rps / theirs.rps
        line = f"ratio {label} = {value:.2f}"
        goal = benchmark.goals.get(label)
        if goal is not None:
            line += f" (target >= {goal:g})" if value >= goal else f" (target >= {goal:g}: BELOW TARGET)"
            met = met and value >= goal
        tail = over(mine.p99_ms, theirs.p99_ms)
        verdict, ok = p99_verdict(tail, benchmark.p99_goals.get(label))
        lines.append(f"{line}  p99 ratio = {tail:.2f}{verdict}")
        met = met and ok
    return lines, met


def open_ratio_lines(benchmark: Benchmark, targets: list[Target],
                     opens: dict[str, dict[float, Run]]) -> tuple[list[str], bool]:
    """Per pair and load fraction, the project's p50, p99 and p99.9 over the baseline's at the same fraction
    of each one's own closed-model rate; the p99 goal applies, and a run whose generator fell behind its
    schedule is not judged (under ``--strict``, a goal that cannot be judged is not met)."""
    lines, met = [], True
    for subject, base in pairs(targets):
        if subject.name not in opens or base.name not in opens:
            continue
        label = f"{subject.short_name}/{base.short_name}"
        for fraction in OPEN_FRACTIONS:
            goal = benchmark.p99_goals.get(label)
            base_run = opens[base.name].get(fraction)
            if fraction not in opens[subject.name] or base_run is None or base_run.failed:
                lines.append(f"open {label} @{fraction:.0%}: not judged: the baseline could not keep "
                             f"{'this rate' if base_run else 'a lower one'}"
                             + (f" (target <= {goal:g})" if goal else ""))
                met = met and goal is None
                continue
            mine = opens[subject.name][fraction].kinds[subject.name].latency
            theirs = opens[base.name][fraction].kinds[base.name].latency
            p99 = over(mine.p99_ms, theirs.p99_ms)
            lagging = [name for name, run in ((subject.name, opens[subject.name][fraction]),
                                              (base.name, opens[base.name][fraction])) if behind(run)]
            if lagging:
                verdict, ok = (f" (target <= {goal:g}: not judged)", False) if goal is not None else ("", True)
            else:
                verdict, ok = p99_verdict(p99, goal)
            line = (f"open {label} @{fraction:.0%}: p50 ratio = {over(mine.p50_ms, theirs.p50_ms):.2f}  "
                    f"p99 ratio = {p99:.2f}{verdict}  p99.9 ratio = {over(mine.p999_ms, theirs.p999_ms):.2f}")
            if lagging:
                line += f"  (generator behind schedule for {', '.join(lagging)})"
            lines.append(line)
            met = met and ok
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
    check_failures(target, phase, options, completed=result.requests, attempted=result.requests + result.socket_errors,
                   non_2xx=result.non_2xx, socket_errors=result.socket_errors, statuses=result.statuses)


def verify_open(target: Target, run: Run, options: Options, phase: str) -> None:
    kind = run.kinds[target.name]
    check_failures(target, phase, options, completed=kind.answers, attempted=run.planned, non_2xx=kind.non_2xx,
                   socket_errors=run.socket_errors, statuses=kind.statuses)


def check_failures(target: Target, phase: str, options: Options, *, completed: int, attempted: int, non_2xx: int,
                   socket_errors: int, statuses: dict[int, int]) -> None:
    if completed == 0:
        raise BenchFailure(f"{target.name}: no request completed during the {phase}")
    expected = sum(n for status, n in statuses.items() if status in target.expected_statuses)
    unexpected = non_2xx - expected
    if unexpected + socket_errors > options.max_error_rate * attempted:
        allowed = f", {expected} expected ({', '.join(map(str, sorted(target.expected_statuses)))})" \
            if target.expected_statuses else ""
        raise BenchFailure(
            f"{target.name}: {unexpected + socket_errors} of {attempted} requests failed during the {phase} "
            f"({non_2xx} answers >= 400{allowed}, {socket_errors} socket errors/timeouts; "
            f"at most {options.max_error_rate:.2%} allowed): no figure is reported for a failing endpoint")


def pool_need(rate: float, seconds: float, connections: int, margin: float = POOL_MARGIN) -> int:
    """Single-use items a closed-model run of ``seconds`` may take at about ``rate``: with a margin, and
    one more per connection for the requests in flight when it stops."""
    return math.ceil(rate * seconds * margin) + connections


def pool_shortfall(start: int, size: int, need: int) -> int:
    """Items to add to pools of ``size`` for ``need`` more requests from item ``start`` on (0: enough)."""
    return max(0, start + need - size)


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
            sized = (f" (topped up before it to {POOL_MARGIN:g} times what the previous phase's rate needed)"
                     if self.target.refill is not None else "")
            raise BenchFailure(
                f"{self.target.name}: the {phase} needed {upto} single-use pool items, the pools hold "
                f"{request.pool_size}{sized}: seed more (or shorten --warmup/--duration); no item is used twice")
        self.next[id(request)] = upto

    def moved(self, old: Request, new: Request) -> None:
        """``new`` (refilled) goes on where ``old`` stopped."""
        self.next[id(new)] = self.next.get(id(old), 0)


async def ensure_pool(target: Target, request: Request, cursors: PoolCursors, need: int, phase: str) -> Request:
    """``request``, or a refilled one, whose single-use pools hold ``need`` more items; fails clearly if not."""
    start = cursors.start(request)
    if not request.single_use or not pool_shortfall(start, request.pool_size, need):
        return request
    if target.refill is None:
        raise BenchFailure(f"{target.name}: the {phase} needs about {need} single-use pool items from item {start}, "
                           f"the pools hold {request.pool_size}: seed more (or shorten --duration); no item is used "
                           "twice")
    began = time.monotonic()
    bigger = await target.refill(request, start + need)
    if bigger.pool_size < start + need:
        raise BenchFailure(f"{target.name}: the {phase} needs {start + need} single-use pool items, the refilled "
                           f"pools hold {bigger.pool_size}")
    cursors.moved(request, bigger)
    out(f"# {target.name}: {bigger.pool_size - request.pool_size} more single-use pool items seeded before the "
        f"{phase} in {time.monotonic() - began:.1f}s (it needs about {need} from item {start}, the pools held "
        f"{request.pool_size})")
    return bigger


# Between building a target's request and the end of its measurement: server start, check, stop.
LIFETIME_MARGIN_S = 60


def loaded_seconds(options: Options) -> int:
    """Seconds of load per target: warm-up, measurement and, with ``--open``, the open-model runs."""
    runs = 1 + (len(OPEN_FRACTIONS) if options.open_model else 0)
    return options.warmup_s + runs * options.duration_s


def check_lifetimes(targets: list[Target], options: Options) -> None:
    """Refuse, before any load, a run that would outlive the credentials of a target's request."""
    needed = loaded_seconds(options) + LIFETIME_MARGIN_S
    for target in targets:
        if target.lifetime_s is not None and needed > target.lifetime_s:
            raise BenchFailure(f"{target.name}: its credentials are valid {target.lifetime_s}s, too short for "
                               f"--warmup {options.warmup_s} plus --duration {options.duration_s}"
                               f"{' (three times, with --open)' if options.open_model else ''} "
                               f"(+{LIFETIME_MARGIN_S}s to start and stop); shorten the run")


@dataclass(frozen=True)
class Measured:
    result: Result  # the closed-model measurement
    note: str | None = None  # the line its ``reconcile`` gave
    open_runs: dict[float, Run] = field(default_factory=dict)  # --open: fraction of the rate -> run


def takes_open_model(target: Target, built: Request | Phases) -> bool:
    """A target whose phases differ (a race for one coupon per phase) has no steady load to schedule."""
    return target.open_model and not target.expected_statuses and not isinstance(built, Phases)


async def measure(target: Target, loadgen: LoadGenerator, options: Options, log_dir: Path,
                  scheduled: PythonGenerator | None = None) -> Measured:
    """The target's measurement (and with ``scheduled``, its open-model runs), and its ``reconcile`` line."""
    shape = Load(connections=options.connections, threads=options.threads)
    built = target.build() if target.build is not None else target.request
    given = built if isinstance(built, Phases) else Phases.same(built)
    requests = {"check": given.check, "warm-up": given.warmup, "measurement": given.measurement}
    cursors = PoolCursors(target)
    count_statuses = bool(target.expected_statuses)
    runs: list[Result] = []
    opens: dict[float, Run] = {}
    statuses: dict[str, dict[int, int]] = {}

    async def topped_up(phase: str, need: int) -> Request:
        old = requests[phase]
        new = await ensure_pool(target, old, cursors, need, phase)
        for name, request in requests.items():  # one request for several phases: refilled for all
            if request is old:
                requests[name] = new
        return new

    async with servers.running(target.server, name=target.name, log_dir=log_dir) as base_url:
        try:
            pick = cursors.start(requests["check"])
            cursors.taken(requests["check"], pick + 1, "check")
            statuses["check"] = {await check(base_url, target, requests["check"], pick): 1}
            loads = [("warm-up", options.warmup_s)] if options.warmup_s > 0 else []
            for phase, seconds in [*loads, ("measurement", options.duration_s)]:
                request = requests[phase]
                if request.single_use and runs:  # the previous run's rate tells what this one will take
                    request = await topped_up(phase, pool_need(runs[-1].rps, seconds, options.connections))
                runs.append(await loadgen.run(base_url, request, shape, seconds,
                                              pool_start=cursors.start(request), count_statuses=count_statuses))
                if request.pools:
                    cursors.taken(request, runs[-1].pool_next, phase)
                verify(target, runs[-1], options, phase)
                if count_statuses:
                    statuses[phase] = runs[-1].statuses
            if scheduled is not None and takes_open_model(target, built):
                closed_rate = runs[-1].rps
                for fraction in OPEN_FRACTIONS:
                    phase, rate = f"open model at {fraction:.0%}", closed_rate * fraction
                    request = requests["measurement"]
                    if request.single_use:
                        requests[phase] = request
                        request = await topped_up(phase, schedule_size(rate, options.duration_s))
                    opens[fraction] = await scheduled.run(
                        base_url, [(target.name, request)], duration_s=options.duration_s,
                        connections=options.connections, rate=rate, pool_starts=[cursors.start(request)])
                    if request.pools:
                        cursors.taken(request, opens[fraction].kinds[target.name].pool_next, phase)
                    try:
                        verify_open(target, opens[fraction], options, phase)
                    except BenchFailure as exc:
                        if not target.baseline:
                            raise  # the project's figures at a rate it failed would flatter it
                        # A baseline that cannot keep this rate (requests timing out behind a queue) says so
                        # beside its figures; the ratios at this fraction are not judged.
                        opens[fraction] = dataclasses.replace(opens[fraction], failed=str(exc))
                        break
        except BenchFailure as exc:
            tail = servers.log_tail(servers.log_path(log_dir, target.name))
            raise BenchFailure(f"{exc}\n--- server log ({target.name}) ---\n{tail}" if tail else str(exc)) from None
    note = None
    if target.reconcile is not None:  # the server has stopped: whatever it accepted is committed
        note = await target.reconcile(Served(
            ok=1 + sum(r.requests - r.non_2xx for r in runs) + sum(r.answers - r.non_2xx for r in opens.values()),
            unsure=sum(options.connections + r.socket_errors for r in runs)
            + sum(r.socket_errors for r in opens.values()),
            statuses=statuses))
    return Measured(runs[-1], note, opens)


def profile_summary(path: Path, limit: int = 25) -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return stream.getvalue().splitlines()


async def run(benchmark: Benchmark, options: Options) -> int:
    if benchmark.setup is None:
        raise BenchFailure(f"{benchmark.name} is a standalone benchmark: it has no HTTP targets")
    loadgen = load.choose(options.loadgen)
    scheduled = PythonGenerator() if options.open_model else None
    shape = Load(connections=options.connections, threads=options.threads)
    out(f"# bench {benchmark.name}: {benchmark.description}")
    out(f"# {loadgen.describe(shape)} duration={options.duration_s}s warmup={options.warmup_s}s; "
        "one worker per server, targets measured one after another")
    if scheduled is not None:
        out(f"# --open: then each target at {' and '.join(f'{f:.0%}' for f in OPEN_FRACTIONS)} of the rate it "
            f"reached, {options.duration_s}s each, requests sent on a fixed schedule by bench.generator "
            f"(HdrHistogram; up to {load.MAX_PROCESSES} processes, {options.connections} connections), latency "
            "from each request's planned send time")
    if options.profile_dir is not None:
        options.profile_dir.mkdir(parents=True, exist_ok=True)
        out(f"# project servers run under cProfile ({options.profile_dir}): figures are not comparable")
    results: dict[str, Result] = {}
    opens: dict[str, dict[float, Run]] = {}
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        scratch_dir = Path(scratch)
        async with Project.open(data_dir=scratch_dir / "data", profile_dir=options.profile_dir) as project:
            targets = await benchmark.setup(project)
            await project.disconnect()
            names = [t.name for t in targets]
            if not targets or len(set(names)) != len(names):
                raise BenchFailure(f"{benchmark.name}: targets must be present and uniquely named, got {names}")
            check_lifetimes(targets, options)
            width = max(len(open_label(name, 0.5)) if scheduled else len(name) for name in names)
            for target in targets:
                measured = await measure(target, loadgen, options, scratch_dir, scheduled)
                results[target.name] = measured.result
                out(format_result(target.name, measured.result, width))
                if measured.open_runs:
                    opens[target.name] = measured.open_runs
                    for fraction, open_run in measured.open_runs.items():
                        for line in format_open(target.name, fraction, open_run, width):
                            out(line)
                elif scheduled is not None:
                    out(f"# {target.name}: not loaded at a constant rate (" + (
                        "its phases race for one coupon each" if target.open_model else
                        "beyond the rate the Python generator schedules here") + ")")
                if measured.note:
                    out(f"# {measured.note}")
    lines, met = ratio_lines(benchmark, targets, results)
    open_lines, open_met = open_ratio_lines(benchmark, targets, opens)
    for line in [*lines, *open_lines]:
        out(line)
    if options.profile_dir is not None:
        for target in (t for t in targets if not t.baseline):
            path = profile_path(options.profile_dir, target.name)
            with contextlib.suppress(OSError):
                out(f"# profile of {target.name}: {path} (python -m pstats {path})")
                for line in profile_summary(path):
                    out(f"#   {line}")
    if options.strict and not (met and open_met):
        print("error: a ratio misses its target", file=sys.stderr)
        return 1
    return 0
