"""Appending to the member timeline, always on the caller's transaction connection."""

from __future__ import annotations

import json
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from backend.members.models import MemberEvent


async def append(*, member_id: int, type: str, payload: dict[str, Any] | None = None, channel: str | None = None,
                 store_id: int | None = None, using_db: BaseDBAsyncClient | None = None) -> MemberEvent:
    """One timeline row; pass the transaction's connection so it commits with the change."""
    return await MemberEvent.create(member_id=member_id, type=type, payload=payload or {}, channel=channel,
                                    store_id=store_id, created_at=clock.now(), using_db=using_db)


async def append_many(rows: list[tuple[int, dict[str, Any]]], *, type: str, channel: str | None = None,
                      using_db: BaseDBAsyncClient | None = None) -> None:
    """Many timeline rows of one type in one statement (bulk issues reaching thousands of members)."""
    if not rows:
        return
    now = clock.now()
    if db.is_postgres():
        await db.fetch(
            "INSERT INTO member_events (member_id, type, channel, payload, created_at) "
            "SELECT u.member_id, $1, $2, CAST(u.payload AS jsonb), $3 FROM unnest($4::bigint[], $5::text[]) "
            "AS u(member_id, payload)", type, channel, now, [member_id for member_id, _ in rows],
            [json.dumps(payload, ensure_ascii=False) for _, payload in rows], conn=using_db)
        return
    await MemberEvent.bulk_create([MemberEvent(member_id=member_id, type=type, payload=payload, channel=channel,
                                               created_at=now) for member_id, payload in rows],
                                  batch_size=5000, using_db=using_db)
