"""``python -m backend COMMAND``: serve, worker, migrate, create-store, create-staff, create-app-key, seed-demo,
import-members, run-import, export, analytics-rebuild."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backend.settings import Settings, SettingsError, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class CliError(Exception):
    pass


def app_factory() -> Any:
    """Picklable factory for Sanic's worker processes: each builds the app from the environment."""
    from backend import serving
    from backend.app import create_app

    app = create_app(load_settings(), name="member_platform")
    parent = serving.parent_if_worker()
    if parent is not None:
        serving.die_with_parent(app, parent)
    return app


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    if args.workers > 1 and not settings.uses_redis:
        raise CliError(
            f"--workers {args.workers} needs a shared store: set REDIS_URL (redis://host:6379/0). "
            "The in-process store holds single-use codes and rate limits per process, so several "
            "workers without Redis would accept a replayed code. Use --workers 1 or configure Redis."
        )
    if args.workers > 1 and settings.uses_sqlite:
        raise CliError(f"--workers {args.workers} needs PostgreSQL: SQLite allows one writer process. "
                       "Set DATABASE_URL=postgres://... or use --workers 1.")
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from backend import serving

    serving.wait_for_port(args.host, args.port)
    loader = AppLoader(factory=app_factory)
    app = loader.load()
    if args.workers > 1:
        serving.prepare_main(app)
    app.prepare(host=args.host, port=args.port, workers=args.workers, access_log=False, motd=False,
                single_process=args.workers == 1)
    Sanic.serve(primary=app, app_loader=loader) if args.workers > 1 else Sanic.serve_single(primary=app)
    return 0


async def migrate(settings: Settings) -> list[str]:
    """Bring the schema up to date: aerich migrations on PostgreSQL, generated schema on SQLite."""
    from tortoise import Tortoise

    from backend.db import close_db, init_db, init_tortoise, tortoise_config

    if settings.uses_sqlite:
        await init_db(settings.database_url, generate_sqlite_schema=True)
        await close_db()
        return ["sqlite schema generated from models"]
    from aerich import Command

    config = tortoise_config(settings.database_url, pool_size=2)
    command = Command(tortoise_config=config, app="models", location=str(MIGRATIONS_DIR))
    # aerich keeps an earlier Tortoise.init of this process (another database); start from this one.
    await init_tortoise(config)
    await command.init()
    try:
        applied = await command.upgrade(run_in_transaction=True)
    finally:
        await Tortoise.close_connections()
    return list(applied or [])


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = asyncio.run(migrate(settings))
    print("\n".join(f"applied {name}" for name in applied) if applied else "schema is up to date")
    return 0


async def _with_db(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    from backend import testclock
    from backend.db import close_db, init_db

    await init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
    await testclock.start(settings)
    try:
        return await work()
    finally:
        await close_db()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("passwords do not match")
    else:
        raise CliError("give the password on standard input with --password-stdin")
    return password


def cmd_create_store(args: argparse.Namespace, settings: Settings) -> int:
    from backend.stores import service

    store = asyncio.run(_with_db(settings, lambda: service.create_store(code=args.code, name=args.name)))
    print(json.dumps({"id": store.id, "code": store.code, "name": store.name}, ensure_ascii=False))
    return 0


def cmd_create_staff(args: argparse.Namespace, settings: Settings) -> int:
    from backend.stores import service

    password = _read_password(args)
    staff = asyncio.run(_with_db(settings, lambda: service.create_staff(
        username=args.username, password=password, role=args.role, store_code=args.store)))
    print(json.dumps({"id": staff.id, "username": staff.username, "role": staff.role, "store": args.store}))
    return 0


def cmd_create_app_key(args: argparse.Namespace, settings: Settings) -> int:
    from backend.security.pii import PiiCipher
    from backend.stores import service

    created = asyncio.run(_with_db(settings, lambda: service.create_app_key(
        name=args.name, pii=PiiCipher(settings.pii_key))))
    print(json.dumps({"name": created.key.name, "app_key": created.key.key_id, "secret": created.secret}))
    print("store the secret now: it is not shown again", file=sys.stderr)
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from backend.demo import seed_demo

    summary = asyncio.run(_with_db(settings, lambda: seed_demo(settings)))
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def cmd_expire_points(args: argparse.Namespace, settings: Settings) -> int:
    from backend.loyalty.orders import expire_due_points

    print(json.dumps(asyncio.run(_with_db(settings, expire_due_points))))
    return 0


def cmd_review_tiers(args: argparse.Namespace, settings: Settings) -> int:
    from backend.loyalty import program, tiers

    async def work() -> dict[str, int]:
        return await tiers.review(await program.load())

    print(json.dumps(asyncio.run(_with_db(settings, work))))
    return 0


def cmd_rebuild_order_stats(args: argparse.Namespace, settings: Settings) -> int:
    from backend.loyalty import order_stats

    print(json.dumps({"members": asyncio.run(_with_db(settings, order_stats.rebuild))}))
    return 0


def cmd_expire_coupons(args: argparse.Namespace, settings: Settings) -> int:
    from backend.coupons.service import expire_due_coupons

    print(json.dumps({"coupons": asyncio.run(_with_db(settings, expire_due_coupons))}))
    return 0


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f} 元"


