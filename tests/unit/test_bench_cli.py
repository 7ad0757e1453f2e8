"""The bench command line: the standalone ``dispatch`` benchmark is listed and takes its own options."""

from __future__ import annotations

from bench import BENCHMARKS
from bench.__main__ import build_parser, main
from bench.benchmarks import load_all


def test_dispatch_is_listed_next_to_the_http_benchmarks(capsys):
    assert main(["--list"]) == 0

    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "dispatch" in listed and "me" in listed


def test_dispatch_takes_its_own_options_with_their_defaults():
    load_all()
    parser = build_parser()

    defaults = parser.parse_args(["dispatch"])
    chosen = parser.parse_args(["dispatch", "--messages", "2000", "--workers", "1", "--concurrency", "8",
                                "--batch", "50", "--loops", "3", "--strict"])

    assert (defaults.messages, defaults.workers, defaults.concurrency, defaults.batch, defaults.loops) == (
        20_000, 2, 32, 200, 2)
    assert (chosen.messages, chosen.workers, chosen.concurrency, chosen.batch, chosen.loops, chosen.strict) == (
        2000, 1, 8, 50, 3, True)
    assert BENCHMARKS["dispatch"].run is not None and BENCHMARKS["dispatch"].setup is None
    assert BENCHMARKS["me"].run is None and BENCHMARKS["me"].setup is not None
