"""``python -m backend scheduler``: APScheduler (3.x ``AsyncIOScheduler``) running the jobs the database defines.

The lifecycle programs, the touches that are scheduled or running and the maintenance jobs
(``jobs.maintenance``) become APScheduler jobs; the definitions are read again every
``SCHEDULER_REFRESH_S`` seconds, so a change in the console reaches every scheduler process. Any
number of scheduler processes may run: each run is guarded (``jobs.runs``). The embedded default
runs one inside the web process (``SCHEDULER_IN_APP``, see ``backend.app``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backend import clock, db, testclock
from backend.kv import KV, create_kv
from backend.settings import Settings
from jobs import lifecycle, maintenance, runs, service
from jobs.cron import crontab_trigger
from jobs.models import Touch

log = logging.getLogger("jobs.scheduler")


class Host:
    def __init__(self, settings: Settings, kv: KV, *, owner: str | None = None, refresh_s: int | None = None) -> None:
        self.settings = settings
        self.kv = kv
        self.tz = settings.tz
        self.owner = owner or runs.new_owner()
        self.refresh_s = refresh_s or settings.scheduler_refresh_s
        self.scheduler = AsyncIOScheduler(timezone=self.tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        self._signatures: dict[str, str] = {}

    async def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(self.reconcile, IntervalTrigger(seconds=self.refresh_s), id="reconcile")
        await self.reconcile()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def desired(self) -> dict[str, tuple[Any, Any, tuple[Any, ...], str]]:
        """job id -> (trigger, function, args, signature) for everything that should be scheduled."""
        out: dict[str, tuple[Any, Any, tuple[Any, ...], str]] = {}
        for name, job in maintenance.JOBS.items():
            out[f"maintenance:{name}"] = (crontab_trigger(job.cron, timezone=self.tz),
                                          self.run_maintenance, (name,), job.cron)
        for key, settings in (await lifecycle.load_all(fresh=True)).items():
            if settings.enabled:
                out[f"program:{key}"] = (crontab_trigger(settings.cron, timezone=self.tz),
                                         self.run_program, (key,), settings.cron)
        for touch in await Touch.filter(status__in=["scheduled", "running"]):
            schedule, job_id = touch.schedule, f"touch:{touch.id}"
            if touch.audience.get("event"):
                out[job_id] = (IntervalTrigger(minutes=1), self.run_touch, (touch.id,), "event")
            elif schedule.get("cron"):
                until = datetime.fromisoformat(schedule["until"]) if schedule.get("until") else None
                trigger = crontab_trigger(schedule["cron"], timezone=self.tz)
                trigger.end_date = until
                out[job_id] = (trigger, self.run_touch, (touch.id,), f"cron {schedule['cron']} {until}")
            elif schedule.get("at") and touch.status == "scheduled":
                at = max(datetime.fromisoformat(schedule["at"]), clock.now())
                out[job_id] = (DateTrigger(run_date=at), self.run_touch, (touch.id,), f"at {schedule['at']}")
        return out

    async def reconcile(self) -> None:
        try:
            desired = await self.desired()
        except Exception:
            log.exception("could not read the job definitions; keeping the current schedule")
            return
        for job_id in list(self._signatures):
            if job_id not in desired or desired[job_id][3] != self._signatures[job_id]:
                if self.scheduler.get_job(job_id):
                    self.scheduler.remove_job(job_id)
                del self._signatures[job_id]
        for job_id, (trigger, func, args, signature) in desired.items():
            if job_id not in self._signatures:
                self.scheduler.add_job(func, trigger, args=args, id=job_id, replace_existing=True)
                self._signatures[job_id] = signature

    async def run_program(self, key: str) -> dict[str, Any]:
        result = await service.run_program(key, kv=self.kv, owner=self.owner, tz=self.tz,
                                           lease_s=self.settings.job_lease_s)
        log.info("program run", extra={"result": result})
        return result

    async def run_maintenance(self, name: str) -> dict[str, Any]:
        result = await maintenance.run(name, settings=self.settings, kv=self.kv, owner=self.owner)
        log.info("maintenance run", extra={"result": result})
        return result

    async def run_touch(self, touch_id: int) -> dict[str, Any]:
        result = await service.run_touch(touch_id, kv=self.kv, owner=self.owner, tz=self.tz,
                                         lease_s=self.settings.job_lease_s,
                                         parallel=self.settings.touch_parallel)
        log.info("touch run", extra={"result": result})
        return result


async def run_scheduler(settings: Settings) -> None:
    kv = create_kv(settings.redis_url, settings.redis_prefix)
    await db.init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
    await testclock.start(settings)
    host = Host(settings, kv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await host.start()
        log.info("scheduler started", extra={"owner": host.owner})
        await stop.wait()
    finally:
        host.stop()
        await kv.close()
        await db.close_db()


async def run_one(settings: Settings, job: str) -> dict[str, Any]:
    """``program:KEY``, ``touch:ID`` or ``maintenance:NAME`` now, under the same guards as a scheduled run."""
    kv = create_kv(settings.redis_url, settings.redis_prefix)
    await db.init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
    await testclock.start(settings)
    try:
        kind, _, name = job.partition(":")
        owner = runs.new_owner()
        if kind == "program":
            return await service.run_program(name, kv=kv, owner=owner, tz=settings.tz, lease_s=settings.job_lease_s)
        if kind == "touch" and name.isdigit():
            return await service.run_touch(int(name), kv=kv, owner=owner, tz=settings.tz,
                                           lease_s=settings.job_lease_s)
        if kind == "maintenance":
            return await maintenance.run(name, settings=settings, kv=kv, owner=owner)
        raise ValueError(f"unknown job {job!r}: use program:KEY, touch:ID or maintenance:purge")
    finally:
        await kv.close()
        await db.close_db()
