"""``create_app(settings) -> Sanic``: wires blueprints, listeners, middleware and error handling."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import time
import uuid

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from backend import db, replica, testclock
from backend.coupons import views as coupons
from backend.http import contract, system
from backend.http import errors as http_errors
from backend.kv import create_kv
from backend.logs import configure_logging, request_id_var
from backend.loyalty import views as loyalty
from backend.members.wechat import WeChatGateway
from backend.membership import service as membership
from backend.payments import service as payments
from backend.ratelimit import Limiter
from backend.security.pii import PiiCipher
from backend.settings import Settings
from jobs import segments
from notifications import rendering
from notifications.worker import build_dispatcher, close_channels

log = logging.getLogger("backend.app")
access_log = logging.getLogger("backend.access")
_app_numbers = itertools.count(1)

API_DESCRIPTION = (
    "全渠道会员一体化 API. Money is integer cents (`*_cents`), points are integers, times are ISO 8601 "
    "with offset. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`; every code is listed in "
    "the `ErrorCode` schema and per operation under `x-error-codes`."
)


def _register_blueprints(app: Sanic) -> None:
    # Imported here so each domain's HTTP layer registers its routes (and error codes) once.
    from backend.http import (
        console,
        console_analytics,
        console_app_keys,
        console_audience,
        console_campaigns,
        console_coupons,
        console_exports,
        console_imports,
        console_jobs,
        console_loyalty,
        console_members,
        console_membership,
        console_payments,
        console_privacy,
        console_staff,
        console_testclock,
        console_webhooks,
        integrations,
        staff,
        store,
    )
    from backend.http import notifications as notification_routes
    from backend.web import pages
    from miniprogram_api import coupons as mp_coupons
    from miniprogram_api import engagement as mp_engagement
    from miniprogram_api import membership as mp_membership
    from miniprogram_api import payments as mp_payments
    from miniprogram_api import routes as mp

    system.install(app)
    for blueprint in (staff.bp, mp.bp, mp_coupons.bp, store.bp, console.bp, console_loyalty.bp, console_coupons.bp,
                      integrations.bp, notification_routes.bp, notification_routes.callbacks,
                      notification_routes.unsubscribe, console_jobs.bp, console_audience.bp, pages.bp, pages.docs,
                      pages.console):
        app.blueprint(blueprint)
    app.blueprint(console_app_keys.bp)
    app.blueprint(console_testclock.bp)
    app.blueprint(console_privacy.bp)
    app.blueprint(console_members.bp)
    app.blueprint(console_staff.bp)
    app.blueprint(mp_engagement.bp)
    app.blueprint(console_campaigns.bp)
    app.blueprint(console_webhooks.bp)
    app.blueprint(console_imports.bp)
    app.blueprint(console_exports.bp)
    app.blueprint(mp_payments.bp)
    app.blueprint(mp_payments.callbacks)
    app.blueprint(console_payments.bp)
    app.blueprint(console_membership.bp)
    app.blueprint(mp_membership.bp)
    app.blueprint(console_analytics.bp)


def create_app(settings: Settings, *, name: str | None = None, configure_logs: bool = True) -> Sanic:
    if configure_logs:
        configure_logging(settings.log_level, json_format=settings.log_json)
    app = Sanic(name or f"member_platform_{next(_app_numbers)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.ACCESS_LOG = False
    app.config.MOTD = False
    app.config.AUTO_EXTEND = False  # the contract and /api/docs are ours (backend.http.contract, web.pages)
    app.ctx.settings = settings
    app.ctx.pii = PiiCipher(settings.pii_key)
    app.ctx.metrics = system.Metrics()
    app.ctx.access_log = settings.log_level == "DEBUG" or settings.app_env != "test"
    app.ctx.api_info = {"title": "Member platform API", "version": "1.0.0", "description": API_DESCRIPTION}
    # /api/v1/openapi.json is the contract, generated from what each route declared (backend.http.docs);
    # path segments are typed so an id out of its column's range matches no route (404).
    contract.install_path_types(app)

    http_errors.install(app)
    loyalty.install(settings.timezone)
    rendering.configure(settings)
    coupons.install(settings.timezone)
    membership.install(settings.timezone)
    segments.install()
    _register_blueprints(app)

    @app.before_server_start
    async def start(app: Sanic) -> None:
        app.ctx.kv = create_kv(settings.redis_url, settings.redis_prefix)
        app.ctx.limiter = Limiter(app.ctx.kv)
        app.ctx.wechat = WeChatGateway(settings, app.ctx.kv)
        await db.init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
        await replica.start(settings.database_replica_url, max_lag_s=settings.replica_max_lag_s, kv=app.ctx.kv)
        await testclock.start(settings)
        payments.start(settings)
        app.ctx.dispatcher = build_dispatcher(settings, app.ctx.kv, app.ctx.wechat, app.ctx.pii)
        app.ctx.worker_stop = asyncio.Event()
        if settings.worker_in_app:
            # The embedded default: one process also delivers the messages it queues.
            app.add_task(app.ctx.dispatcher.run(app.ctx.worker_stop, loops=1), name="notification_worker")
        from backend.webhooks.delivery import WebhookWorker

        app.ctx.webhooks = WebhookWorker(settings, pii=app.ctx.pii)
        if settings.worker_in_app:
            app.add_task(app.ctx.webhooks.run(app.ctx.worker_stop), name="webhook_worker")
        app.ctx.scheduler = None
        if settings.scheduler_in_app:
            # ... and runs the lifecycle programs, touches and purges (each run guarded, as in `scheduler`).
            from jobs.scheduler import Host

            app.ctx.scheduler = Host(settings, app.ctx.kv)
            await app.ctx.scheduler.start()
        # What start-up made (modules, models, schemas, the route table) lives as long as the process: out of
        # the collector's sight, a full collection no longer walks it (one took 72 ms, a p99 spike, under load).
        gc.collect()
        gc.freeze()
        log.info("started", extra={"database": "sqlite" if settings.uses_sqlite else "postgres",
                                   "kv": "redis" if settings.uses_redis else "memory",
                                   "scheduler_in_app": settings.scheduler_in_app})

    @app.after_server_stop
    async def stop(app: Sanic) -> None:
        if app.ctx.scheduler is not None:
            app.ctx.scheduler.stop()
        app.ctx.worker_stop.set()
        if settings.worker_in_app:
            await app.cancel_task("notification_worker", raise_exception=False)
            await app.cancel_task("webhook_worker", raise_exception=False)
        await app.ctx.webhooks.close()
        await close_channels(app.ctx.dispatcher)
        await app.ctx.wechat.close()
        await app.ctx.kv.close()
        await testclock.stop()
        await payments.stop()
        await replica.stop()
        await db.close_db()

    # Unique across processes (a random prefix per process) without a random draw per request.
    request_ids = (f"{uuid.uuid4().hex[:16]}{n:016x}" for n in itertools.count(1))

    @app.on_request(priority=100)
    async def begin(request: Request) -> None:
        request.ctx.started = time.perf_counter()
        incoming = request.headers.get("x-request-id", "")
        request.ctx.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else next(request_ids)
        request_id_var.set(request.ctx.request_id)

    @app.on_response(priority=100)
    async def finish(request: Request, response: HTTPResponse) -> HTTPResponse | None:
        original = response
        if settings.contract_check:
            response = contract.check_response(request, response)
        response.headers["X-Request-ID"] = getattr(request.ctx, "request_id", "")
        request.app.ctx.metrics.observe(request, response.status)
        if request.app.ctx.access_log:
            started = getattr(request.ctx, "started", None)
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
            access_log.info("%s %s %s", request.method, request.path, response.status,
                            extra={"status": response.status, "ms": elapsed_ms})
        return None if response is original else response

    return app
