"""Tortoise ORM configuration: PostgreSQL from DATABASE_URL, a SQLite file as the embedded default.

On PostgreSQL the schema comes only from aerich migrations (``python -m backend migrate``); on
SQLite the models generate it at start, since the migrations are written in PostgreSQL's dialect.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, connections

MODEL_MODULES = [
    "backend.stores.models",
    "backend.idempotency",
    "backend.members.models",
    "backend.loyalty.models",
    "backend.coupons.models",
]


def _with_pool(url: str, pool_size: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", "1")
    query.setdefault("maxsize", str(pool_size))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tortoise_config(database_url: str, *, pool_size: int | None = None) -> dict[str, Any]:
    if database_url.startswith("postgres"):
        url = _with_pool(database_url, pool_size or int(os.environ.get("DB_POOL_SIZE", "20")))
    else:
        url = database_url
    return {
        "connections": {"default": url},
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
