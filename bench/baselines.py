"""Baseline servers: what the same Sanic, one worker, does with nothing of the project in the way.

``python -m bench.baselines json --port P``: ``GET /json`` answers a small JSON document.
``python -m bench.baselines asyncpg --port P --dsn DSN``: ``GET /members/<id>`` runs one query through an
asyncpg pool (the size of the project's) and answers the row as JSON.

Both run in one process with the access log and the banner off, like ``python -m backend serve``.
"""

from __future__ import annotations

import argparse
import sys

import asyncpg
from sanic import Request as HttpRequest
from sanic import Sanic
from sanic.response import HTTPResponse, json

from bench import POOL_SIZE_DEFAULT, Request, Server, Target

MEMBER_QUERY = "SELECT id, member_no, nickname, gender, registered_at FROM members WHERE id = $1"


def json_target() -> Target:
    return Target("baseline:json", Server((sys.executable, "-m", "bench.baselines", "json", "--port", "{port}")),
                  Request("/json"), baseline=True)


def asyncpg_target(dsn: str, member_id: int, *, pool_size: int = POOL_SIZE_DEFAULT) -> Target:
    argv = (sys.executable, "-m", "bench.baselines", "asyncpg", "--port", "{port}", "--dsn", dsn,
            "--pool-size", str(pool_size))
    return Target("baseline:asyncpg", Server(argv), Request(f"/members/{member_id}"), baseline=True)


def _bare_app(name: str) -> Sanic:
    app = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.MOTD = False
    app.config.AUTO_EXTEND = False  # bare: sanic-ext is installed for the project, not attached here
    return app


def json_app() -> Sanic:
    app = _bare_app("bench_json")

    @app.get("/json")
    async def hello(request: HttpRequest) -> HTTPResponse:
        return json({"status": "ok", "service": "bench"})

    return app


def asyncpg_app(dsn: str, pool_size: int) -> Sanic:
    app = _bare_app("bench_asyncpg")

    @app.before_server_start
    async def connect(app: Sanic) -> None:
        app.ctx.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)

    @app.after_server_stop
    async def disconnect(app: Sanic) -> None:
        await app.ctx.pool.close()

    @app.get("/members/<member_id:int>")
    async def member(request: HttpRequest, member_id: int) -> HTTPResponse:
        row = await request.app.ctx.pool.fetchrow(MEMBER_QUERY, member_id)
        if row is None:
            return json({"error": "not found"}, status=404)
        return json({"id": row["id"], "member_no": row["member_no"], "nickname": row["nickname"],
                     "gender": row["gender"], "registered_at": row["registered_at"].isoformat()},
                    ensure_ascii=False)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["json", "asyncpg"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", help="PostgreSQL DSN (asyncpg)")
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE_DEFAULT)
    args = parser.parse_args(argv)
    if args.kind == "asyncpg" and not args.dsn:
        parser.error("asyncpg needs --dsn")
    app = json_app() if args.kind == "json" else asyncpg_app(args.dsn, args.pool_size)
    app.prepare(host=args.host, port=args.port, workers=1, access_log=False, motd=False, single_process=True)
    Sanic.serve_single(primary=app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
