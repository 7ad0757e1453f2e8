"""``webhooks``: the webhook outbox drained by the delivery workers to a loopback receiver, against a bare loop
posting the same signed events with the same client.

Not an HTTP benchmark: it runs itself (``standalone_benchmark``). See bench/README.md, "webhooks". Its options
are the shared ones of ``dispatch`` (``--messages``: the events, ``--workers``): registered there, not here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import standalone_benchmark
from bench.dispatching import (
    START_TIMEOUT_S,
    children,
    log_problems,
    machine_busy_s,
    process_cpu_s,
    read_line,
)
from bench.project import Project
from bench.runner import BenchFailure, out
from bench.servers import log_tail

GOAL = 0.7
EVENT_TYPE = "points.changed"
EVENTS_PER_MEMBER = 10
WRITE_CHUNK = 2000  # events per outbox.write call (one transaction each)
ALLOW_HOSTS = "127.0.0.1"  # APP_ENV=production refuses loopback targets unless the operator names them
POLL_START_S = 0.05  # until the first delivery is claimed
POLL_S = 0.2  # then: one count over the deliveries, a few ms of PostgreSQL
STALL_S = 60  # no delivery finished for this long: the run fails
DROPPED = "webhook delivery outcome dropped"  # the worker's warning when its lease went to another worker


async def backend_pids(db: asyncpg.Connection) -> list[int]:
    """The PostgreSQL backends of the run's database but this connection: the workers' connections."""
    rows = await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid()")
    return [int(row["pid"]) for row in rows]


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds of those processes still running, by pid."""
    found = {}
    for pid in pids:
        try:
            found[pid] = process_cpu_s(pid)
        except OSError:  # gone meanwhile
            continue
    return found


@dataclass
class Usage:
    """CPU seconds over a window: the measured processes, the sink, the PostgreSQL backends of the run's
    database (the workers' connections; not the harness's, nor other databases'), the whole machine (every
    core, every process: ``/proc/stat``, sampled at each tick; the per-process figures are the scheduler's)."""

    processes_s: float = 0.0
    sink_s: float = 0.0
    postgres_s: float = 0.0
    machine_s: float = 0.0
    window_s: float = 0.0
    _started: float = 0.0
    _postgres: dict[int, float] = field(default_factory=dict)

    def start(self, processes_s: float, sink_s: float, backends: list[int]) -> None:
        self.processes_s, self.sink_s, self.machine_s = -processes_s, -sink_s, -machine_busy_s()
        self._postgres = cpu_of(backends)
        self._started = time.monotonic()

    def stop(self, processes_s: float, sink_s: float, backends: list[int]) -> None:
        """``backends``: those running now (one that connected within the window counts from zero)."""
        self.window_s = time.monotonic() - self._started
        self.processes_s += processes_s
        self.sink_s += sink_s
        self.postgres_s = sum(cpu - self._postgres.get(pid, 0.0) for pid, cpu in cpu_of(backends).items())
        self.machine_s += machine_busy_s()


@dataclass
class Phase:
    name: str
    events: int
    elapsed_s: float
    cpu: Usage
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.elapsed_s


@dataclass(frozen=True)
class Seeded:
    endpoint_id: int
    secret: str
    bodies: dict[str, str]  # webhook-id -> body, as body_of builds it from the event row
    members: int
    seconds: float


