"""The bench's load logic: tail percentiles (wrk's p99.9, HdrHistograms), the open-model schedule, whether a
generator kept it, the p99 goals, the single-use pool sizing and refill, and a generator run against a
server that stalls (the open model charges the stall to every request it delayed)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time

import pytest
from hdrh.histogram import HdrHistogram

from bench import Benchmark, Request, Server, Target
from bench import generator as gen
from bench.benchmarks import mixed
from bench.load import LoadError, PythonGenerator, Result, open_processes, parse_wrk
from bench.runner import (
    OPEN_FRACTIONS,
    BenchFailure,
    Options,
    PoolCursors,
    ensure_pool,
    format_open,
    format_result,
    loaded_seconds,
    open_ratio_lines,
    pool_need,
    pool_shortfall,
    ratio_lines,
)

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:40000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.02ms   10.05ms 160.45ms   90.32%
    Req/Sec     2.95k   340.12     3.60k    72.00%
  Latency Distribution
     50%    8.94ms
     75%   12.05ms
     90%   18.44ms
     99%   53.53ms
  29487 requests in 5.00s, 10.59MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   5897.40
Transfer/sec:      2.12MB
bench-latency-us: 99.9 151960
bench-pool-next: 29490
"""


def hist(values_us: list[int]) -> HdrHistogram:
    h = HdrHistogram(1, gen.HIGHEST_US, gen.SIGNIFICANT_DIGITS)
    for value in values_us:
        h.record_value(value)
    return h


def result(rps: float, p99_ms: float) -> Result:
    return Result(requests=1000, duration_s=1, rps=rps, p50_ms=1.0, p99_ms=p99_ms, p999_ms=2 * p99_ms)


def target(name: str, *, baseline: bool = False) -> Target:
    return Target(name, Server(("true",)), Request("/"), baseline=baseline)


# -- tails: wrk's report and the histograms ------------------------------------------------------------------


def test_wrk_report_gives_p50_p99_and_the_p999_request_lua_prints():
    parsed = parse_wrk(WRK_OUTPUT)

    assert (parsed.p50_ms, parsed.p99_ms, parsed.p999_ms) == (8.94, 53.53, 151.96)
    assert (parsed.requests, parsed.rps, parsed.non_2xx, parsed.pool_next) == (29487, 5897.40, 3, 29490)


def test_a_wrk_report_without_the_p999_line_is_refused():
    with pytest.raises(LoadError):
        parse_wrk(WRK_OUTPUT.replace("bench-latency-us: 99.9 151960\n", ""))


def test_histogram_percentiles_in_milliseconds():
    latency = gen.Latency.of(hist([1000] * 980 + [20_000] * 19 + [300_000]))

    assert latency.count == 1000
    assert latency.p50_ms == pytest.approx(1.0, rel=1e-3)
    assert latency.p99_ms == pytest.approx(20.0, rel=1e-3)
    assert latency.p999_ms == pytest.approx(20.0, rel=1e-3)
    assert latency.max_ms == pytest.approx(300.0, rel=1e-3)
    assert gen.Latency.of(hist([])).count == 0


def test_record_keeps_values_within_the_histogram():
    h = hist([])
    gen.record(h, 0.0)
    gen.record(h, 3600.0)  # an hour: above the highest trackable value

    assert h.get_total_count() == 2
    assert h.get_max_value() >= gen.HIGHEST_US * 0.999


def part(values_us: list[int], *, planned: int, sent: int, lag_us: list[int], waited: int = 0,
         answers: int | None = None, total: int = 0) -> dict:
    n = len(values_us) if answers is None else answers
    return {"kinds": [{"answers": n, "in_window": n, "non_2xx": 1, "sent": sent, "statuses": {"201": n - 1, "409": 1},
                       "hist": hist(values_us).encode().decode()}],
            "planned": planned, "planned_total": total, "sent_in_window": sent, "socket_errors": 0,
            "waited": waited, "lag": hist(lag_us).encode().decode(), "cpu_s": 0.5, "elapsed_s": 2.0}


