"""Housekeeping: what has outlived its use is deleted on a schedule, in batches, counted in ``job_runs``.

| job | deletes | runs |
|---|---|---|
| purge | idempotency records past their retention (24 h); refresh tokens expired or spent more than ``REFRESH_TOKEN_GRACE_S`` ago; used signature nonces whose timestamp is refused anyway (twice ``SIGNATURE_MAX_SKEW_S``) | hourly, at minute 17 |
| imports | nothing: member imports whose process stopped mid-run (no heartbeat for ``JOB_LEASE_S``) go on from their cursor | every 5 minutes |
| payments | nothing: WeChat Pay orders pending for a minute are queried (a lost notification is credited), unpaid ones past their time limit closed (``backend.payments.service.reconcile``) | every minute |
| membership | nothing: this merchant month's coupon pack for each paid member whose period includes one (once per member and month); a ``membership_expired`` event for each membership that ended (``backend.membership.service``) | hourly, at minute 23 |
| analytics | nothing: builds the daily aggregates of the closed days that are due (``backend.analytics.build.due_days``), one day per batch | hourly, at minute 7 |

Each batch deletes at most ``BATCH`` rows and commits with the run's cursor, so a long purge never
holds a big transaction and a scheduler killed mid-way resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.models import Model

from backend import clock
from backend.idempotency import IdempotencyRecord
from backend.kv import KV
from backend.members.models import RefreshToken
from backend.security import nonces
from backend.settings import Settings
from jobs import runs
from jobs.runs import Step

BATCH = 2000


@dataclass(frozen=True)
class Job:
    cron: str
    description: str


JOBS: dict[str, Job] = {
    "purge": Job(cron="17 * * * *", description="删除过期的幂等记录、刷新令牌和签名随机数"),
    "imports": Job(cron="*/5 * * * *", description="继续因进程退出而中断的会员导入"),
    "payments": Job(cron="* * * * *", description="查询未收到通知的微信支付订单并入账，关闭超时未支付的订单"),
    "membership": Job(cron="23 * * * *", description="发放付费会员的每月券包（每人每月一次），记录已到期的付费会员"),
    "analytics": Job(cron="7 * * * *", description="汇总已结束的营业日的数据分析（增量，可重复执行）"),
}


@dataclass(frozen=True)
class Purge:
    """One table's purge: the count's name, the model and which of its rows are done with."""

    name: str
    model: type[Model]
    done_with: Q


def purges(settings: Settings, now: datetime) -> list[Purge]:
    spent = now - timedelta(seconds=settings.refresh_token_grace_s)
    return [
        Purge("idempotency_records", IdempotencyRecord, Q(expires_at__lte=now)),
        # Spent tokens are kept for a while: presenting one again is how a stolen copy is detected.
        Purge("refresh_tokens", RefreshToken, Q(expires_at__lte=spent) | Q(used_at__lte=spent)),
        Purge("used_nonces", nonces.UsedNonce,
              Q(signed_at__lt=nonces.purge_before(now, settings.signature_max_skew_s))),
    ]


def purge_step(settings: Settings, *, now: datetime, batch: int = BATCH) -> Step:
    """The cursor is the index of the table being purged; each step deletes one batch from it."""
    tables = purges(settings, now)

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        purge = tables[cursor]
        chosen = purge.model.filter(purge.done_with).using_db(conn).limit(batch).values("id")
        deleted = await purge.model.filter(id__in=Subquery(chosen)).using_db(conn).delete()
        following = cursor if deleted >= batch else cursor + 1
        return (following if following < len(tables) else None), {purge.name: deleted, "batches": 1}

    return step


def period_of(now: datetime) -> str:
    """An hourly job's period: the UTC hour it runs in."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


async def run(name: str, *, settings: Settings, kv: KV, owner: str, now: datetime | None = None,
              batch: int = BATCH) -> dict[str, Any]:
    """One run of a maintenance job for the current hour (guarded like every job: once, resumable)."""
    if name not in JOBS:
        raise ValueError(f"unknown maintenance job {name!r}: one of {', '.join(JOBS)}")
    now = now or clock.now()
    if name == "imports":  # each import is its own resumable job run; this only finds the orphaned ones
        from backend.imports import service as imports
        from backend.security.pii import PiiCipher

        resumed = await imports.resume_stale(pii=PiiCipher(settings.pii_key), tz=settings.tz, kv=kv, owner=owner,
                                             lease_s=settings.job_lease_s)
        return {"job": "maintenance:imports", "outcome": "done", "resumed": resumed}
    if name == "payments":
        from backend.payments import service as payments

        return {"job": "maintenance:payments", "outcome": "done", **await payments.reconcile(now)}
    if name == "membership":
        from backend.membership import service as membership

        packs = await membership.issue_packs(tz=settings.timezone, now=now)
        return {"job": "maintenance:membership", "outcome": "done", "packs": packs["members"],
                "coupons": packs["coupons"], "expired": await membership.note_expiries(now)}
    if name == "analytics":
        from backend.analytics import build

        days = await build.due_days(tz=settings.tz)
        return await runs.run("maintenance:analytics", period_of(now), build.job_step(days, settings.tz),
                              kv=kv, owner=owner, lease_s=settings.job_lease_s)
    return await runs.run(f"maintenance:{name}", period_of(now), purge_step(settings, now=now, batch=batch),
                          kv=kv, owner=owner, lease_s=settings.job_lease_s)
