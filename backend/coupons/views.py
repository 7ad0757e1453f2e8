"""Coupon read models (my coupons, coupon center, the clerk's card) and the hooks that plug coupons
into orders, refunds, rewards, merges, exports and the asset view."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from backend.coupons import service
from backend.coupons import terms as terms_
from backend.coupons.models import Coupon, CouponTemplate, Redemption
from backend.errors import DomainError

EXPIRING_SOON = timedelta(days=7)


def render_coupon(coupon: Coupon) -> dict[str, Any]:
    now = clock.now()
    status = "expired" if coupon.status == "available" and coupon.valid_until <= now else coupon.status
    return {"id": coupon.id, "template_id": coupon.template_id, "name": coupon.name, "status": status,
            "terms": coupon.terms, "valid_from": coupon.valid_from.isoformat(),
            "valid_until": coupon.valid_until.isoformat(), "source": coupon.source,
            "issued_at": coupon.issued_at.isoformat(),
            "redeemed_at": coupon.redeemed_at.isoformat() if coupon.redeemed_at else None}


def render_template(template: CouponTemplate) -> dict[str, Any]:
    return {"id": template.id, "name": template.name, "description": template.description,
            "status": template.status, "terms": template.terms, "total_stock": template.total_stock,
            "issued_count": template.issued_count, "per_member_limit": template.per_member_limit,
            "per_member_daily_limit": template.per_member_daily_limit, "claimable": template.claimable,
            "claim_tiers": template.claim_tiers, "updated_at": template.updated_at.isoformat()}


def render_redemption(redemption: Redemption) -> dict[str, Any]:
    return {"id": redemption.id, "coupon_id": redemption.coupon_id, "store_id": redemption.store_id,
            "channel": redemption.channel, "order_id": redemption.order_id,
            "discount_cents": redemption.discount_cents, "status": redemption.status,
            "created_at": redemption.created_at.isoformat()}


COUPON_EVENTS = ("coupon_issued", "coupon_redeemed", "coupon_redemption_reversed", "coupon_returned",
                 "coupon_expired")


async def coupon_history(coupon: Coupon) -> list[dict[str, Any]]:
    """The coupon's events from the member timeline, oldest first."""
    from backend.members.models import MemberEvent

    rows = await MemberEvent.filter(member_id=coupon.member_id, type__in=COUPON_EVENTS).order_by("id")
    return [{"type": e.type, "channel": e.channel, "store_id": e.store_id, "at": e.created_at.isoformat(),
             **{k: v for k, v in e.payload.items() if k != "coupon_id"}}
            for e in rows if e.payload.get("coupon_id") == coupon.id]


def status_filter(status: str | None) -> dict[str, Any]:
    """available | used | expired (as the mini-program names them)."""
    now = clock.now()
    if status == "available":
        return {"status": "available", "valid_until__gt": now}
    if status == "used":
        return {"status": "redeemed"}
    if status == "expired":
        return {"status__in": ["available", "expired"], "valid_until__lte": now}
    return {}


AVAILABLE_SQL = """
SELECT id, name, valid_until FROM coupons
 WHERE member_id = $1 AND status = 'available' AND valid_until > $2 ORDER BY valid_until"""


async def asset_section(member_id: int, reader: db.Reader) -> dict[str, Any]:
    now = clock.now()
    available = await reader.fetch(AVAILABLE_SQL, member_id, now)
    soon = []
    for row in available[:5]:
        valid_until = db.to_datetime(row["valid_until"])
        if valid_until <= now + EXPIRING_SOON:
            soon.append({"id": row["id"], "name": row["name"], "valid_until": valid_until.isoformat()})
    return {"coupons": {"available_count": len(available), "expiring_soon": soon}}


# When time alone next changes the coupon part of the asset view: an available coupon ends, or one comes
# within EXPIRING_SOON of its end.
HORIZON_SQL = """
SELECT MIN(valid_until) AS ends, MIN(CASE WHEN valid_until > $3 THEN valid_until END) AS soon
  FROM coupons WHERE member_id = $1 AND status = 'available' AND valid_until > $2"""


async def asset_horizon(member_id: int, now: datetime, reader: db.Reader) -> datetime | None:
    row = await reader.fetch_one(HORIZON_SQL, member_id, now, now + EXPIRING_SOON)
    assert row is not None
    soon = db.to_datetime(row["soon"])
    instants = [db.to_datetime(row["ends"]), soon - EXPIRING_SOON if soon else None]
    return min((instant for instant in instants if instant is not None), default=None)