def test_merge_adds_the_processes_histograms_and_counts():
    run = gen.merge("open", 100.0, 2.0, 8, ["x"], [10], [
        part([1000] * 99, planned=100, sent=100, lag_us=[100] * 100, total=200),
        part([1000] * 99 + [50_000], planned=100, sent=100, lag_us=[200] * 100, total=200, answers=100)])

    kind = run.kinds["x"]
    assert kind.latency.count == 199 and kind.answers == 199
    assert kind.latency.max_ms == pytest.approx(50.0, rel=1e-3)
    assert kind.statuses == {201: 197, 409: 2} and kind.non_2xx == 2
    assert kind.pool_next == 10 + 200  # every request of the schedule takes an item, whether answered or not
    assert (run.planned, run.sent_in_window, run.processes) == (200, 200, 2)
    assert run.lag.count == 200 and run.cores == pytest.approx(0.5)
    assert run.sent_rps == pytest.approx(100.0)


# -- the open-model schedule ---------------------------------------------------------------------------------


def test_schedule_size_counts_the_requests_due_within_the_duration():
    assert gen.schedule_size(100, 5) == 500  # 0 .. 4.99 s
    assert gen.schedule_size(2.5, 3) == 8  # 0, 0.4, ... 2.8 s
    assert gen.schedule_size(1000.1, 10) == 10001
    assert gen.schedule_size(0.3, 10) == 3
    with pytest.raises(ValueError):
        gen.schedule_size(0, 10)


def test_processes_share_the_schedule_without_overlap_or_gap():
    total, processes = 1003, 3
    shares = [list(gen.share(total, k, processes)) for k in range(processes)]

    assert sorted(i for s in shares for i in s) == list(range(total))
    assert all(b - a == processes for s in shares for a, b in itertools.pairwise(s))
    assert [gen.planned_at(i, 250.0) for i in shares[1][:3]] == pytest.approx([0.004, 0.016, 0.028])


def test_open_model_mix_alternates_kinds_and_takes_pool_items_in_order():
    total, kinds, starts = 11, 2, [5, 40]
    picks: dict[int, list[int]] = {0: [], 1: []}
    for i in range(total):
        kind, rank = gen.open_kind(i, kinds)
        picks[kind].append(starts[kind] + rank)

    assert picks == {0: [5, 6, 7, 8, 9, 10], 1: [40, 41, 42, 43, 44]}
    assert [gen.open_pool_next(total, k, kinds, starts[k]) for k in range(kinds)] == [11, 45]
    assert gen.open_pool_next(0, 1, 2, 7) == 7


def test_closed_model_processes_take_distinct_items_below_pool_next():
    processes, start = 3, 100
    sent = {0: 4, 1: 5, 2: 3}
    picks = [gen.closed_pick(start, n, k, processes) for k, count in sent.items() for n in range(count)]

    assert len(set(picks)) == len(picks)
    assert max(picks) < gen.closed_pool_next(start, max(sent.values()), processes) == 115
    assert [gen.split_connections(64, k, 3) for k in range(3)] == [22, 21, 21]


def test_generator_processes_grow_with_the_rate_up_to_the_cores():
    assert open_processes(1000, per_process=6000, most=2) == 1
    assert open_processes(6001, per_process=6000, most=2) == 2
    assert open_processes(50_000, per_process=6000, most=2) == 2


# -- did the generator keep its schedule -----------------------------------------------------------------------


def open_run(*, lag_us: list[int], planned: int = 1000, sent: int = 1000, waited: int = 0,
             name: str = "x") -> gen.Run:
    return gen.merge("open", 500.0, 2.0, 64, [name], [0], [
        part([2000] * 100, planned=planned, sent=sent, lag_us=lag_us, waited=waited, total=planned)])


def test_a_generator_late_on_its_own_is_behind_schedule():
    assert gen.behind(open_run(lag_us=[300] * 1000)) is None
    late = gen.behind(open_run(lag_us=[300] * 980 + [9000] * 20))
    assert late is not None and "own delay p99" in late


