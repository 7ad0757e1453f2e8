"""Tortoise ORM configuration: PostgreSQL from DATABASE_URL, a SQLite file as the embedded default.

On PostgreSQL the schema comes only from aerich migrations (``python -m backend migrate``); on
SQLite the models generate it at start, since the migrations are written in PostgreSQL's dialect.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url

MODEL_MODULES = [
    "backend.stores.models",
    "backend.idempotency",
    "backend.security.nonces",
    "backend.members.models",
    "backend.loyalty.models",
    "backend.coupons.models",
    "notifications.models",
    "jobs.models",
    "jobs.audience_models",
]


def _with_pool(url: str, pool_size: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", "1")
    query.setdefault("maxsize", str(pool_size))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _keep_session(connection: Any) -> None:
    """Pool release without ``RESET ALL``: the app keeps no session state (no SET outside a
    transaction, no LISTEN, no advisory locks), and asyncpg still rolls back an open transaction on
    release. Saves a round trip on every query that runs outside a transaction."""


def tortoise_config(database_url: str, *, pool_size: int | None = None) -> dict[str, Any]:
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("postgres"):
        connection = expand_db_url(_with_pool(database_url, pool_size or int(os.environ.get("DB_POOL_SIZE", "20"))))
        connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {"models": [*MODEL_MODULES, "aerich.models"], "default_connection": "default"},
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _default_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        url = "postgres" + url[len("postgresql") :]
    return url or f"sqlite://{os.environ.get('DATA_DIR') or './data'}/member.sqlite3"


# Read by aerich (pyproject's [tool.aerich]); the server builds its own from validated settings.
TORTOISE_ORM = tortoise_config(_default_url())


async def init_tortoise(config: dict[str, Any]) -> None:
    """Tortoise.init that is safe when the process already talked to another database.

    Tortoise caches each model's INSERT statement per connection name, in the dialect of the first
    database it saw; a process that switches databases (``migrate`` then ``serve``, the test suite's
    SQLite and PostgreSQL stacks) would reuse SQLite's ``?`` placeholders on PostgreSQL.
    """
    from tortoise.backends.base import executor

    executor.EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)


async def init_db(database_url: str, *, generate_sqlite_schema: bool = True) -> None:
    await init_tortoise(tortoise_config(database_url))
    if database_url.startswith("sqlite"):
        conn = connections.get("default")
        await conn.execute_script("PRAGMA busy_timeout = 5000;")
        if generate_sqlite_schema:
            await Tortoise.generate_schemas(safe=True)


async def close_db() -> None:
    await connections.close_all()


async def ping_db() -> None:
    await connections.get("default").execute_query("SELECT 1")


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


_PLACEHOLDER = re.compile(r"\$(\d+)")
_SQLITE_FORMS: dict[str, tuple[str, list[int]]] = {}


def _sqlite_form(sql: str) -> tuple[str, list[int]]:
    """``$n`` placeholders as SQLite's ``?``, with the argument order they need."""
    form = _SQLITE_FORMS.get(sql)
    if form is None:
        order = [int(n) - 1 for n in _PLACEHOLDER.findall(sql)]
        form = _SQLITE_FORMS[sql] = (_PLACEHOLDER.sub("?", sql), order)
    return form


async def fetch(sql: str, *args: Any, conn: BaseDBAsyncClient | None = None) -> list[dict[str, Any]]:
    """Rows of a fixed SQL string written with PostgreSQL's ``$n`` placeholders, on either database.

    For the hottest reads: a fixed string skips the query builder, which costs more than the query
    on a small lookup. Keep to SQL both databases speak; values come back as the driver gives them
    (``to_datetime`` reads SQLite's text timestamps).
    """
    conn = conn or connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        text, order = _sqlite_form(sql)
        return await conn.execute_query_dict(text, [_sqlite_value(args[i]) for i in order])
    return await conn.execute_query_dict(sql, list(args))


async def fetch_one(sql: str, *args: Any, conn: BaseDBAsyncClient | None = None) -> dict[str, Any] | None:
    rows = await fetch(sql, *args, conn=conn)
    return rows[0] if rows else None


def _sqlite_value(value: Any) -> Any:
    # Timestamps are stored as UTC text ("2026-11-26 01:40:14.808481+00:00"): compare like with like.
    return str(value.astimezone(UTC)) if isinstance(value, datetime) else value


def to_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def to_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Reader:
    """Several fixed-SQL reads on one pooled connection (one acquire and release instead of one per
    read); on SQLite, the shared connection."""

    def __init__(self, raw: Any = None) -> None:
        self._raw = raw

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self._raw is None:
            return await fetch(sql, *args)
        return [dict(row) for row in await self._raw.fetch(sql, *args)]

    async def fetch_one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None


@asynccontextmanager
async def reader() -> AsyncIterator[Reader]:
    client = connections.get("default")
    if client.capabilities.dialect == "sqlite":
        yield Reader()
        return
    async with client.acquire_connection() as raw:
        yield Reader(raw)
