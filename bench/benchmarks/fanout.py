"""``fanout``: a dormant win-back touch over a generated member base, against a bare ``INSERT … SELECT``
of the same outbox rows.

Not an HTTP benchmark: it runs itself (``standalone_benchmark``). See bench/README.md, "fanout".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import asyncpg

from backend import clock
from backend.kv import create_kv
from bench import standalone_benchmark, winback
from bench.project import REDIS_URL, Project
from bench.runner import BenchFailure, out
from jobs.touches import RANGE

TARGET_S = 60.0  # for TARGET_MEMBERS members on the 2-core machine the issue names
TARGET_MEMBERS = 1_000_000
TARGET_RATIO = 2.0  # the touch's seconds over the bare INSERT … SELECT's


def arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--members", type=int, default=TARGET_MEMBERS,
                       help=f"generated members ({TARGET_MEMBERS}; the {TARGET_S:g} s target is for so many)")
    group.add_argument("--parallel", type=int, default=None,
                       help="member-id ranges the touch writes at once (default: TOUCH_PARALLEL's, 2)")


@standalone_benchmark(
    "fanout", "a dormant win-back touch (segment, SMS outbox rows, coupons, 10% hold-out) over generated "
    "members through jobs.service.run_touch vs a bare INSERT … SELECT of the same outbox rows",
    arguments=arguments)
async def fanout(args: argparse.Namespace) -> int:
    if args.members < 1:
        raise BenchFailure("--members must be at least 1")
    if args.parallel is not None and not 1 <= args.parallel <= 8:
        raise BenchFailure("--parallel must be between 1 and 8")
    out(f"# bench fanout: a dormant win-back touch over {args.members} generated members on PostgreSQL, "
        "jobs.service.run_touch in this process, vs one bare INSERT … SELECT of the same outbox rows")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        async with Project.open(data_dir=Path(scratch) / "data") as project:
            parallel = args.parallel or project.settings.touch_parallel
            met = await _run(project, args.members, parallel)
    if args.strict and met is False:
        print(f"error: the touch took longer than {TARGET_S:g}s", file=sys.stderr)
        return 1
    return 0


async def _run(project: Project, members: int, parallel: int) -> bool | None:
    """Generate, run the touch and the baseline, check both; whether the target was met (None: not checked)."""
    now = clock.now()
    conn = await asyncpg.connect(project.dsn, timeout=10)
    kv = create_kv(REDIS_URL, project.env["REDIS_PREFIX"])
    try:
        data = await winback.generate(conn, members=members, now=now)
        touch = await winback.prepare_touch(now=now)
        audience, holdout = await winback.expected(conn, touch, now=now)  # reads the tables before timing
        out(f"# data set: {data.members} members ({winback.DELETED_PCT}% deleted), a loyalty account each, "
            f"{data.consents} SMS marketing consents ({winback.SMS_GRANTED_PCT}% of members granted, "
            f"{winback.SMS_WITHDRAWN_PCT}% withdrawn), {data.orders} orders ({data.refunded} refunded in full, "
            f"which do not count); generated with generate_series in {data.seconds:.1f}s (not measured)")
        out(f"# touch {touch.touch_id}: segment \"ordered before, not within {winback.DORMANT_DAYS} days\" "
            f"({audience} active members, {audience / data.members:.1%}), channels [\"sms\"], marketing "
            f"template {winback.TEMPLATE_KEY}, coupon template {touch.coupon_template_id} (unlimited stock), "
            f"hold-out {winback.HOLDOUT_PCT}% ({holdout} members), scheduled at now")
        await conn.execute("CHECKPOINT")  # neither timing pays for the generation's or the other's writes
        seconds, result = await winback.run_touch(touch, kv=kv, tz=project.settings.tz, now=now, parallel=parallel)
        if result.get("outcome") != "done":
            raise BenchFailure(f"fanout: the touch run ended {result}")
        got = await winback.outcome(conn, touch)
        await winback.create_baseline_table(conn)
        await conn.execute("CHECKPOINT")
        base_seconds, base_rows = await winback.insert_select(conn, touch, now=now)
        found = await winback.problems(conn, touch, now=now, baseline=True)
        copy_seconds, copy_rows = await winback.copy_written(conn, touch)
        again = await winback.run_touch(touch, kv=kv, tz=project.settings.tz, now=now, parallel=parallel)
        if again[1].get("outcome") != "skipped_finished" or await winback.outcome(conn, touch) != got:
            found.append(f"a second run of the same period did something: {again[1]}")
        if found:
            raise BenchFailure("fanout: " + "; ".join(found))
    finally:
        await kv.close()
        await conn.close()
    steps = -(-data.last_id // RANGE)
    out(f"fanout                 elapsed={seconds:7.2f}s  {got.line()}")
    out(f"baseline:insert-select elapsed={base_seconds:7.2f}s  messages={base_rows}")
    out(f"baseline:copy-written  elapsed={copy_seconds:7.2f}s  rows={copy_rows} (every row the touch wrote, "
        "copied into indexed copies of its four tables)")
    out(f"# fanout: {steps} committed steps of {RANGE} member ids, {parallel} at once (TOUCH_PARALLEL); checked: recipients and hold-out as the "
        "hand-written condition selects them, one message and one coupon (and its coupon_issued event) per "
        "treated member and none for the hold-out, the same outbox rows as the baseline, a second run does "
        "nothing")
    out("# consent, caps and quiet hours are applied by the notification worker when it sends (bench "
        f"dispatch), not by the touch run: of these {got.messages} messages, {got.without_consent} will end "
        "no_consent (no SMS marketing consent)")
    ratio = seconds / base_seconds
    out(f"ratio fanout/insert-select = {ratio:.2f} (seconds over seconds: lower is better)")
    out(f"ratio fanout/copy-written = {seconds / copy_seconds:.1f} (what the touch spends beyond writing its rows)")
    out(f"target fanout/insert-select <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'NOT MET'} "
        f"({ratio:.2f}, {parallel} ranges at once)")
    if members != TARGET_MEMBERS:
        out(f"target fanout <= {TARGET_S:g}s: set for {TARGET_MEMBERS} members, not checked at {members}")
        return None
    met = seconds <= TARGET_S
    out(f"target fanout <= {TARGET_S:g}s: {'met' if met else 'NOT MET'} ({seconds:.1f}s)")
    return met
