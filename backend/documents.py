"""Settings documents: one validated pydantic document in one row, cached per process for a few seconds.

The loyalty program, the notification policy and the tag thresholds are read on hot paths (every
order, every message batch) and changed rarely. Each process keeps the document for ``ttl_s``; a
change applies at once in the process that saved it and within ``ttl_s`` everywhere else. A fresh
install has no row: the default document applies until an admin saves one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from backend import clock, db

Doc = TypeVar("Doc", bound=BaseModel)


class RowDocument(Generic[Doc]):
    def __init__(self, model: type[Model], schema: type[Doc], default: Callable[[], Doc], *, row_id: int = 1,
                 ttl_s: float = 5.0) -> None:
        self._model = model
        self._schema = schema
        self._default = default
        self._row_id = row_id
        self._ttl_s = ttl_s
        self._sql = f"SELECT data FROM {model._meta.db_table} WHERE id = $1"
        self._cached: tuple[float, Doc] | None = None

    async def load(self, conn: BaseDBAsyncClient | None = None, *, fresh: bool = False) -> Doc:
        if not fresh and self._cached is not None and time.monotonic() < self._cached[0]:
            return self._cached[1]
        row = await db.fetch_one(self._sql, self._row_id, conn=conn)
        data = row["data"] if row else None
        if isinstance(data, str | bytes):
            data = json.loads(data)
        document = self._schema.model_validate(data) if data else self._default()
        self._cached = (time.monotonic() + self._ttl_s, document)
        return document

    def forget(self) -> None:
        """Drop this process's copy (tests that reset the database use it)."""
        self._cached = None

    async def save(self, document: Doc, conn: BaseDBAsyncClient | None = None) -> dict[str, Any]:
        """Write the document (the next load in this process reads it); the stored JSON."""
        data: dict[str, Any] = document.model_dump(mode="json")
        query = self._model.filter(id=self._row_id)
        updated = await (query.using_db(conn) if conn else query).update(data=data, updated_at=clock.now())
        if not updated:
            await self._model.create(id=self._row_id, data=data, updated_at=clock.now(), using_db=conn)
        self._cached = None
        return data
