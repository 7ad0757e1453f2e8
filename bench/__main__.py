"""``python -m bench NAME``: measure NAME's project endpoint (or worker) and its baselines, print rates and ratios."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path

from bench import BENCHMARKS, load, runner, servers
from bench.benchmarks import load_all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Load benchmarks: the project vs baselines measured in the same run.",
        epilog="Only ratios of one run mean anything on a shared machine. See bench/README.md.")
    parser.add_argument("name", nargs="?", help="benchmark to run (--list shows them)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--duration", type=int, default=10, help="seconds of measurement per target (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each measurement (2)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk when installed (auto), or the Python fallback")
    parser.add_argument("--max-error-rate", type=float, default=0.001,
                        help="fail when more than this fraction of requests fail (0.001)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a ratio misses its target (rate, p99; with --open, the open-model p99)")
    parser.add_argument("--open", action="store_true", dest="open_model",
                        help="also load each target at 50%% and 80%% of its measured rate at a constant arrival "
                             "rate (bench.generator, latency from each request's planned send time)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="run the project server under cProfile and write DIR/<target>.prof")
    for name, registered in sorted(BENCHMARKS.items()):  # standalone benchmarks' own options
        if registered.arguments is not None:
            registered.arguments(parser.add_argument_group(
                f"{name} options", "(the HTTP options above, but --strict, do not apply to it)"))
    return parser


async def _run_cancellable(run: Awaitable[int]) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)  # stop servers and drop the database on the way out
    return await run


def main(argv: list[str] | None = None) -> int:
    load_all()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list or not args.name:
        if not args.list:
            parser.print_usage(sys.stderr)
        for name, registered in sorted(BENCHMARKS.items()):
            print(f"{name:<12} {registered.description}", file=sys.stdout if args.list else sys.stderr)
        return 0 if args.list else 2
    if args.name not in BENCHMARKS:
        parser.error(f"unknown benchmark {args.name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.threads < 1:
        parser.error("--duration must be positive, --warmup not negative, --connections and --threads >= 1")
    chosen = BENCHMARKS[args.name]
    if chosen.run is not None and args.profile is not None:
        parser.error(f"--profile profiles an HTTP server; {args.name} has none (see bench/README.md for py-spy)")
    if chosen.run is not None and args.open_model:
        parser.error(f"--open loads the HTTP benchmarks' targets; {args.name} runs itself")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("backend.settings").setLevel(logging.ERROR)  # production without WeChat is expected
    options = runner.Options(duration_s=args.duration, warmup_s=args.warmup, connections=args.connections,
                             threads=args.threads, loadgen=args.loadgen, max_error_rate=args.max_error_rate,
                             strict=args.strict, profile_dir=args.profile, open_model=args.open_model)
    try:
        return asyncio.run(_run_cancellable(
            chosen.run(args) if chosen.run is not None else runner.run(chosen, options)))
    except (runner.BenchFailure, load.LoadError, servers.ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: servers and workers stopped, bench database dropped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
