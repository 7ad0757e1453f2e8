"""Each run of a job happens once, whatever the number of scheduler processes, and a crashed run resumes.

Two guards: a lease in the key-value store (cheap, keeps a second scheduler from even starting),
and a unique (job, period) row in ``job_runs`` (the truth: Redis may forget). A run walks members
in keyset batches; each batch's effects and the run's new cursor commit in one transaction, and
that commit only succeeds while this process still owns the run. A run whose owner stopped
(no heartbeat for ``lease_s``) is taken over from its cursor, so nothing is done twice.

A step that is safe to repeat (every write an insert that skips what is already there, counting only
what it wrote) may say ``parallel = N`` and ``span`` (how far one step moves the cursor): the run then
keeps N steps in flight, each in its own transaction on its own connection, each committing its counts
with its effects (and only while this process owns the run), and starts the next as soon as one commits;
the cursor moves past the steps committed without a gap before them. A run stopped in the middle redoes
the steps from the cursor: the ones that had committed write and count nothing the second time.
PostgreSQL only (SQLite has one writer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend import clock, db
from backend.kv import KV

log = logging.getLogger("jobs.runs")

# step(cursor, conn) -> (next cursor, or None when finished; counts to add)
Step = Callable[[int, BaseDBAsyncClient], Awaitable[tuple[int | None, dict[str, int]]]]

_CREATE = ("INSERT INTO job_runs (job, period, status, cursor, counts, owner, attempts, heartbeat_at, started_at) "
           "VALUES ($1, $2, 'running', 0, '{}', $3, 1, $4, $4) ON CONFLICT (job, period) DO NOTHING "
           "RETURNING id, cursor, counts")
_TAKE_OVER = ("UPDATE job_runs SET owner = $2, heartbeat_at = $3, attempts = attempts + 1, status = 'running', "
              "error = NULL WHERE id = $1 AND status <> 'done' AND (status = 'failed' OR heartbeat_at < $4) "
              "RETURNING id, cursor, counts")
# A parallel step's counts, added to the run's in its own transaction (the row lock orders the parts).
_ADD_COUNTS = ("UPDATE job_runs SET heartbeat_at = $4, counts = (SELECT coalesce(jsonb_object_agg(k, "
               "coalesce((job_runs.counts ->> k)::bigint, 0) + coalesce((CAST($3 AS jsonb) ->> k)::bigint, 0)), "
               "'{}'::jsonb) FROM jsonb_object_keys(job_runs.counts || CAST($3 AS jsonb)) AS k) "
               "WHERE id = $1 AND owner = $2 AND status = 'running' RETURNING counts")
_ADVANCE = ("UPDATE job_runs SET cursor = $3, heartbeat_at = $4 WHERE id = $1 AND owner = $2 AND status = 'running' "
            "RETURNING counts")
_PROGRESS = ("UPDATE job_runs SET cursor = $3, counts = $4, heartbeat_at = $5 "
             "WHERE id = $1 AND owner = $2 AND status = 'running' RETURNING id")


class LostRun(Exception):
    """Another scheduler took this run over (ours was presumed dead): stop without committing."""


def new_owner() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


async def run(job: str, period: str, step: Step, *, kv: KV, owner: str, lease_s: int = 120) -> dict[str, Any]:
    """Run ``job`` for ``period`` unless it already ran or runs elsewhere; the run's outcome."""
    key = f"job:{job}:{period}"
    if not await kv.lease(key, owner, lease_s):
        return {"job": job, "period": period, "outcome": "running_elsewhere"}
    try:
        return await _run(job, period, step, kv=kv, key=key, owner=owner, lease_s=lease_s)
    finally:
        await kv.release_lease(key, owner)


