"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any, Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import Field
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json, raw

from backend import replica
from backend.db import ping_db
from backend.errors import DependencyUnavailable
from backend.http.contract import build_document
from backend.http.docs import TEXT, Out, endpoint
from backend.http.errors import is_dependency_outage

bp = Blueprint("system")


SERIES_CACHED_MAX = 5_000


class Metrics:
    """Request counts and latency by route and status, in the app's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                 registry=self.registry)
        # The series by (method, route path, status): looking a child up by its labels validates and locks
        # on every request, a few percent of the hottest reads; the routes and statuses are a small set.
        self._series: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}

    def observe(self, request: Request, status: int) -> None:
        started = getattr(request.ctx, "started", None)
        path = request.route.path if request.route else None
        series = self._series.get((request.method, path, status))
        if series is None:
            route = "/" + path.lstrip("/") if path is not None else "unmatched"
            series = (self.requests.labels(request.method, route, str(status)),
                      self.latency.labels(request.method, route))
            if len(self._series) < SERIES_CACHED_MAX:
                self._series[(request.method, path, status)] = series
        series[0].inc()
        if started is not None:
            series[1].observe(time.perf_counter() - started)


class Health(Out):
    status: str


class Backends(Out):
    database: Literal["postgres", "sqlite"]
    store: Literal["redis", "memory"] = Field(description="the key-value store: Redis, or in-process (one process)")


class ReplicaState(Out):
    usable: bool = Field(description="lag-tolerant reads go to the replica now (else to the primary)")
    reason: str = Field(description="streaming, or why it is not used (not answering, behind, not streaming)")
    lag_s: float | None = Field(description="seconds behind the primary at the last probe, when known")
    max_lag_s: float
    fallbacks: int = Field(description="reads this process moved to the primary when the replica failed under them")


class Readiness(Out):
    status: str
    checks: dict[str, str] = Field(description="ok or unavailable for `database` and for the store: `redis`, or "
                                               "`store` when it is the in-process one")
    backends: Backends
    replica: ReplicaState | None = Field(None, description="the read replica (DATABASE_REPLICA_URL), when set: "
                                                           "never makes the service unready, reads fall back")


@bp.get("/healthz")
@endpoint(summary="Process is up", tag="system", response=Health, operation_id="getHealth")
async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/readyz")
@endpoint(summary="Database and key-value store reachable (503 otherwise)", tag="system", response=Readiness,
          operation_id="getReadiness")
async def readyz(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings
    backends = {"database": "sqlite" if settings.uses_sqlite else "postgres",
                "store": "redis" if settings.uses_redis else "memory"}
    checks: dict[str, str] = {}
    # "redis" keeps its meaning where Redis is used; the in-process store is never reported as Redis.
    store_check = "redis" if settings.uses_redis else "store"
    for name, probe in (("database", ping_db), (store_check, request.app.ctx.kv.ping)):
        try:
            await probe()
            checks[name] = "ok"
        except DependencyUnavailable:
            checks[name] = "unavailable"
        except Exception as exc:
            if not is_dependency_outage(exc):
                raise
            checks[name] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        body = {"error": {"code": "DEPENDENCY_UNAVAILABLE", "message": "服务暂时不可用，请稍后重试",
                          "details": {"checks": checks, "backends": backends}}}
        return json(body, status=503, ensure_ascii=False, headers={"Retry-After": "5"})
    answer: dict[str, object] = {"status": "ready", "checks": checks, "backends": backends}
    if (source := replica.current()) is not None:
        answer["replica"] = source.describe()
    return json(answer)


@bp.get("/metrics")
@endpoint(summary="Prometheus metrics (text exposition format)", tag="system", response=TEXT,
          operation_id="getMetrics")
async def metrics(request: Request) -> HTTPResponse:
    return raw(generate_latest(request.app.ctx.metrics.registry), content_type=CONTENT_TYPE_LATEST)


@bp.get("/api/v1/openapi.json")
async def openapi_document(request: Request) -> HTTPResponse:
    """The contract, built once per process from the routes' declarations."""
    document = getattr(request.app.ctx, "openapi_document", None)
    if document is None:
        document = request.app.ctx.openapi_document = build_document(request.app, **request.app.ctx.api_info)
    return json(document, ensure_ascii=False)


def install(app: Sanic) -> None:
    app.blueprint(bp)