def test_requests_written_after_the_window_with_idle_connections_are_the_generators_doing():
    assert "wrote 900 of 1000" in gen.behind(open_run(lag_us=[100] * 900, sent=900))
    # ... but requests that waited for a busy connection are the server's delay, counted from their plan
    assert gen.behind(open_run(lag_us=[100] * 800, sent=900, waited=200)) is None


def test_an_open_line_says_when_the_generator_fell_behind_and_when_the_server_did():
    lines = format_open("x", 0.8, open_run(lag_us=[9000] * 1000, waited=50), 10)

    assert "GENERATOR BEHIND SCHEDULE" in lines[0] and "p99.9=" in lines[0]
    assert any("fell behind its schedule" in line for line in lines[1:])
    assert any("50 of 1000 requests" in line and "waited" in line for line in lines[1:])
    assert len(format_open("x", 0.5, open_run(lag_us=[100] * 1000), 10)) == 1


# -- p99 beside every ratio ---------------------------------------------------------------------------------


def test_every_ratio_line_carries_the_p99_ratio_and_its_goal_fails_strict():
    bench = Benchmark("me", "", None, {"me/asyncpg": 0.5}, {"me/asyncpg": 2.0})
    targets = [target("me"), target("baseline:json", baseline=True), target("baseline:asyncpg", baseline=True)]
    results = {"me": result(3000, 30.0), "baseline:json": result(30000, 3.0), "baseline:asyncpg": result(5000, 10.0)}

    lines, met = ratio_lines(bench, targets, results)

    assert lines == ["ratio me/json = 0.10  p99 ratio = 10.00",
                     "ratio me/asyncpg = 0.60 (target >= 0.5)  p99 ratio = 3.00 (target <= 2: ABOVE TARGET)"]
    assert not met
    results["me"] = result(3000, 19.0)
    assert ratio_lines(bench, targets, results)[1]
    assert "p99.9=" in format_result("me", results["me"], 4)


def test_open_ratios_compare_each_fraction_and_a_lagging_run_is_not_judged():
    bench = Benchmark("me", "", None, {}, {"me/asyncpg": 2.0})
    targets = [target("me"), target("baseline:asyncpg", baseline=True)]
    opens = {name: dict.fromkeys(OPEN_FRACTIONS, open_run(lag_us=[100] * 1000, name=name))
             for name in ("me", "baseline:asyncpg")}

    lines, met = open_ratio_lines(bench, targets, opens)
    assert met and len(lines) == len(OPEN_FRACTIONS)
    assert lines[0].startswith("open me/asyncpg @50%: p50 ratio = 1.00  p99 ratio = 1.00 (target <= 2)")

    opens["baseline:asyncpg"][0.8] = open_run(lag_us=[9000] * 1000, name="baseline:asyncpg")
    lines, met = open_ratio_lines(bench, targets, opens)
    assert not met and "not judged" in lines[1] and "behind schedule for baseline:asyncpg" in lines[1]


def test_a_baseline_that_could_not_keep_a_rate_says_so_and_its_fractions_are_not_judged():
    bench = Benchmark("orders", "", None, {}, {"orders/asyncpg": 1.5})
    targets = [target("orders"), target("baseline:asyncpg", baseline=True)]
    opens = {name: dict.fromkeys(OPEN_FRACTIONS, open_run(lag_us=[100] * 1000, name=name))
             for name in ("orders", "baseline:asyncpg")}
    overloaded = dataclasses.replace(opens["baseline:asyncpg"][0.5], failed="baseline:asyncpg: 109 of 1358 "
                                     "requests failed during the open model at 50% (…): no figure is reported")
    opens["baseline:asyncpg"] = {0.5: overloaded}  # no higher rate tried after it

    lines, met = open_ratio_lines(bench, targets, opens)

    assert not met and len(lines) == len(OPEN_FRACTIONS)
    assert lines[0] == "open orders/asyncpg @50%: not judged: the baseline could not keep this rate (target <= 1.5)"
    assert lines[1] == "open orders/asyncpg @80%: not judged: the baseline could not keep a lower one (target <= 1.5)"
    shown = format_open("baseline:asyncpg", 0.5, overloaded, 20)
    assert "BASELINE OVERLOADED" in shown[0]
    assert shown[1].startswith("# baseline:asyncpg @50%: baseline:asyncpg: 109 of 1358 requests failed")