async def _check_import(args: argparse.Namespace, settings: Settings, name: str, content: bytes) -> tuple[int, int]:
    """The dry run, printed: (import id, invalid rows)."""
    from backend import audit
    from backend.imports import service
    from backend.security.pii import PiiCipher

    imp = await service.create(filename=name, content=content, actor=audit.Actor("system", "cli"),
                               pii=PiiCipher(settings.pii_key), tz=settings.tz,
                               options=service.Options(channel=args.channel, skip_invalid=args.skip_invalid))
    totals = imp.totals
    print(f"导入 #{imp.id} {imp.filename}: {imp.rows_total} 行, 通过 {imp.rows_valid}, 有误 {imp.rows_invalid}")
    print(f"新会员 {totals['create']}, 并入已有会员 {totals['join']}, 积分 {totals['points']:,}, "
          f"储值本金 {_money(totals['principal_cents'])}, 赠送 {_money(totals['bonus_cents'])}")
    for problem in await service.problems(imp.id, limit=args.show_errors):
        print(f"  第 {problem['row_no']} 行 {problem['column']}: {problem['reason']}")
    return imp.id, imp.rows_invalid


async def _run_import(import_id: int, settings: Settings, skip_invalid: bool | None) -> int:
    """Start (or resume) the run with a progress bar; 0 when every row was written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from backend import audit
    from backend.imports import service
    from backend.kv import create_kv
    from backend.security.pii import PiiCipher

    imp = await service.start(import_id=import_id, actor=audit.Actor("system", "cli"), skip_invalid=skip_invalid)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    last_row = await service.last_row_no(import_id)
    with Progress(*columns) as progress:
        task = progress.add_task(f"导入 #{import_id}", total=last_row, completed=imp.cursor)
        result = await service.run(import_id=import_id, pii=PiiCipher(settings.pii_key), tz=settings.tz,
                                   kv=create_kv(settings.redis_url, settings.redis_prefix),
                                   lease_s=settings.job_lease_s,
                                   on_progress=lambda last, counts: progress.update(task, completed=last))
    done = await service.get(import_id)
    print(f"{done.status}: {json.dumps(done.counts, ensure_ascii=False)}")
    if result["outcome"] not in ("done", "resumed", "already_done"):
        print(f"run {result['outcome']}: {result.get('error', '')}", file=sys.stderr)
        return 1
    return 0


def cmd_import_members(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    import_id, invalid = asyncio.run(_with_db(settings, lambda: _check_import(args, settings, path.name,
                                                                              path.read_bytes())))
    if args.dry_run:
        print(f"dry run: nothing imported. `python -m backend run-import {import_id}` (or the console) runs it.")
        return 1 if invalid else 0
    if not args.yes and sys.stdin.isatty() and input("import now? [y/N] ").strip().lower() not in ("y", "yes"):
        return 0
    return asyncio.run(_with_db(settings, lambda: _run_import(import_id, settings, args.skip_invalid or None)))


def cmd_run_import(args: argparse.Namespace, settings: Settings) -> int:
    """Run (or resume) an import a dry run created."""
    return asyncio.run(_with_db(settings, lambda: _run_import(args.import_id, settings, args.skip_invalid or None)))


def _day(text: str | None) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{text!r}: a date is YYYY-MM-DD") from None


def cmd_analytics_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from backend.analytics import build

    first, last = _day(args.from_), _day(args.to)
    if first > last:
        raise CliError("--from must not be after --to")
    if args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    print(json.dumps(asyncio.run(_with_db(settings, lambda: build.rebuild_range(first=first, last=last,
                                                                                tz=settings.tz, jobs=args.jobs)))))
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """One export into ``--out``, audited as the CLI (``system:cli``): the HTTP route's files."""
    from backend import audit
    from backend.exports import assets, coupons, members, service
    from backend.security.pii import PiiCipher

    tz = settings.tz
    if args.what == "members":
        export = await members.export(pii=args.pii, status=args.status or "active", store_id=None, tag_id=None,
                                      cipher=PiiCipher(settings.pii_key), period=service.today(tz).isoformat())
    elif args.what == "balances":
        export = assets.balances(at=_day(args.at), tz=tz)
    elif args.what == "ledgers":
        if not (args.kind and args.from_ and args.to):
            raise CliError("ledgers need --kind points|wallet, --from and --to (YYYY-MM-DD)")
        export = assets.ledger(kind=args.kind, first=_day(args.from_), last=_day(args.to), tz=tz)
    else:
        export = coupons.export(status=args.status, template_id=args.template_id,
                                period=service.today(tz).isoformat())
    entry = await service.begin(export=export, fmt=args.format, actor=audit.Actor("system", "cli"))
    await service.write_file(export, args.format, args.out, tz)
    await service.finish(entry=entry, export=export)
    return {"file": str(args.out), "rows": export.rows}


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from backend.exports import coupons, members

    statuses = {"members": (*members.STATUSES, "all"), "coupons": coupons.STATUSES}.get(args.what, ())
    if args.status is not None and args.status not in statuses:
        raise CliError(f"--status for {args.what}: one of {', '.join(statuses) or '(none)'}")
    print(json.dumps(asyncio.run(_with_db(settings, lambda: _export(args, settings))), ensure_ascii=False))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from backend.logs import configure_logging
    from notifications.worker import run_worker

    if args.batch < 1 or args.loops < 1:
        raise CliError("--batch and --loops must be at least 1")
    configure_logging(settings.log_level, json_format=settings.log_json)
    handled, webhooks = asyncio.run(_work(settings, args, run_worker))
    if args.once:
        print(json.dumps({"messages": handled, "webhooks": webhooks}))
    return 0