async def _run(job: str, period: str, step: Step, *, kv: KV, key: str, owner: str, lease_s: int) -> dict[str, Any]:
    now = clock.now()
    row = await db.fetch_one(_CREATE, job, period, owner, now)
    resumed = False
    if row is None:
        existing = await db.fetch_one("SELECT id, status FROM job_runs WHERE job = $1 AND period = $2", job, period)
        if existing is None or existing["status"] == "done":
            return {"job": job, "period": period, "outcome": "already_done"}
        row = await db.fetch_one(_TAKE_OVER, existing["id"], owner, now, now - timedelta(seconds=lease_s))
        if row is None:
            return {"job": job, "period": period, "outcome": "running_elsewhere"}
        resumed = True
        log.warning("resuming a run whose scheduler stopped", extra={"job": job, "period": period})
    run_id, cursor = int(row["id"]), int(row["cursor"])
    counts: dict[str, int] = json.loads(row["counts"]) if isinstance(row["counts"], str) else dict(row["counts"])
    parallel = int(getattr(step, "parallel", 1)) if db.is_postgres() else 1
    try:
        while True:
            if parallel > 1:
                counts = await _pipeline(step, cursor, parallel, run_id=run_id, owner=owner, job=job,
                                         period=period, renew=lambda: kv.lease(key, owner, lease_s))
                following = None
            else:
                outside = getattr(step, "outside_transaction", False)
                early = await step(cursor, None) if outside else None  # type: ignore[arg-type]
                async with in_transaction() as conn:
                    following, delta = early if early is not None else await step(cursor, conn)
                    for name, value in delta.items():
                        counts[name] = counts.get(name, 0) + value
                    moved = await db.fetch(_PROGRESS, run_id, owner, following if following is not None else cursor,
                                           json.dumps(counts), clock.now(), conn=conn)
                    if not moved:
                        raise LostRun(job, period)
            await kv.lease(key, owner, lease_s)
            if following is None:
                break
            cursor = following
    except LostRun:
        log.warning("run taken over by another scheduler", extra={"job": job, "period": period})
        return {"job": job, "period": period, "outcome": "taken_over", "counts": counts}
    except Exception as exc:
        log.exception("job run failed", extra={"job": job, "period": period})
        await db.fetch("UPDATE job_runs SET status = 'failed', error = $3, heartbeat_at = $4 "
                       "WHERE id = $1 AND owner = $2", run_id, owner, f"{type(exc).__name__}: {exc}"[:2000],
                       clock.now())
        return {"job": job, "period": period, "outcome": "failed", "error": type(exc).__name__, "counts": counts}
    await db.fetch("UPDATE job_runs SET status = 'done', finished_at = $3, heartbeat_at = $3 "
                   "WHERE id = $1 AND owner = $2", run_id, owner, clock.now())
    return {"job": job, "period": period, "outcome": "resumed" if resumed else "done", "counts": counts}


async def _pipeline(step: Step, cursor: int, parallel: int, *, run_id: int, owner: str, job: str, period: str,
                    renew: Callable[[], Awaitable[Any]]) -> dict[str, int]:
    """Steps from ``cursor`` on, ``parallel`` in flight at any time: each range that commits makes room for
    the next, so one slow range does not hold the others back. The cursor moves past the ranges committed
    without a gap; the run's counts once the last range (and every range before it) has committed."""
    span = int(step.span)  # type: ignore[attr-defined]

    async def part(at: int) -> int | None:
        async with in_transaction() as conn:
            following, delta = await step(at, conn)
            if not await db.fetch(_ADD_COUNTS, run_id, owner, json.dumps(delta), clock.now(), conn=conn):
                raise LostRun(job, period)
        return following

    flying: dict[asyncio.Task[int | None], int] = {}
    committed: set[int] = set()
    launch, finished = cursor, False
    failure: BaseException | None = None
    counts: Any = None
    try:
        while True:
            while not finished and failure is None and len(flying) < parallel:
                flying[asyncio.create_task(part(launch))] = launch
                launch += span
            if not flying:
                break
            done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                at = flying.pop(task)
                exc = asyncio.CancelledError() if task.cancelled() else task.exception()
                if exc is not None:  # the others finish (or fail) before it is raised; no new range starts
                    failure = exc if failure is None or isinstance(exc, LostRun) else failure
                    continue
                committed.add(at)
                finished = finished or task.result() is None  # the ranges started past the last one are empty
            moved_to = cursor
            while moved_to in committed:
                committed.discard(moved_to)
                moved_to += span
            if moved_to != cursor or not flying:
                cursor = moved_to
                moved = await db.fetch_one(_ADVANCE, run_id, owner, cursor, clock.now())
                if moved is None:
                    failure = failure or LostRun(job, period)
                else:
                    counts = moved["counts"]
                await renew()
    finally:
        for task in flying:  # this run itself was cancelled: its ranges in flight roll back
            task.cancel()
    if failure is not None:
        raise failure
    counts = json.loads(counts) if isinstance(counts, str) else dict(counts)
    return {k: int(v) for k, v in counts.items()}


def single(work: Callable[[], Awaitable[dict[str, int]]]) -> Step:
    """A job that is one piece of work with its own transactions, safe to repeat (expiry, tier review)."""
    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        return None, await work()

    step.outside_transaction = True  # type: ignore[attr-defined]
    return step
