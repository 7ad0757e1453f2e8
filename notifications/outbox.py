"""``enqueue``: the one way domain code asks for a message, written in the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from notifications import templates

_INSERT = (
    "INSERT INTO messages (member_id, template_key, purpose, channels, status, dedupe_key, touch_id, context, "
    "cap_behaviour, attempts, due_at, expires_at, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, 0, $9, $10, $11, $11) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")


async def enqueue(*, member_id: int, template_key: str, dedupe_key: str, conn: BaseDBAsyncClient | None,
                  context: dict[str, Any] | None = None, channels: list[str] | None = None,
                  touch_id: int | None = None, due_at: datetime | None = None, expires_at: datetime | None = None,
                  cap_behaviour: str = "drop") -> int | None:
    """Queue one message; the id of the new row, or None (template switched off, or the dedupe key is taken).

    ``dedupe_key`` names the message once: the same key again (a retried event, a second run of a
    touch for the same period) writes nothing. ``channels`` overrides the template's priority order.
    """
    template = await templates.get(template_key, conn)
    if template is None or not template["enabled"]:
        return None
    now = clock.now()
    row = await db.fetch_one(
        _INSERT, member_id, template_key, template["purpose"], json.dumps(channels or []), dedupe_key[:200],
        touch_id, json.dumps(context or {}, ensure_ascii=False, default=str), cap_behaviour, due_at or now,
        expires_at, now, conn=conn)
    return int(row["id"]) if row else None