async def _work(settings: Settings, args: argparse.Namespace, run_worker: Any) -> tuple[int, int]:
    """The message dispatcher and, beside it on the same database, the webhook deliveries."""
    from tortoise import Tortoise

    from backend import db
    from backend.webhooks.delivery import run_webhook_worker

    if args.once:
        handled = await run_worker(settings, once=True, batch_size=args.batch, loops=args.loops)
        await db.init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
        try:
            return handled, await run_webhook_worker(settings, asyncio.Event(), once=True)
        finally:
            await db.close_db()
    stop = asyncio.Event()

    async def webhooks() -> None:
        while not Tortoise._inited:  # noqa: ASYNC110 - run_worker opens the database; nothing to wait on
            await asyncio.sleep(0.05)
        await run_webhook_worker(settings, stop)

    task = asyncio.create_task(webhooks())
    try:
        # Until SIGTERM: a delivery in flight then is taken again by another worker after its lease.
        return await run_worker(settings, once=False, batch_size=args.batch, loops=args.loops), 0
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from backend.logs import configure_logging
    from jobs.scheduler import run_scheduler

    configure_logging(settings.log_level, json_format=settings.log_json)
    asyncio.run(run_scheduler(settings))
    return 0


def cmd_run_job(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.scheduler import run_one

    try:
        result = asyncio.run(run_one(settings, args.job))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0 if result.get("outcome") not in ("failed",) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="全渠道会员一体化 member platform")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    store = sub.add_parser("create-store", help="create a store")
    store.add_argument("--code", required=True)
    store.add_argument("--name", required=True)
    store.set_defaults(func=cmd_create_store)
    staff = sub.add_parser("create-staff", help="create a staff account")
    staff.add_argument("--username", required=True)
    staff.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    staff.add_argument("--role", required=True, choices=["admin", "marketer", "clerk"])
    staff.add_argument("--store", help="store code (required for clerks)")
    staff.set_defaults(func=cmd_create_staff)
    key = sub.add_parser("create-app-key", help="create an integration app key and secret")
    key.add_argument("--name", required=True)
    key.set_defaults(func=cmd_create_app_key)
    sub.add_parser("seed-demo", help="a store, staff of each role and members with history").set_defaults(
        func=cmd_seed_demo)
    sub.add_parser("expire-points", help="expire the points lots that are due (safe to run again)").set_defaults(
        func=cmd_expire_points)
    sub.add_parser("expire-coupons", help="mark coupons past their validity expired (safe to run again)").set_defaults(
        func=cmd_expire_coupons)
    sub.add_parser("review-tiers", help="lower tiers no longer qualified after their retention").set_defaults(
        func=cmd_review_tiers)
    sub.add_parser("rebuild-order-stats", help="recompute every member's order figures from the orders (a repair; "
                   "safe to run while orders come in)").set_defaults(func=cmd_rebuild_order_stats)
    worker = sub.add_parser("worker", help="deliver queued messages (SMS, email, WeChat) until stopped")
    worker.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    worker.add_argument("--batch", type=int, default=100, help="messages claimed at a time")
    worker.add_argument("--loops", type=int, default=2, help="batches in flight in this process")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="run lifecycle programs and touches on their schedules until stopped"
                   ).set_defaults(func=cmd_scheduler)
    imports = sub.add_parser("import-members", help="import members and their balances from CSV, XLSX or JSON Lines")
    imports.add_argument("file", help="the file (.csv in UTF-8 or GBK, .xlsx, .jsonl); columns: see README")
    imports.add_argument("--dry-run", action="store_true", help="check every row and print the totals; import nothing")
    imports.add_argument("--yes", action="store_true", help="do not ask before importing")
    imports.add_argument("--skip-invalid", action="store_true", help="import the valid rows of a file with errors")
    imports.add_argument("--channel", default="pos", help="the members' registration channel (default pos)")
    imports.add_argument("--show-errors", type=int, default=20, help="problems to print (default 20)")
    imports.set_defaults(func=cmd_import_members)
    run_import = sub.add_parser("run-import", help="run or resume an import the dry run (or the console) created")
    run_import.add_argument("import_id", type=int)
    run_import.add_argument("--skip-invalid", action="store_true")
    run_import.set_defaults(func=cmd_run_import)
    export = sub.add_parser("export", help="export members, balances, ledgers or coupons to CSV or XLSX (audited)")
    export.add_argument("what", choices=["members", "balances", "ledgers", "coupons"])
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--pii", action="store_true", help="members: with phone, name, birthday, email")
    export.add_argument("--status", help="members: active (default), merged, deleted, all; coupons: "
                                         "available, redeemed, expired")
    export.add_argument("--template-id", type=int, help="coupons of one template")
    export.add_argument("--at", help="balances: at the end of this day, YYYY-MM-DD (default: now)")
    export.add_argument("--kind", choices=["points", "wallet"], help="ledgers: which ledger")
    export.add_argument("--from", dest="from_", help="ledgers: first day, YYYY-MM-DD")
    export.add_argument("--to", help="ledgers: last day, YYYY-MM-DD")
    export.set_defaults(func=cmd_export)
    rebuild = sub.add_parser("analytics-rebuild", help="recompute the daily analytics of closed merchant days "
                             "(idempotent; today is always read live)")
    rebuild.add_argument("--from", dest="from_", required=True, help="first day, YYYY-MM-DD")
    rebuild.add_argument("--to", required=True, help="last day, YYYY-MM-DD (days from today on are skipped)")
    rebuild.add_argument("--jobs", type=int, default=1, help="days rebuilt at once on PostgreSQL, each in its own "
                         "transaction (default 1; the database's cores are a good number; SQLite: one at a time)")
    rebuild.set_defaults(func=cmd_analytics_rebuild)
    run_job = sub.add_parser("run-job", help="run one job now, under the same once-per-period guard")
    run_job.add_argument("job", help="program:KEY (e.g. program:birthday), touch:ID or maintenance:purge")
    run_job.set_defaults(func=cmd_run_job)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from backend.errors import DomainError
    from backend.logs import configure_logging

    try:
        settings = load_settings()
        configure_logging(settings.log_level, json_format=settings.log_json)
        return args.func(args, settings)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        detail = f" {json.dumps(exc.details, ensure_ascii=False)}" if exc.details else ""
        print(f"error: {exc.code}: {exc.message}{detail}", file=sys.stderr)
        return 1
