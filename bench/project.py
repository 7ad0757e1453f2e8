"""The project under load: a fresh PostgreSQL database, Redis under its own prefix, the real CLI server.

``Project.open()`` creates ``mp_bench_<random>`` on the admin DSN, applies the aerich migrations, wires
the services as ``create_app`` does and connects the ORM, so a benchmark can seed through them; on the way out (also
after a failure or Ctrl-C) it disconnects, drops the database and deletes the Redis keys of the run.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.settings import Settings, load_settings
from bench import POOL_SIZE_DEFAULT, Request, Server, Target

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def profile_path(profile_dir: Path, name: str) -> Path:
    return profile_dir / (re.sub(r"[^\w.-]", "_", name) + ".prof")


def _database_dsn(admin_dsn: str, database: str) -> str:
    base, _, _ = admin_dsn.rpartition("/")
    return f"{base}/{database}"


class Project:
    """Settings and environment of one benchmark run's project server."""

    def __init__(self, *, database: str, dsn: str, env: dict[str, str], settings: Settings,
                 profile_dir: Path | None = None) -> None:
        self.database = database
        self.dsn = dsn
        self.env = env
        self.settings = settings
        self.profile_dir = profile_dir

    @classmethod
    @asynccontextmanager
    async def open(cls, *, data_dir: Path, profile_dir: Path | None = None) -> AsyncIterator[Project]:
        from backend.app import create_app
        from backend.cli import migrate
        from backend.db import close_db, init_db

        database = f"mp_bench_{uuid.uuid4().hex[:10]}"
        dsn = _database_dsn(ADMIN_DSN, database)
        prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        env = {
            "APP_ENV": "production",
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": dsn,
            "DB_POOL_SIZE": str(POOL_SIZE_DEFAULT),
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "LOG_LEVEL": "WARNING",
            "MEMBER_TOKEN_TTL_S": str(24 * 3600),  # outlives any run
            "STAFF_TOKEN_TTL_S": str(24 * 3600),
        }
        settings = load_settings(env)
        admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
        try:
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        try:
            await migrate(settings)
            # Building the app (not serving it) wires the services as in the server, e.g. the hooks that
            # grant loyalty points on registration, so seeding through them has the server's effects.
            create_app(settings, name=f"bench_seed_{database}", configure_logs=False)
            await init_db(settings.database_url, generate_sqlite_schema=False)
            try:
                yield cls(database=database, dsn=dsn, env=env, settings=settings, profile_dir=profile_dir)
            finally:
                await close_db()
        finally:
            await _drop_database(database)
            await _clear_redis(prefix)

    async def disconnect(self) -> None:
        """Close the ORM pool once seeding is done, so the harness holds no connections during load."""
        from backend.db import close_db

        await close_db()

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """The ORM connected again, after ``disconnect``: seeding between the phases of a run (a refill)."""
        from backend.db import close_db, init_db

        await init_db(self.settings.database_url, generate_sqlite_schema=False)
        try:
            yield
        finally:
            await close_db()

    def server(self, name: str, *, workers: int = 1) -> Server:
        if self.profile_dir is not None:
            return Server((sys.executable, "-m", "bench.profiled", "--out", str(profile_path(self.profile_dir, name)),
                           "--host", "127.0.0.1", "--port", "{port}"), env=self.env)
        return Server((sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", "{port}",
                       "--workers", str(workers)), env=self.env)

    def target(self, name: str, request: Request) -> Target:
        """``request`` against the project's server: ``python -m backend serve --workers 1``."""
        return Target(name, self.server(name), request)


async def _drop_database(database: str) -> None:
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)


async def _clear_redis(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
    except (OSError, RedisError) as exc:
        print(f"warning: could not delete Redis keys {prefix}*: {exc}", file=sys.stderr)
    finally:
        await client.aclose()