class Sink:
    """The loopback receiver in its own process (``python -m bench.webhook_sink``), asked over its stdin."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    @classmethod
    @asynccontextmanager
    async def running(cls, log_dir: Path) -> AsyncIterator[Sink]:
        log = log_dir / "webhook-sink.log"
        async with children([[sys.executable, "-m", "bench.webhook_sink"]], env={}, logs=[log],
                            pipes=True) as (process,):
            line = await read_line(process, name="the webhook sink", log=log, timeout_s=START_TIMEOUT_S)
            yield cls(process, json.loads(line)["url"], log)

    async def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        return json.loads(await read_line(self.process, name="the webhook sink", log=self.log, timeout_s=60))


def delivery_constants() -> tuple[int, int]:
    from backend.webhooks.delivery import BATCH_SIZE, CONCURRENCY

    return BATCH_SIZE, CONCURRENCY


@standalone_benchmark(
    "webhooks", "outbox events through `python -m backend worker` processes to a loopback receiver vs a bare "
    "signed-POST loop with the same client", goals={"webhooks/post-loop": GOAL})
async def webhooks(args: argparse.Namespace) -> int:
    if min(args.messages, args.workers) < 1:
        raise BenchFailure("--messages and --workers must be at least 1")
    batch, concurrency = delivery_constants()
    out(f"# bench webhooks: {args.messages} {EVENT_TYPE} events through {args.workers} worker processes "
        f"(python -m backend worker: the webhook worker claims {batch} deliveries at a time, {concurrency} POSTs "
        f"in flight) vs {args.workers} processes of a bare signed-POST loop, {concurrency} POSTs in flight each "
        f"(--concurrency, --batch, --loops are the notification worker's and do not apply)")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        scratch_dir = Path(scratch)
        async with Project.open(data_dir=scratch_dir / "data") as project, Sink.running(scratch_dir) as sink:
            seeded = await seed(project, sink.url, args.messages)
            await project.disconnect()
            await sink.ask(f"secret {seeded.secret}")
            out(f"# endpoint {seeded.endpoint_id}: {sink.url} (event types [{EVENT_TYPE}]), created with "
                f"webhooks.service.create_endpoint, WEBHOOK_ALLOW_HOSTS={ALLOW_HOSTS} (APP_ENV=production refuses "
                f"loopback targets otherwise)")
            out(f"# outbox: {args.messages} events due now, written with webhooks.outbox.write in chunks of "
                f"{WRITE_CHUNK}, dealt in turn to {seeded.members} member ids ({EVENTS_PER_MEMBER} each: "
                f"deliveries are in order per member, so consecutive events are for different members); "
                f"seeded in {seeded.seconds:.1f}s")
            out("# sink in its own process: tests/fakes/webhook_receiver.py, every signature verified with "
                "standardwebhooks, answers 200")
            env = {**project.env, "WEBHOOK_ALLOW_HOSTS": ALLOW_HOSTS}
            project_run = await run_workers(project, sink, seeded, args, env, scratch_dir)
            report(project_run, "workers")
            payloads = scratch_dir / "payloads.jsonl"
            with payloads.open("w") as lines:
                for msg_id, body in seeded.bodies.items():
                    lines.write(json.dumps({"id": msg_id, "body": body}, ensure_ascii=False) + "\n")
            await sink.ask("reset")
            baseline_run = await run_loops(sink, seeded, payloads, args, concurrency, env, scratch_dir)
            report(baseline_run, "loops")
    ratio = project_run.rate / baseline_run.rate
    met = ratio >= GOAL
    out(f"ratio webhooks/post-loop = {ratio:.2f} (target >= {GOAL:g}{'' if met else ': BELOW TARGET'})")
    if args.strict and not met:
        print("error: a ratio is below its target", file=sys.stderr)
        return 1
    return 0


def report(phase: Phase, who: str) -> None:
    cpu, n = phase.cpu, phase.events
    window = cpu.window_s or phase.elapsed_s
    out(f"{phase.name:<18} events/s={phase.rate:8.1f}  elapsed={phase.elapsed_s:6.2f}s  cores: "
        f"{who} {cpu.processes_s / window:.2f}, sink {cpu.sink_s / window:.2f}, postgres {cpu.postgres_s / window:.2f}, "
        f"machine {cpu.machine_s / window:.2f}  cpu/event: {who} {cpu.processes_s / n * 1000:.2f}ms, "
        f"sink {cpu.sink_s / n * 1000:.2f}ms, postgres {cpu.postgres_s / n * 1000:.2f}ms")
    for note in phase.notes:
        out(f"# {note}")


async def seed(project: Project, url: str, events: int) -> Seeded:
    """One endpoint at the sink; ``events`` outbox events for it, dealt in turn to member ids."""
    from tortoise.transactions import in_transaction

    from backend import audit
    from backend.security.pii import PiiCipher
    from backend.settings import load_settings
    from backend.webhooks import outbox, service
    from backend.webhooks.delivery import body_of

    started = time.monotonic()
    settings = load_settings({**project.env, "WEBHOOK_ALLOW_HOSTS": ALLOW_HOSTS})
    created = await service.create_endpoint(url=url, description="bench webhooks sink", event_types=[EVENT_TYPE],
                                            enabled=True, settings=settings, pii=PiiCipher(settings.pii_key),
                                            actor=audit.SYSTEM)
    endpoint_id = created.endpoint.id
    members = max(1, -(-events // EVENTS_PER_MEMBER))
    items = [(EVENT_TYPE, 1 + n % members,
              {"member_id": 1 + n % members, "channel": "pos", "store_id": 1, "delta": 5 + n % 7, "earned": 5 + n % 7,
               "spent": 0, "cause": "order", "order_id": n + 1, "order_no": f"B{n + 1:08d}"}, (endpoint_id,))
             for n in range(events)]
    for start in range(0, events, WRITE_CHUNK):
        async with in_transaction() as conn:
            await outbox.write(items[start:start + WRITE_CHUNK], using_db=conn)
    db = await asyncpg.connect(project.dsn, timeout=10)
    try:
        rows = await db.fetch("SELECT event_id, type, occurred_at, data FROM webhook_events ORDER BY id")
        queued = await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 "
                                   "AND status = 'pending'", endpoint_id)
    finally:
        await db.close()
    if len(rows) != events or queued != events:
        raise BenchFailure(f"seeding wrote {len(rows)} events and {queued} pending deliveries, not {events}")
    return Seeded(endpoint_id=endpoint_id, secret=created.secret,
                  bodies={row["event_id"]: body_of(dict(row)) for row in rows}, members=members,
                  seconds=time.monotonic() - started)


async def progress(db: asyncpg.Connection) -> tuple[int, int]:
    """Deliveries never claimed yet, and deliveries not yet final (succeeded or dead)."""
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'pending' AND lease_until IS NULL) AS untouched, "
        "count(*) FILTER (WHERE status IN ('pending', 'failed')) AS left FROM webhook_deliveries")
    return int(row["untouched"]), int(row["left"])


async def _statuses(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status ORDER BY status")
    return {row["status"]: int(row["n"]) for row in rows}


async def run_workers(project: Project, sink: Sink, seeded: Seeded, args: argparse.Namespace, env: dict[str, str],
                      log_dir: Path) -> Phase:
    """Start the workers; time from the first delivery claimed until every delivery is final."""
    total = len(seeded.bodies)
    argv = [sys.executable, "-m", "backend", "worker"]
    logs = [log_dir / f"worker-{n}.log" for n in range(args.workers)]
    cpu = Usage()
    db = await asyncpg.connect(project.dsn, timeout=10)
    try:
        spawned_wall = time.time()
        async with children([argv] * args.workers, env=env, logs=logs) as workers:
            spawned = time.monotonic()
            first: float | None = None
            first_wall: float | None = None
            last_change, last_left = spawned, total
            while True:
                untouched, left = await progress(db)
                now = time.monotonic()
                if first is None and untouched < total:
                    first, first_wall = now, time.time()
                    cpu.start(sum(process_cpu_s(w.pid) for w in workers), (await sink.ask("stats"))["cpu_s"],
                              await backend_pids(db))
                if left == 0:
                    break
                if left != last_left:
                    last_change, last_left = now, left
                exited = [n for n, w in enumerate(workers) if w.returncode is not None]
                if exited:
                    raise BenchFailure(f"worker {exited[0]} exited with {workers[exited[0]].returncode} while "
                                       f"{left} deliveries were pending:\n{log_tail(logs[exited[0]])}")
                if first is None and now - spawned > START_TIMEOUT_S:
                    raise BenchFailure(f"no worker claimed a delivery within {START_TIMEOUT_S}s:\n{log_tail(logs[0])}")
                if now - last_change > STALL_S:
                    raise BenchFailure(f"{left} deliveries still pending, none finished for {STALL_S}s: "
                                       f"{await _statuses(db)}\n{log_tail(logs[0])}")
                await asyncio.sleep(POLL_START_S if first is None else POLL_S)
            assert first is not None and first_wall is not None
            # Up to the last delivery's own finish (the workers' wall clock), not to the poll that saw it.
            finished = float(await db.fetchval(
                "SELECT extract(epoch FROM max(last_attempt_at)) FROM webhook_deliveries"))
            elapsed = finished - first_wall if finished > first_wall else now - first
            cpu.stop(sum(process_cpu_s(w.pid) for w in workers), (await sink.ask("stats"))["cpu_s"],
                     await backend_pids(db))
        count, problems = log_problems(logs)  # the workers have stopped
        dropped = sum(path.read_text(errors="replace").count(DROPPED) for path in logs)
        logged = [f"webhooks: the workers logged {count} warnings or errors" + (":" if problems else "")]
        logged += [f"  {line}" for line in problems]
        try:
            verified = await verify_project(db, sink, seeded, dropped)
        except BenchFailure as exc:
            raise BenchFailure("\n".join([str(exc), *logged])) from None
    finally:
        await db.close()
    whole = max(finished, first_wall) - spawned_wall
    return Phase("webhooks", total, elapsed, cpu, [
        f"webhooks: {whole:.2f}s from starting the workers (start-up included): {total / whole:.1f} events/s",
        *verified, *logged])


async def check_sink(sink: Sink, seeded: Seeded, who: str, allowed_repeats: int) -> dict[str, Any]:
    """The sink got every event, signed and as built from its row; repeats within ``allowed_repeats``."""
    total = len(seeded.bodies)
    stats = await sink.ask("stats")
    got = await sink.ask("digests")
    expected = {msg_id: hashlib.sha256(body.encode()).hexdigest() for msg_id, body in seeded.bodies.items()}
    problems = []
    missing = expected.keys() - got["digests"].keys()
    unknown = got["digests"].keys() - expected.keys()
    if missing or unknown:
        problems.append(f"{len(missing)} events never arrived, {len(unknown)} unknown webhook-ids arrived")
    wrong = sum(1 for msg_id, digest in got["digests"].items() if msg_id in expected and expected[msg_id] != digest)
    if wrong or got["differing"]:
        problems.append(f"{wrong} bodies differ from the event rows, {len(got['differing'])} ids arrived with "
                        f"different bodies")
    if stats["unverified"] or stats["mislabelled"]:
        problems.append(f"{stats['unverified']} requests whose signature did not verify, {stats['mislabelled']} "
                        f"whose body id is not their webhook-id")
    if stats["repeats"] > allowed_repeats:
        problems.append(f"{stats['repeats']} repeated deliveries ({stats['repeated_ids']} ids), more than the "
                        f"{allowed_repeats} that retries and lost leases account for")
    if stats["distinct_ids"] != total:
        problems.append(f"{stats['distinct_ids']} distinct webhook-ids for {total} events")
    if problems:
        raise BenchFailure(f"{who}: the sink: " + "; ".join(problems))
    return stats


async def verify_project(db: asyncpg.Connection, sink: Sink, seeded: Seeded, dropped: int) -> list[str]:
    """Every delivery ``succeeded``, the sink's record matching: a fast run that lost events reports nothing."""
    total = len(seeded.bodies)
    statuses = await _statuses(db)
    if statuses != {"succeeded": total}:
        reasons = await db.fetch("SELECT status, last_error, count(*) AS n FROM webhook_deliveries "
                                 "WHERE status <> 'succeeded' GROUP BY status, last_error ORDER BY n DESC LIMIT 5")
        raise BenchFailure(f"webhooks: statuses {statuses}, not {total} succeeded; "
                           + "; ".join(f"{r['n']} {r['status']}: {r['last_error']}" for r in reasons))
    row = await db.fetchrow("SELECT count(*) FILTER (WHERE attempts > 1) AS retried, "
                            "coalesce(sum(attempts), 0) AS attempts FROM webhook_deliveries")
    extra = int(row["attempts"]) - total
    stats = await check_sink(sink, seeded, "webhooks", allowed_repeats=extra + dropped)
    return [f"webhooks: {total} deliveries succeeded, {row['retried']} after a retry ({extra} extra attempts, "
            f"{dropped} outcomes dropped for a lost lease); the sink: {stats['requests']} requests, "
            f"{stats['distinct_ids']} distinct webhook-ids, {stats['repeats']} repeated (at least once), all "
            f"signatures verified, answers {stats['answered']}"]


