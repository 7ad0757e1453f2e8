"""Keyset pagination: ``cursor`` and ``limit`` (≤ 100) in, ``{"items", "next_cursor"}`` out.

A list route declares ``query=PageQuery`` (or a subclass with its filters) and a response model made
with ``Page[Item]``; ``page`` reads the query through that declaration.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sanic import Request
from tortoise.queryset import QuerySet

from backend.errors import field_errors
from backend.http.docs import Out, operation_of
from backend.http.validation import INT64_MAX, parse_query

MAX_LIMIT = 100
T = TypeVar("T")


class PageQuery(BaseModel):
    cursor: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9_\-]*$",
                               description="`next_cursor` of the previous page (absent or empty: the first page)")
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="items per page")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None


def _decode(cursor: str) -> int:
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode("ascii"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise field_errors({"cursor": "无效的分页游标"}) from None
    if not 0 < value <= INT64_MAX:
        raise field_errors({"cursor": "无效的分页游标"})
    return value


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def page_params(request: Request) -> PageQuery:
    """The route's declared page query, parsed (a route that pages must declare one)."""
    op = operation_of(request.route.handler) if request.route else None
    model = op.query if op else None
    if model is None or not issubclass(model, PageQuery):
        raise RuntimeError(f"{request.path}: a paged route must declare query=PageQuery (or a subclass)")
    return parse_query(request, model)


async def page(request: Request, query: QuerySet, render: Callable[[Any], dict[str, Any]],
               params: PageQuery | None = None) -> dict[str, Any]:
    """Newest first, by primary key."""
    params = params or page_params(request)
    if params.cursor:
        query = query.filter(id__lt=_decode(params.cursor))
    rows = await query.order_by("-id").limit(params.limit + 1)
    items = [render(row) for row in rows[:params.limit]]
    return {"items": items,
            "next_cursor": encode_cursor(rows[params.limit - 1].id) if len(rows) > params.limit else None}
