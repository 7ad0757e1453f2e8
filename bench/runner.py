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

from bench import Benchmark, Target, load, servers
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


def ratio_lines(benchmark: Benchmark, targets: list[Target], results: dict[str, Result]) -> tuple[list[str], bool]:
    """``ratio project/baseline = x`` for each pair; False when a ratio misses its goal."""
    lines, met = [], True
    for subject in (t for t in targets if not t.baseline):
        for base in (t for t in targets if t.baseline):
            label = f"{subject.short_name}/{base.short_name}"
            value = results[subject.name].rps / results[base.name].rps
            line = f"ratio {label} = {value:.2f}"
            goal = benchmark.goals.get(label)
            if goal is not None:
                line += f" (target >= {goal:g})" if value >= goal else f" (target >= {goal:g}: BELOW TARGET)"
                met = met and value >= goal
            lines.append(line)
    return lines, met


async def check(base_url: str, target: Target) -> None:
    """One request before any load: a target that does not answer 2xx is not measured."""
    headers, body = target.request.render(f"check-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.request(target.request.method, target.request.path, headers=headers, content=body)
    if not 200 <= response.status_code < 300:
        raise BenchFailure(f"{target.name}: {target.request.method} {target.request.path} answered "
                           f"{response.status_code}, not 2xx: {response.text[:500]}")


def verify(target: Target, result: Result, options: Options, phase: str) -> None:
    attempted = result.requests + result.socket_errors
    if result.requests == 0:
        raise BenchFailure(f"{target.name}: no request completed during the {phase}")
    if result.errors > options.max_error_rate * attempted:
        raise BenchFailure(
            f"{target.name}: {result.errors} of {attempted} requests failed during the {phase} "
            f"({result.non_2xx} answers >= 400, {result.socket_errors} socket errors/timeouts; "
            f"at most {options.max_error_rate:.2%} allowed): no figure is reported for a failing endpoint")


async def measure(target: Target, generator: LoadGenerator, options: Options, log_dir: Path) -> Result:
    shape = Load(connections=options.connections, threads=options.threads)
    async with servers.running(target.server, name=target.name, log_dir=log_dir) as base_url:
        try:
            await check(base_url, target)
            if options.warmup_s > 0:
                verify(target, await generator.run(base_url, target.request, shape, options.warmup_s), options,
                       "warm-up")
            result = await generator.run(base_url, target.request, shape, options.duration_s)
            verify(target, result, options, "measurement")
        except BenchFailure as exc:
            tail = servers.log_tail(servers.log_path(log_dir, target.name))
            raise BenchFailure(f"{exc}\n--- server log ({target.name}) ---\n{tail}" if tail else str(exc)) from None
    return result


def profile_summary(path: Path, limit: int = 25) -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return stream.getvalue().splitlines()


async def run(benchmark: Benchmark, options: Options) -> int:
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
            width = max(len(name) for name in names)
            for target in targets:
                results[target.name] = await measure(target, generator, options, scratch_dir)
                out(format_result(target.name, results[target.name], width))
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
