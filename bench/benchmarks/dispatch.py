"""``dispatch``: the outbox drained by notification workers, against a bare loop posting the same SMS.

Not an HTTP benchmark: it runs itself (``standalone_benchmark``). See bench/README.md, "dispatch".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench import standalone_benchmark
from bench.dispatching import (
    MESSAGES_PER_MEMBER,
    START_TIMEOUT_S,
    TEMPLATE_KEY,
    CpuMeter,
    FakeSms,
    Outbox,
    children,
    log_problems,
    process_cpu_s,
    read_line,
    seed_outbox,
    write_payloads,
)
from bench.project import Project
from bench.runner import BenchFailure, out
from bench.servers import log_tail
from notifications.models import FINAL

GOAL = 0.5
POLL_START_S = 0.05  # until the first message leaves the queue
POLL_S = 0.2  # then: one count over the outbox, a few ms of PostgreSQL
STALL_S = 60  # no message finished for this long: the run fails


def arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--messages", type=int, default=20_000, help="queued messages (20000)")
    group.add_argument("--workers", type=int, default=2, help="worker processes, and baseline processes (2)")
    group.add_argument("--concurrency", type=int, default=32,
                       help="SMS sends in flight per process: SMS_CONCURRENCY of each worker (32)")
    group.add_argument("--batch", type=int, default=200, help="messages a worker claims at a time (200)")
    group.add_argument("--loops", type=int, default=2, help="batches in flight per worker (2)")


@dataclass
class Phase:
    name: str
    messages: int
    elapsed_s: float
    cpu: CpuMeter
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s


@standalone_benchmark(
    "dispatch", "queued SMS through `python -m backend worker` processes to the fake Tencent SMS vs a bare loop "
    "posting the same SMS with the same client", goals={"dispatch/sms-loop": GOAL}, arguments=arguments)
async def dispatch(args: argparse.Namespace) -> int:
    if min(args.messages, args.workers, args.concurrency, args.batch, args.loops) < 1:
        raise BenchFailure("--messages, --workers, --concurrency, --batch and --loops must be at least 1")
    out(f"# bench dispatch: {args.messages} queued SMS through {args.workers} worker processes "
        f"(python -m backend worker --batch {args.batch} --loops {args.loops}, SMS_CONCURRENCY={args.concurrency}) "
        f"vs {args.workers} processes of a bare send loop, {args.concurrency} sends in flight each")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        scratch_dir = Path(scratch)
        async with Project.open(data_dir=scratch_dir / "data") as project, FakeSms.running(scratch_dir) as fake:
            outbox = await seed_outbox(project, args.messages)
            await project.disconnect()
            out(f"# outbox: {args.messages} messages due now, template {TEMPLATE_KEY} (service, SMS only), dealt in "
                f"turn to {outbox.members} members ({MESSAGES_PER_MEMBER} each; phone, loyalty account, SMS consent); "
                f"notification_policy caps emptied (caps = []): no frequency-cap reservations, and service messages "
                f"have no quiet hours; seeded in {outbox.seconds:.1f}s")
            out(f"# fake Tencent SMS in its own process, TC3 signatures verified: {fake.url}")
            project_run = await run_workers(project, fake, outbox, args, scratch_dir)
            report(project_run, "workers")
            payloads = scratch_dir / "payloads.jsonl"
            await write_payloads(project.dsn, outbox, payloads)
            await fake.ask("reset")
            baseline_run = await run_loops(project, fake, outbox, payloads, args, scratch_dir)
            report(baseline_run, "loops")
    ratio = project_run.rate / baseline_run.rate
    met = ratio >= GOAL
    out(f"ratio dispatch/sms-loop = {ratio:.2f} (target >= {GOAL:g}{'' if met else ': BELOW TARGET'})")
    if args.strict and not met:
        print("error: a ratio is below its target", file=sys.stderr)
        return 1
    return 0


def report(phase: Phase, who: str) -> None:
    out(f"{phase.name:<17} msgs/s={phase.rate:8.1f}  elapsed={phase.elapsed_s:6.2f}s  cores: "
        f"{who} {phase.cpu.processes:.2f}, fake {phase.cpu.fake:.2f}, machine {phase.cpu.machine:.2f}")
    for note in phase.notes:
        out(f"# {note}")


async def pending(db: asyncpg.Connection) -> tuple[int, int]:
    """Messages still queued, and messages not yet in a final state."""
    row = await db.fetchrow("SELECT count(*) FILTER (WHERE status = 'queued') AS queued, "
                            "count(*) FILTER (WHERE status <> ALL($1::text[])) AS pending FROM messages", list(FINAL))
    return int(row["queued"]), int(row["pending"])


async def run_workers(project: Project, fake: FakeSms, outbox: Outbox, args: argparse.Namespace,
                      log_dir: Path) -> Phase:
    """Start the workers; time from the first message leaving the queue until every message is final."""
    total = len(outbox.message_ids)
    argv = [sys.executable, "-m", "backend", "worker", "--batch", str(args.batch), "--loops", str(args.loops)]
    logs = [log_dir / f"worker-{n}.log" for n in range(args.workers)]
    cpu = CpuMeter()
    db = await asyncpg.connect(project.dsn, timeout=10)
    try:
        spawned_wall = time.time()
        async with children([argv] * args.workers, env={**project.env, **fake.env(args.concurrency)},
                            logs=logs) as workers:
            spawned = time.monotonic()
            first: float | None = None  # when a poll first saw a message leave the queue (monotonic)
            first_wall: float | None = None  # the same moment on the wall clock
            last_change, last_pending = spawned, total
            while True:
                queued, left = await pending(db)
                now = time.monotonic()
                if first is None and queued < total:
                    first, first_wall = now, time.time()
                    cpu.start(sum(process_cpu_s(w.pid) for w in workers), (await fake.ask("stats"))["cpu_s"])
                if left == 0:
                    break
                if left != last_pending:
                    last_change, last_pending = now, left
                exited = [n for n, w in enumerate(workers) if w.returncode is not None]
                if exited:
                    raise BenchFailure(f"worker {exited[0]} exited with {workers[exited[0]].returncode} while "
                                       f"{left} messages were pending:\n{log_tail(logs[exited[0]])}")
                if first is None and now - spawned > START_TIMEOUT_S:
                    raise BenchFailure(f"no worker claimed a message within {START_TIMEOUT_S}s:\n{log_tail(logs[0])}")
                if now - last_change > STALL_S:
                    raise BenchFailure(f"{left} messages still pending, none finished for {STALL_S}s: "
                                       f"{await _statuses(db)}\n{log_tail(logs[0])}")
                await asyncio.sleep(POLL_START_S if first is None else POLL_S)
            assert first is not None and first_wall is not None
            # Up to the last message's own finish (the workers' wall clock), not to the poll that saw it.
            finished = float(await db.fetchval("SELECT extract(epoch FROM max(finished_at)) FROM messages"))
            elapsed = finished - first_wall if finished > first_wall else now - first
            cpu.stop(sum(process_cpu_s(w.pid) for w in workers), (await fake.ask("stats"))["cpu_s"])
        count, problems = log_problems(logs)  # the workers have stopped
        logged = [f"dispatch: the workers logged {count} warnings or errors" + (":" if problems else "")]
        logged += [f"  {line}" for line in problems]
        try:
            verified = await verify_project(db, fake, outbox)
        except BenchFailure as exc:
            raise BenchFailure("\n".join([str(exc), *logged])) from None
    finally:
        await db.close()
    whole = max(finished, first_wall) - spawned_wall
    return Phase("dispatch", total, elapsed, cpu, [
        f"dispatch: {whole:.2f}s from starting the workers (start-up included): {total / whole:.1f} msgs/s",
        *verified, *logged])


async def _statuses(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT status, count(*) AS n FROM messages GROUP BY status ORDER BY status")
    return {row["status"]: int(row["n"]) for row in rows}


async def verify_project(db: asyncpg.Connection, fake: FakeSms, outbox: Outbox) -> list[str]:
    """Every message ``sent`` once, the fake's record matching: a fast run that lost or doubled messages
    reports nothing."""
    total = len(outbox.message_ids)
    statuses = await _statuses(db)
    row = await db.fetchrow("SELECT count(*) FILTER (WHERE attempts <> 1) AS retried, "
                            "count(DISTINCT provider_message_id) AS serials FROM messages")
    stats = await fake.ask("stats")
    contexts = await fake.ask("contexts")
    expected = sorted(str(i) for i in outbox.message_ids)
    problems = []
    if statuses != {"sent": total}:
        reasons = await db.fetch("SELECT status, reason, count(*) AS n FROM messages WHERE status <> 'sent' "
                                 "GROUP BY status, reason ORDER BY n DESC LIMIT 5")
        problems.append(f"statuses {statuses}, not {total} sent; "
                        + "; ".join(f"{r['n']} {r['status']}: {r['reason']}" for r in reasons))
    if stats["sent"] != total or stats["distinct_contexts"] != total or sorted(contexts) != expected:
        problems.append(f"the fake recorded {stats['sent']} sends with {stats['distinct_contexts']} distinct "
                        f"SessionContext values ({stats['repeated_contexts']} repeated), for {total} messages"
                        + ("" if sorted(set(contexts)) == expected else ", not the set of message ids"))
    if int(row["serials"]) != total:
        problems.append(f"{row['serials']} distinct provider message ids for {total} messages")
    if problems:
        raise BenchFailure("dispatch: " + "; ".join(problems))
    return [f"dispatch: {total} messages sent, {row['retried']} after a retry; the fake: {stats['calls']} calls, "
            f"{stats['sent']} sends, {stats['distinct_contexts']} distinct SessionContext (the message ids), "
            f"answers other than Ok: {stats['not_ok'] or 'none'}"]


async def run_loops(project: Project, fake: FakeSms, outbox: Outbox, payloads: Path, args: argparse.Namespace,
                    log_dir: Path) -> Phase:
    """The bare loop, in as many processes as workers, each its share of the same SMS: from "go" to the last."""
    total = len(outbox.message_ids)
    argvs = [[sys.executable, "-m", "bench.sms_loop", "--payloads", str(payloads), "--part", str(n),
              "--of", str(args.workers), "--concurrency", str(args.concurrency)] for n in range(args.workers)]
    logs = [log_dir / f"sms-loop-{n}.log" for n in range(args.workers)]
    cpu = CpuMeter()
    async with children(argvs, env={**project.env, **fake.env(args.concurrency)}, logs=logs, pipes=True) as loops:
        for n, loop in enumerate(loops):
            ready = await read_line(loop, name=f"sms loop {n}", log=logs[n], timeout_s=START_TIMEOUT_S)
            if ready != "ready":
                raise BenchFailure(f"sms loop {n} printed {ready!r}, not ready")
        cpu.start(0.0, (await fake.ask("stats"))["cpu_s"])
        for loop in loops:
            assert loop.stdin is not None
            loop.stdin.write(b"go\n")
            await loop.stdin.drain()
        deadline = max(START_TIMEOUT_S, total / 50)
        results = [json.loads(await read_line(loop, name=f"sms loop {n}", log=logs[n], timeout_s=deadline))
                   for n, loop in enumerate(loops)]
        stats = await fake.ask("stats")
        cpu.stop(sum(r["cpu_s"] for r in results), stats["cpu_s"])
    started = min(r["started"] for r in results)
    elapsed = max(r["finished"] for r in results) - started
    outcomes: dict[str, int] = {}
    for result in results:
        for outcome, n in result["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    contexts = sorted(await fake.ask("contexts"))
    if outcomes != {"sent": total} or stats["sent"] != total or contexts != sorted(str(i) for i in outbox.message_ids):
        raise BenchFailure(f"sms-loop: outcomes {outcomes}; the fake recorded {stats['sent']} sends with "
                           f"{stats['distinct_contexts']} distinct SessionContext values for {total} messages")
    return Phase("baseline:sms-loop", total, elapsed, cpu, [
        f"sms-loop: {total} sent; the fake: {stats['calls']} calls, {stats['sent']} sends, "
        f"{stats['distinct_contexts']} distinct SessionContext, answers other than Ok: {stats['not_ok'] or 'none'}"])
