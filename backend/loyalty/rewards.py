"""Coupons given as loyalty rewards (check-in days, referrals): the coupon service plugs in here, so the
loyalty services grant them without importing it."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

# (conn, template_id, member_id, ref) -> {"id", "name"} or None when the template cannot give one now
# (paused, ended, out of stock, over its limits): a refused coupon never undoes the rest of a reward.
COUPON_ISSUERS: list[Any] = []


async def coupon(conn: BaseDBAsyncClient, template_id: int, member_id: int, ref: str) -> dict[str, Any] | None:
    """One reward coupon, idempotent per (template, member, ref); None if none could be given."""
    for issue in COUPON_ISSUERS:
        return await issue(conn, template_id, member_id, ref)
    return None