def test_open_runs_lengthen_what_credentials_must_outlive():
    assert loaded_seconds(Options(duration_s=10, warmup_s=2)) == 12
    assert loaded_seconds(Options(duration_s=10, warmup_s=2, open_model=True)) == 12 + 10 * len(OPEN_FRACTIONS)


def test_mixed_p99_verdict():
    assert mixed.verdict(19.0, 10.0)[2] and "ABOVE TARGET" in mixed.verdict(21.0, 10.0)[1]


# -- single-use pools ---------------------------------------------------------------------------------------


def test_pool_need_and_shortfall():
    assert pool_need(3500, 15, 64) == 78_814  # 3500/s x 15 s x 1.5, and one per connection
    assert pool_shortfall(start=7_000, size=60_000, need=78_814) == 25_814
    assert pool_shortfall(start=7_000, size=90_000, need=78_814) == 0


def single_use(size: int) -> Request:
    return Request("/c/{cid}", pools={"cid": tuple(str(n) for n in range(size))}, single_use=True)


async def test_a_short_pool_is_refilled_and_the_run_goes_on_where_it_stopped():
    calls = []

    async def refill(request: Request, size: int) -> Request:
        calls.append((request.pool_size, size))
        return single_use(size + 10)

    subject = Target("redeem", Server(("true",)), single_use(100), refill=refill)
    cursors = PoolCursors(subject)
    cursors.taken(subject.request, 90, "warm-up")

    bigger = await ensure_pool(subject, subject.request, cursors, need=50, phase="measurement")

    assert calls == [(100, 140)]
    assert bigger.pool_size == 150 and cursors.start(bigger) == 90
    assert await ensure_pool(subject, bigger, cursors, need=50, phase="measurement") is bigger


async def test_a_short_pool_without_refill_or_a_refill_that_falls_short_fails_clearly():
    plain = Target("redeem", Server(("true",)), single_use(100))
    with pytest.raises(BenchFailure, match="needs about 150 single-use pool items"):
        await ensure_pool(plain, plain.request, PoolCursors(plain), need=150, phase="measurement")

    async def stingy(request: Request, size: int) -> Request:
        return single_use(size - 1)

    short = Target("redeem", Server(("true",)), single_use(100), refill=stingy)
    with pytest.raises(BenchFailure, match="refilled pools hold 149"):
        await ensure_pool(short, short.request, PoolCursors(short), need=150, phase="measurement")


# -- the open model against a server that stalls ---------------------------------------------------------------


async def stalling_server(stall_from: float, stall_s: float) -> tuple[asyncio.Server, list[float]]:
    """Answers at once, except that nothing is answered from ``stall_from`` (after the first request) for
    ``stall_s``; the times of the requests it read."""
    seen: list[float] = []
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                now = time.monotonic()
                seen.append(now)
                stall_at = seen[0] + stall_from
                if stall_at <= now < stall_at + stall_s:
                    await asyncio.sleep(stall_at + stall_s - now)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0), seen


async def test_open_model_charges_a_stall_to_every_request_due_during_it():
    server, seen = await stalling_server(stall_from=0.5, stall_s=0.3)
    port = server.sockets[0].getsockname()[1]
    async with server:
        run = await PythonGenerator().run(f"http://127.0.0.1:{port}", [("x", Request("/"))], duration_s=1.5,
                                          connections=4, rate=200.0)
    latency = run.kinds["x"].latency
    assert run.planned == 300 and run.kinds["x"].answers == len(seen) == 300 and run.socket_errors == 0
    # About 60 requests were due during the 0.3 s stall: with 4 connections a closed model would have
    # timed only 4 of them; here each counts from its planned time, so well over 1% are slow.
    assert run.waited > 40
    assert latency.p50_ms < 50 and latency.p99_ms > 150
    # Every request either went out at once on an idle connection (its delay is the generator's, recorded
    # apart) or waited for a busy one (the server's delay, in its latency).
    assert run.lag.count + run.waited == 300
