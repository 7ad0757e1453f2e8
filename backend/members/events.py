"""Appending to the member timeline, always on the caller's transaction connection; scrubbing an erased
member's timeline of personal values (the rows stay: analytics and ledgers count them)."""

from __future__ import annotations

import json
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db, replica
from backend.audit import ERASED
from backend.members.models import MemberEvent
from backend.webhooks import outbox as webhook_outbox

INSERT_SQL = ("INSERT INTO member_events (member_id, type, channel, store_id, payload, created_at) "
              "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")


async def append(*, member_id: int, type: str, payload: dict[str, Any] | None = None, channel: str | None = None,
                 store_id: int | None = None, using_db: BaseDBAsyncClient | None = None) -> MemberEvent:
    """One timeline row; pass the transaction's connection so it commits with the change (and with it the
    webhook events it stands for, when an endpoint subscribes to them)."""
    payload, now = payload or {}, clock.now()
    # A fixed statement rather than the model's create: this runs in every order, redemption and top-up, and
    # the query builder and model construction cost more than the insert.
    inserted = await db.fetch_one(INSERT_SQL, member_id, type, channel, store_id,
                                  json.dumps(payload, ensure_ascii=False, default=str), now, conn=using_db)
    row = MemberEvent._init_from_db(id=inserted["id"], member_id=member_id, type=type, channel=channel,
                                    store_id=store_id, payload=payload, created_at=now)
    await appended(member_id=member_id, type=type, payload=payload, channel=channel, store_id=store_id,
                   using_db=using_db)
    return row


async def appended(*, member_id: int, type: str, payload: dict[str, Any], channel: str | None = None,
                   store_id: int | None = None, using_db: BaseDBAsyncClient | None = None) -> None:
    """What follows a timeline row, for a caller that inserted it by its own statement: the webhook events it
    stands for, and read-your-writes (this member reads from the primary a while)."""
    await webhook_outbox.record(internal=type, rows=[(member_id, payload)], channel=channel, store_id=store_id,
                                using_db=using_db)
    await replica.mark_written((member_id,))


async def append_many(rows: list[tuple[int, dict[str, Any]]], *, type: str, channel: str | None = None,
                      using_db: BaseDBAsyncClient | None = None) -> None:
    """Many timeline rows of one type in one statement (bulk issues reaching thousands of members)."""
    if not rows:
        return
    await webhook_outbox.record(internal=type, rows=rows, channel=channel, using_db=using_db)
    await replica.mark_written(member_id for member_id, _ in rows)
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


async def rows_needed(type: str, using_db: BaseDBAsyncClient | None = None) -> bool:
    """Whether timeline rows of ``type`` must go through ``append_many`` rather than be written by the caller's
    own set-based statement: a webhook endpoint subscribes to them, or a read replica marks their members."""
    return replica.current() is not None or await webhook_outbox.wanted(type, using_db)


# Payload strings that are codes or references, never a person's values; every other string (a reason
# typed by a clerk, a card number, anything a new event type adds) is erased with the member.
SAFE_KEYS = frozenset({"app_id", "via", "text_version", "channel", "purpose", "source", "from", "to", "order_no",
                       "sku", "category", "fields", "template_key", "status", "kind", "tier", "tier_code", "type"})


def scrub_payload(value: Any, key: str | None = None) -> Any:
    """The payload without personal values: numbers, flags and ids stay, strings only under SAFE_KEYS."""
    if isinstance(value, dict):
        return {name: scrub_payload(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [scrub_payload(item, key) for item in value]
    if isinstance(value, str) and key not in SAFE_KEYS:
        return ERASED
    return value


async def scrub(*, member_ids: list[int], using_db: BaseDBAsyncClient) -> int:
    """Rewrite the payloads of these members' events (and of their webhook events not yet purged) without
    personal values; returns the timeline rows changed."""
    await _scrub_webhook_events(member_ids, using_db)
    changed = 0
    last = 0
    while True:  # in batches: a long-standing member has thousands of events
        rows = await MemberEvent.filter(member_id__in=member_ids, id__gt=last).using_db(using_db).order_by(
            "id").limit(1000).values_list("id", "payload")
        if not rows:
            return changed
        for event_id, payload in rows:
            clean = scrub_payload(payload or {})
            if clean != payload:
                await MemberEvent.filter(id=event_id).using_db(using_db).update(payload=clean)
                changed += 1
        last = rows[-1][0]


async def _scrub_webhook_events(member_ids: list[int], using_db: BaseDBAsyncClient) -> None:
    """Webhook events keep what they were sent with; an erased member's personal values go from them too
    (a delivery still pending then carries the scrubbed data)."""
    from backend.webhooks.models import WebhookEvent

    last = 0
    while True:
        rows = await WebhookEvent.filter(member_id__in=member_ids, id__gt=last).using_db(using_db).order_by(
            "id").limit(1000).values_list("id", "data")
        if not rows:
            return
        for event_id, data in rows:
            clean = scrub_payload(data or {})
            if clean != data:
                await WebhookEvent.filter(id=event_id).using_db(using_db).update(data=clean)
        last = rows[-1][0]
