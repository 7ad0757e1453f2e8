"""The member's asset card: the asset view as last computed, read as one row by primary key.

Never stale for a committed change. Triggers on the view's inputs (accounts, points lots, coupons,
checkout sessions, the member's status: ``models.SQLITE_SCHEMA``, migration 14 on PostgreSQL) bump
the card's ``version`` in the writer's own transaction, whatever wrote the row (a service, a job, an
import's COPY). A reader takes the version with the card, computes the view when the card is not
current, and writes it back only ``WHERE version = <the version it read>``: a write that committed
since, or is still open, makes the write-back a no-op, so a view computed from an older snapshot never
lands. On PostgreSQL the write-back skips a card row a writer holds locked (``SKIP LOCKED``) instead of
waiting for its transaction: reads never queue behind writers.

Time: the card also keeps ``fresh_until``, the first instant at which the clock alone would change the
view (a lot falling due or entering the 30-day window, a coupon ending or becoming "expiring soon", a
checkout session's hold lapsing); from then on the view is computed again. Tier names and benefits are
not on the card: they are rendered from the program at read time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from backend import db

CARD_SQL = ("SELECT version, card_version, fresh_until, status, tier_code, tier_measure, view FROM asset_cards "
            "WHERE member_id = $1")
# The row lock is taken without waiting: a writer holding it is about to bump the version anyway.
PUT_PG_SQL = ("UPDATE asset_cards SET card_version = version, fresh_until = $3, status = $4, tier_code = $5, "
              "tier_measure = $6, view = $7 WHERE member_id = "
              "(SELECT member_id FROM asset_cards WHERE member_id = $1 AND version = $2 FOR UPDATE SKIP LOCKED) "
              "RETURNING member_id")
PUT_SQLITE_SQL = ("UPDATE asset_cards SET card_version = version, fresh_until = $3, status = $4, tier_code = $5, "
                  "tier_measure = $6, view = $7 WHERE member_id = $1 AND version = $2 RETURNING member_id")

# Each part of the view that changes with time adds its next change here: async (member_id, now, reader) ->
# instant, read on the reader the view's inputs were read on.
Horizon = Callable[[int, datetime, db.Reader], Awaitable[datetime | None]]
HORIZONS: list[Horizon] = []


@dataclass(frozen=True)
class Content:
    """What a card holds: the member's status, the view without its tier (JSON text) and what the tier is
    rendered from."""

    status: str
    view: str
    tier_code: str | None
    tier_measure: int


@dataclass(frozen=True)
class Card:
    version: int
    content: Content | None  # None when the card is missing, stale or past its fresh_until


async def get(member_id: int, now: datetime, reader: db.Reader) -> Card | None:
    """The member's card in one statement on ``reader``; None when the member has no card row (an unknown
    member). ``reader`` may be a read replica's (``db.reader(replica=True)``): its card is the view as of the
    replica's snapshot and carries that snapshot's version, so a view computed there and written back to the
    primary at that version lands only if nothing changed since."""
    row = await reader.fetch_one(CARD_SQL, member_id)
    if row is None:
        return None
    content = None
    if row["view"] is not None and row["card_version"] == row["version"]:
        fresh_until = db.to_datetime(row["fresh_until"])
        if fresh_until is None or now < fresh_until:
            content = Content(row["status"], row["view"], row["tier_code"], int(row["tier_measure"] or 0))
    return Card(int(row["version"]), content)


async def put(member_id: int, version: int, content: Content, fresh_until: datetime | None,
              primary: db.Reader) -> bool:
    """Write the card back if nothing changed it since ``version`` was read; False when it was left alone.
    ``primary``: a connection of the primary's read pool (``db.reader()``), so that the write-back of a read
    never waits for a connection behind the transactions."""
    sql = PUT_PG_SQL if db.is_postgres() else PUT_SQLITE_SQL
    rows = await primary.fetch(sql, member_id, version, fresh_until, content.status, content.tier_code,
                               content.tier_measure, content.view)
    return bool(rows)


async def fresh_until(member_id: int, now: datetime, reader: db.Reader) -> datetime | None:
    """The earliest instant after ``now`` at which the view changes by time alone (None: never)."""
    instants = [instant for horizon in HORIZONS if (instant := await horizon(member_id, now, reader)) is not None]
    return min(instants, default=None)

