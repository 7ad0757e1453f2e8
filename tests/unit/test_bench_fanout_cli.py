"""The bench command line: ``fanout`` is listed as a standalone benchmark and takes ``--members``."""

from __future__ import annotations

from bench import BENCHMARKS
from bench.__main__ import build_parser
from bench.benchmarks import load_all


def test_fanout_is_a_standalone_benchmark_of_a_million_members_unless_told_otherwise():
    load_all()
    parser = build_parser()

    defaults = parser.parse_args(["fanout"])
    chosen = parser.parse_args(["fanout", "--members", "10000", "--strict"])

    assert defaults.members == 1_000_000
    assert (chosen.members, chosen.strict) == (10_000, True)
    assert BENCHMARKS["fanout"].run is not None and BENCHMARKS["fanout"].setup is None
