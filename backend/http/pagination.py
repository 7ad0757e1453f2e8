"""Keyset pagination: ``cursor`` and ``limit`` (≤ 100) in, ``{"items", "next_cursor"}`` out."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from sanic import Request
from tortoise.queryset import QuerySet

from backend.errors import field_errors

MAX_LIMIT = 100


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError):
        raise field_errors({"cursor": "无效的分页游标"}) from None


def _encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


async def page(request: Request, query: QuerySet, render: Callable[[Any], dict[str, Any]],
               default_limit: int = 20) -> dict[str, Any]:
    """Newest first, by primary key."""
    raw_limit = request.args.get("limit")
    try:
        limit = int(raw_limit) if raw_limit is not None else default_limit
    except ValueError:
        raise field_errors({"limit": "应为整数"}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise field_errors({"limit": f"应在 1 到 {MAX_LIMIT} 之间"})
    cursor = request.args.get("cursor")
    if cursor:
        query = query.filter(id__lt=_decode(cursor))
    rows = await query.order_by("-id").limit(limit + 1)
    items = [render(row) for row in rows[:limit]]
    return {"items": items, "next_cursor": _encode(rows[limit - 1].id) if len(rows) > limit else None}
