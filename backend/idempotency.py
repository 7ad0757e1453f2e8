"""``Idempotency-Key`` for asset-changing POSTs, stored in the database for 24 hours.

Same key and same body: the first response is returned again (``Idempotent-Replayed: true``).
Same key, other body: 422 ``IDEMPOTENCY_KEY_REUSED``. Same key while the first is still running:
409 ``IDEMPOTENCY_IN_FLIGHT``. A request that fails with an error is not remembered, so a retry
runs again (its transaction rolled back: nothing happened). A claim whose process died is taken
over after its lease; handlers behind it still guard their effects with unique keys of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, raw
from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from backend import clock
from backend.errors import IdempotencyInFlight, IdempotencyKeyReused, ValidationFailed

RETENTION = timedelta(hours=24)
LEASE = timedelta(seconds=60)


class IdempotencyRecord(Model):
    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=120)
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    state = fields.CharField(max_length=12, default="in_flight")  # in_flight | done
    response_status = fields.IntField(null=True)
    response_body = fields.TextField(null=True)
    response_type = fields.CharField(max_length=100, null=True)
    locked_until = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_records"
        unique_together = (("scope", "key"),)


def _request_hash(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string}\n".encode())
    digest.update(request.body or b"")
    return digest.hexdigest()


async def _claim(scope: str, key: str, request_hash: str) -> IdempotencyRecord | HTTPResponse:
    """Our claimed record, or the stored response to replay."""
    for _ in range(3):
        now = clock.now()
        try:
            return await IdempotencyRecord.create(
                scope=scope, key=key, request_hash=request_hash, locked_until=now + LEASE,
                expires_at=now + RETENTION, created_at=now,
            )
        except IntegrityError:
            existing = await IdempotencyRecord.get_or_none(scope=scope, key=key)
        if existing is None:  # finished with an error and released in between: claim again
            continue
        if existing.expires_at <= now:
            await IdempotencyRecord.filter(id=existing.id, expires_at__lte=now).delete()
            continue
        if existing.request_hash != request_hash:
            raise IdempotencyKeyReused(details={"idempotency_key": key})
        if existing.state == "done":
            return raw(existing.response_body or "", status=existing.response_status or 200,
                       content_type=existing.response_type or "application/json",
                       headers={"Idempotent-Replayed": "true"})
        if existing.locked_until > now:
            raise IdempotencyInFlight(details={"idempotency_key": key})
        # The first claimant's lease ran out (its process died): one caller takes it over.
        taken = await IdempotencyRecord.filter(id=existing.id, state="in_flight",
                                               locked_until=existing.locked_until).update(
            locked_until=now + LEASE)
        if taken:
            existing.locked_until = now + LEASE
            return existing
        raise IdempotencyInFlight(details={"idempotency_key": key})
    raise IdempotencyInFlight(details={"idempotency_key": key})


async def run_idempotent(request: Request, scope: str, call: Callable[[], Awaitable[HTTPResponse]]) -> HTTPResponse:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await call()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed(details={"fields": {"Idempotency-Key": "长度应为 1 到 255 个可打印字符"}})
    claimed = await _claim(scope, key, _request_hash(request))
    if isinstance(claimed, HTTPResponse):
        return claimed
    try:
        response = await call()
    except BaseException:
        await IdempotencyRecord.filter(id=claimed.id, state="in_flight").delete()
        raise
    if response.status >= 500:
        await IdempotencyRecord.filter(id=claimed.id, state="in_flight").delete()
        return response
    body = response.body.decode() if isinstance(response.body, bytes) else (response.body or "")
    await IdempotencyRecord.filter(id=claimed.id).update(
        state="done", response_status=response.status, response_body=body,
        response_type=response.content_type)
    return response


def idempotent(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
    """Apply below the auth decorator: keys are scoped per caller and route."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        ctx = request.ctx
        if getattr(ctx, "staff", None) is not None:
            caller = f"staff:{ctx.staff.id}"
        elif getattr(ctx, "member_id", None) is not None:
            caller = f"member:{ctx.member_id}"
        elif getattr(ctx, "wechat_account_id", None) is not None:
            caller = f"wechat:{ctx.wechat_account_id}"
        elif getattr(ctx, "app_key", None) is not None:
            caller = f"app:{ctx.app_key.id}"
        else:
            caller = "anonymous"
        scope = f"{caller}:{request.route.name if request.route else request.path}"[:120]
        return await run_idempotent(request, scope, lambda: handler(request, *args, **kwargs))

    return wrapper


async def purge_expired() -> int:
    """Delete records past retention; returns how many (scheduled by the jobs host)."""
    return await IdempotencyRecord.filter(expires_at__lte=clock.now()).delete()
