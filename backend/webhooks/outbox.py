"""Writing public events into the outbox, on the caller's transaction connection.

``members.events.append`` calls ``record`` for every timeline row. With no endpoint subscribed to what
the row stands for, that is one look-up in a per-process cache of the subscriptions (refreshed every
CACHE_TTL_S; changes made in this process refresh it at once). Otherwise the event row and one
delivery row per subscribed, enabled endpoint commit or roll back with the change.

Delivery never reads the member timeline by an id cursor: on PostgreSQL a lower id can commit after a
higher one, and a cursor would skip it. Deliveries are rows with a status instead.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from backend.webhooks import catalog

CACHE_TTL_S = 5.0


@dataclass
class Subscriptions:
    by_type: dict[str, tuple[int, ...]] = field(default_factory=dict)  # public type -> endpoint ids
    expires: float = 0.0

    def endpoints(self, public: str) -> tuple[int, ...]:
        return self.by_type.get(public, ())


_subs = Subscriptions()
_PRODUCES = {internal: catalog.produces(internal) for internal in catalog.MAPPERS}


def forget() -> None:
    """Drop the cached subscriptions (after a change here; tests between cases)."""
    _subs.expires = 0.0


async def subscriptions(conn: BaseDBAsyncClient | None = None) -> Subscriptions:
    """The enabled endpoints per public type, cached for CACHE_TTL_S."""
    if time.monotonic() < _subs.expires:
        return _subs
    rows = await db.fetch("SELECT id, event_types FROM webhook_endpoints WHERE enabled = $1", True, conn=conn)
    by_type: dict[str, list[int]] = {}
    for row in rows:
        types = row["event_types"]
        types = json.loads(types) if isinstance(types, str | bytes) else (types or [])
        for public in (types or catalog.EVENT_TYPES):
            by_type.setdefault(public, []).append(int(row["id"]))
    _subs.by_type = {public: tuple(ids) for public, ids in by_type.items()}
    _subs.expires = time.monotonic() + CACHE_TTL_S
    return _subs


async def wanted(internal: str, conn: BaseDBAsyncClient | None = None) -> bool:
    """Whether an enabled endpoint subscribes to what timeline rows of type ``internal`` stand for."""
    produced = _PRODUCES.get(internal)
    if not produced:
        return False
    subs = await subscriptions(conn)
    return any(subs.by_type.get(public) for public in produced)


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


async def record(*, internal: str, rows: list[tuple[int, dict[str, Any]]], channel: str | None = None,
                 store_id: int | None = None, using_db: BaseDBAsyncClient | None = None) -> int:
    """Outbox rows for timeline rows of type ``internal`` (member id, payload); the events written."""
    wanted = _PRODUCES.get(internal)
    if not wanted:
        return 0
    subs = await subscriptions(using_db)
    if not any(subs.by_type.get(public) for public in wanted):
        return 0
    items: list[tuple[str, int | None, dict[str, Any], tuple[int, ...]]] = []
    for member_id, payload in rows:
        for public, data in catalog.public_events(internal, payload or {}, member_id=member_id, channel=channel,
                                                  store_id=store_id):
            endpoints = subs.endpoints(public)
            if endpoints:
                items.append((public, member_id, data, endpoints))
    if items:
        await write(items, using_db=using_db)
    return len(items)


async def write(items: list[tuple[str, int | None, dict[str, Any], tuple[int, ...]]], *,
                using_db: BaseDBAsyncClient | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Event rows and their deliveries to those of the named endpoints still enabled; the event rows."""
    now = now or clock.now()
    ids = [new_event_id() for _ in items]
    if db.is_postgres():
        events = await db.fetch(
            "INSERT INTO webhook_events (event_id, type, occurred_at, member_id, data) "
            "SELECT u.event_id, u.type, $1, u.member_id, CAST(u.data AS jsonb) "
            "FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS u(event_id, type, member_id, data) "
            "RETURNING id, event_id, member_id", now, ids, [item[0] for item in items],
            [item[1] for item in items], [json.dumps(item[2], ensure_ascii=False, default=str) for item in items],
            conn=using_db)
        pk_of = {row["event_id"]: int(row["id"]) for row in events}
        pairs = [(endpoint, pk_of[event_id], item[1]) for event_id, item in zip(ids, items, strict=True)
                 for endpoint in item[3]]
        await db.fetch(
            "INSERT INTO webhook_deliveries (endpoint_id, event_pk, member_id, status, attempts, next_attempt_at, "
            "created_at, updated_at) SELECT u.endpoint_id, u.event_pk, u.member_id, 'pending', 0, $1, $1, $1 "
            "FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS u(endpoint_id, event_pk, member_id) "
            "JOIN webhook_endpoints w ON w.id = u.endpoint_id AND w.enabled ORDER BY u.event_pk",
            now, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs], conn=using_db)
        return events
    events = []
    for event_id, (public, member_id, data, endpoints) in zip(ids, items, strict=True):
        row = await db.fetch_one(
            "INSERT INTO webhook_events (event_id, type, occurred_at, member_id, data) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id, event_id, member_id", event_id, public, now, member_id,
            json.dumps(data, ensure_ascii=False, default=str), conn=using_db)
        assert row is not None
        events.append(row)
        marks = ", ".join(f"${n}" for n in range(4, 4 + len(endpoints)))
        await db.fetch(
            "INSERT INTO webhook_deliveries (endpoint_id, event_pk, member_id, status, attempts, next_attempt_at, "
            f"created_at, updated_at) SELECT id, $1, $2, 'pending', 0, $3, $3, $3 FROM webhook_endpoints "
            f"WHERE enabled = 1 AND id IN ({marks})", int(row["id"]), member_id, now, *endpoints, conn=using_db)
    return events