async def run_loops(sink: Sink, seeded: Seeded, payloads: Path, args: argparse.Namespace, concurrency: int,
                    env: dict[str, str], log_dir: Path) -> Phase:
    """The bare loop, in as many processes as workers, each its share of the same events: from "go" to the last."""
    total = len(seeded.bodies)
    argvs = [[sys.executable, "-m", "bench.webhook_loop", "--payloads", str(payloads), "--url", sink.url,
              "--part", str(n), "--of", str(args.workers), "--concurrency", str(concurrency)]
             for n in range(args.workers)]
    logs = [log_dir / f"webhook-loop-{n}.log" for n in range(args.workers)]
    cpu = Usage()
    async with children(argvs, env={**env, "BENCH_WEBHOOK_SECRET": seeded.secret}, logs=logs, pipes=True) as loops:
        for n, loop in enumerate(loops):
            ready = await read_line(loop, name=f"post loop {n}", log=logs[n], timeout_s=START_TIMEOUT_S)
            if ready != "ready":
                raise BenchFailure(f"post loop {n} printed {ready!r}, not ready")
        cpu.start(0.0, (await sink.ask("stats"))["cpu_s"], [])  # the loops use no database
        for loop in loops:
            assert loop.stdin is not None
            loop.stdin.write(b"go\n")
            await loop.stdin.drain()
        deadline = max(START_TIMEOUT_S, total / 50)
        results = [json.loads(await read_line(loop, name=f"post loop {n}", log=logs[n], timeout_s=deadline))
                   for n, loop in enumerate(loops)]
        cpu.stop(sum(r["cpu_s"] for r in results), (await sink.ask("stats"))["cpu_s"], [])
    started = min(r["started"] for r in results)
    elapsed = max(r["finished"] for r in results) - started
    outcomes: dict[str, int] = {}
    for result in results:
        for outcome, n in result["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    if outcomes != {"200": total}:
        raise BenchFailure(f"post-loop: answers {outcomes}, not {total} × 200")
    stats = await check_sink(sink, seeded, "post-loop", allowed_repeats=0)
    return Phase("baseline:post-loop", total, elapsed, cpu, [
        f"post-loop: {total} posted, answers {outcomes}; the sink: {stats['requests']} requests, "
        f"{stats['distinct_ids']} distinct webhook-ids, all signatures verified"])