async def summary_section(member: Any, store_id: int | None) -> dict[str, Any]:
    """Coupons on the clerk's card: usable here, and the others with the reason they are not."""
    usable, unusable = [], []
    now = clock.now()
    held = await Coupon.filter(member_id=member.id, status="available", valid_until__gt=now).order_by(
        "valid_until").limit(50)
    paused = set(await CouponTemplate.filter(id__in={c.template_id for c in held}, status="paused").values_list(
        "id", flat=True))
    for coupon in held:
        view = {"id": coupon.id, "name": coupon.name, "terms": coupon.terms,
                "valid_until": coupon.valid_until.isoformat()}
        try:
            if coupon.valid_from > now:
                raise service.CouponNotYetValid()
            if coupon.template_id in paused:
                raise service.CouponTemplatePaused()
            terms_.check_scope(terms_.Terms.model_validate(coupon.terms), store_id=store_id, channel="pos")
            usable.append(view)
        except DomainError as exc:
            unusable.append({**view, "reason": exc.code, "message": exc.message})
    return {"coupons": {"usable": usable, "unusable": unusable}}


async def export_section(member_id: int) -> dict[str, Any]:
    return {"coupons": [render_coupon(c) for c in await Coupon.filter(member_id=member_id).order_by("id")],
            "coupon_redemptions": [render_redemption(r)
                                   for r in await Redemption.filter(member_id=member_id).order_by("id")]}


async def merge_hook(conn: BaseDBAsyncClient, survivor_id: int, merged_id: int) -> dict[str, Any]:
    # Counted by RETURNING: on SQLite, Tortoise's count of an UPDATE includes the rows its triggers changed.
    moved = len(await db.fetch("UPDATE coupons SET member_id = $1 WHERE member_id = $2 RETURNING id",
                               survivor_id, merged_id, conn=conn))
    await Redemption.filter(member_id=merged_id).using_db(conn).update(member_id=survivor_id)
    return {"coupons": moved}


_installed: set[str] = set()


def install(timezone: str) -> None:
    """Plug coupons into orders, refunds, rewards and the member services (once per process)."""
    from backend.loyalty import cards, orders, program, rewards, tiers
    from backend.loyalty import views as loyalty_views
    from backend.members import merge, privacy, scan
    from backend.members import service as members

    if "hooks" in _installed:
        return
    _installed.add("hooks")

    async def order_coupons(conn: BaseDBAsyncClient, row: Any, order: Any) -> int:
        if not order.coupon_ids:
            return 0
        return await service.redeem_for_order(conn, row, order.member_id, order.coupon_ids,
                                              member_price_applied=order.member_price_applied)

    async def registration_coupons(conn: BaseDBAsyncClient, member_id: int, channel: str,
                                   store_id: int | None) -> None:
        for template_id in (await program.load(conn)).registration_coupon_template_ids:
            await _reward(conn, template_id, member_id, "registration")

    async def tier_gift_coupons(conn: BaseDBAsyncClient, member_id: int, tier: Any) -> dict[str, Any]:
        period = str(clock.now().year)
        issued = [await _reward(conn, template_id, member_id, f"tier:{tier.code}:{period}")
                  for template_id in tier.gift_coupon_template_ids]
        return {"coupons": [coupon_id for coupon_id in issued if coupon_id]} if issued else {}

    async def _reward(conn: BaseDBAsyncClient, template_id: int, member_id: int, ref: str) -> int | None:
        # A paused, ended or exhausted reward template skips the coupon; the rest of the reward stands.
        try:
            async with conn._in_transaction() as nested:  # a savepoint: a refusal undoes only this coupon
                coupon, _ = await service.issue(nested, template_id=template_id, member_id=member_id,
                                                source="reward", source_ref=ref, tz=timezone)
                return coupon.id
        except (service.CouponOutOfStock, service.CouponNotClaimable, service.CouponLimitReached,
                service.CouponTemplateNotFound):
            return None

    async def reward_coupon(conn: BaseDBAsyncClient, template_id: int, member_id: int,
                            ref: str) -> dict[str, Any] | None:
        try:
            async with conn._in_transaction() as nested:  # a savepoint: a refusal undoes only this coupon
                coupon, _ = await service.issue(nested, template_id=template_id, member_id=member_id,
                                                source="reward", source_ref=ref, tz=timezone)
                return {"id": coupon.id, "name": coupon.name}
        except (service.CouponOutOfStock, service.CouponNotClaimable, service.CouponLimitReached,
                service.CouponTemplateNotFound):
            return None

    orders.COUPON_HOOK.append(order_coupons)
    rewards.COUPON_ISSUERS.append(reward_coupon)
    orders.REFUND_HOOKS.append(service.return_for_refund)
    members.REGISTRATION_REWARD_HOOKS.append(registration_coupons)
    tiers.GIFT_HOOKS.append(tier_gift_coupons)
    loyalty_views.ASSET_SECTIONS.append(asset_section)
    cards.HORIZONS.append(asset_horizon)
    scan.SUMMARY_SECTIONS.append(summary_section)
    privacy.EXPORT_SECTIONS.append(export_section)
    merge.MERGE_HOOKS.append(merge_hook)
