"""Used signature nonces, kept in the database: a replay is refused whatever happened to Redis.

A signed request is accepted while its timestamp is within ``SIGNATURE_MAX_SKEW_S`` of the server's
clock, so its nonce must be refused for at least that long. Redis keeps no data across a restart
(and loses the latest writes on a failover), and the in-process store forgets on every restart; a
unique (app key, nonce) row in the database that also holds the orders forgets nothing, for any
number of web processes. ``jobs.maintenance`` deletes rows once their timestamp is refused anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from backend import db

_CLAIM = ("INSERT INTO used_nonces (app_key, nonce, signed_at, created_at) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (app_key, nonce) DO NOTHING RETURNING id")


class UsedNonce(Model):
    """A nonce an integration key signed a request with; refused again while the request could pass."""

    id = fields.BigIntField(primary_key=True)
    app_key = fields.CharField(max_length=40)
    nonce = fields.CharField(max_length=64)
    signed_at = fields.DatetimeField(db_index=True)  # the request's X-Timestamp
    created_at = fields.DatetimeField()

    class Meta:
        table = "used_nonces"
        unique_together = (("app_key", "nonce"),)


async def claim(*, app_key: str, nonce: str, timestamp: int, now: datetime) -> bool:
    """Record the nonce as used; False when ``app_key`` already used it (a replay)."""
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    return bool(await db.fetch(_CLAIM, app_key, nonce, signed_at, now))


def purge_before(now: datetime, max_skew_s: int) -> datetime:
    """Rows signed before this are refused by their timestamp alone (twice the skew: clocks differ)."""
    return now - timedelta(seconds=2 * max_skew_s)
