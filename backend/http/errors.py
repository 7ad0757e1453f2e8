"""One handler renders every failure as ``{"error": {"code", "message", "details"}}``.

Database and Redis outages become 503 ``DEPENDENCY_UNAVAILABLE`` naming the dependency, and so does a
deadlock or serialization failure that outlived its retries; anything unexpected becomes a 500
``INTERNAL_ERROR`` carrying the request id, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from redis import exceptions as redis_errors
from sanic import Request, Sanic
from sanic import exceptions as sanic_errors
from sanic.response import HTTPResponse, json
from tortoise import exceptions as orm_errors

from backend import db
from backend.errors import (
    DependencyUnavailable,
    DomainError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from backend.logs import request_id_var

log = logging.getLogger("backend.http")

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    orm_errors.DBConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)
_REDIS_TYPES = (redis_errors.ConnectionError, redis_errors.TimeoutError)


def _outage(exc: BaseException) -> BaseException | None:
    """The lost or refused database/Redis connection behind ``exc`` (itself or what caused it), if any."""
    return db.find_cause(exc, _OUTAGE_TYPES)


def is_dependency_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a lost or refused database/Redis connection."""
    return _outage(exc) is not None


def render(error: DomainError, headers: dict[str, str] | None = None) -> HTTPResponse:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return json(body, status=error.status, headers=headers, ensure_ascii=False)


def to_domain_error(request: Request | None, exc: BaseException) -> DomainError:
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, sanic_errors.NotFound):
        return NotFound(details={"path": request.path} if request else {})
    if isinstance(exc, sanic_errors.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, sanic_errors.PayloadTooLarge):
        return PayloadTooLarge()
    if isinstance(exc, sanic_errors.BadRequest):
        return ValidationFailed("请求体不是有效的 JSON", details={"body": str(exc)})
    if isinstance(exc, sanic_errors.ServiceUnavailable):
        # Sanic's RESPONSE_TIMEOUT cut the handler short: most often a dependency that stopped answering
        # without closing its connections (a network partition), which no driver notices on its own.
        log.warning("response timeout: %s %s", request.method if request else "", request.path if request else "")
        return DependencyUnavailable(details={"reason": "response_timeout"})
    if (cause := _outage(exc)) is not None:
        log.warning("dependency outage: %s: %s", type(exc).__name__, exc)
        return DependencyUnavailable(details={"dependency": "redis" if isinstance(cause, _REDIS_TYPES) else "database"})
    if db.is_conflict(exc):
        # A deadlock or serialization failure that outlived its retries (db.retry_conflicts), or one in a
        # transaction nobody retries: nothing was written, and the same request may well pass a moment later.
        log.warning("transaction conflict: %s: %s", type(exc).__name__, exc)
        return DependencyUnavailable(details={"dependency": "database", "reason": "conflict"})
    if isinstance(exc, sanic_errors.SanicException) and exc.status_code < 500:
        return DomainError(str(exc) or None, code=f"HTTP_{exc.status_code}", status=exc.status_code)
    log.exception("unhandled error", exc_info=exc)
    return InternalError(details={"request_id": request_id_var.get()})


def install(app: Sanic) -> None:
    async def handle(request: Request, exc: BaseException) -> HTTPResponse:
        error = to_domain_error(request, exc)
        headers = {}
        if isinstance(error, RateLimited) and "retry_after_s" in error.details:
            headers["Retry-After"] = str(error.details["retry_after_s"])
        if isinstance(error, DependencyUnavailable):
            headers["Retry-After"] = "5"
        return render(error, headers)

    app.error_handler.add(Exception, handle)
