"""Online checkout sessions: validate → hold → complete (redeem) or cancel / expire (release).

- ``validate``: for a member and a cart, what each available coupon would take off (or why it cannot be
  used), the tier's member price, and the most points and stored value usable; nothing is held.
- ``open_session``: the chosen coupons, points and stored value are quoted by the order code itself (a
  rolled-back order), then held for a TTL in one transaction under the member's account lock: points and
  stored value by the session row (every open, unexpired session counts against the balances wherever
  they are spent), coupons by a hold row whose unique coupon id two racing sessions collide on, taken
  after the coupon's row lock (a redemption waits for it and then sees the hold).
- ``complete``: the order is placed exactly as ``/integrations/orders`` would place it, and closes the
  session in the order's transaction (one completion, however many concurrent calls); the holds become
  the order's. After the TTL, a completion re-checks availability: it succeeds, or answers
  CHECKOUT_EXPIRED with the reason.
- ``cancel`` and expiry release everything; an open session past its TTL reads as expired (its holds
  count for nothing) even before the sweep marks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import clock, db
from backend.checkout.errors import CheckoutExpired, CheckoutNotFound
from backend.checkout.models import CheckoutCouponHold, CheckoutSession
from backend.coupons import service as coupons
from backend.coupons.errors import CouponHeld
from backend.errors import DomainError
from backend.loyalty import orders
from backend.loyalty import program as programs
from backend.loyalty.accounts import HELD_SQL, Assets
from backend.loyalty.errors import CheckoutClosed, InsufficientBalance, InsufficientPoints
from backend.loyalty.models import LoyaltyAccount, Order
from backend.members import events

DEFAULT_TTL_S = 15 * 60
MIN_TTL_S = 60
MAX_TTL_S = 2 * 3600


@dataclass
class Cart:
    member_id: int
    channel: str
    amount_cents: int
    store_id: int | None = None
    items: list[orders.Item] = field(default_factory=list)
    member_price_applied: bool = False


def status_of(session: CheckoutSession, now: datetime | None = None) -> str:
    if session.status == "open" and session.expires_at <= (now or clock.now()):
        return "expired"
    return session.status


def render(session: CheckoutSession) -> dict[str, Any]:
    return {"id": session.id, "status": status_of(session), "member_id": session.member_id,
            "channel": session.channel, "store_id": session.store_id, "amount_cents": session.amount_cents,
            "items": session.items, "coupon_ids": session.coupon_ids, "points_to_spend": session.points,
            "balance_to_spend_cents": session.balance_cents, "member_price_applied": session.member_price_applied,
            "expires_at": session.expires_at.isoformat(), "quote": session.quote, "order_no": session.order_no,
            "order_id": session.order_id, "created_at": session.created_at.isoformat(),
            "closed_at": session.closed_at.isoformat() if session.closed_at else None}


def _max_points(available: int, amount_cents: int, per_yuan: int) -> int:
    """The most points (≤ available) worth a whole number of cents that does not exceed the amount."""
    by_amount = amount_cents * per_yuan // 100
    most = min(available, by_amount)
    # points × 100 must divide by per_yuan: points come in steps of per_yuan / gcd(100, per_yuan).
    from math import gcd

    step = per_yuan // gcd(100, per_yuan)
    return max(0, most - most % step)


async def validate(cart: Cart) -> dict[str, Any]:
    program = await programs.load()
    now = clock.now()
    account = await LoyaltyAccount.get_or_none(member_id=cart.member_id)
    held = await db.fetch_one(HELD_SQL, cart.member_id, now, 0)
    held_points, held_cents = (int(held["points"]), int(held["cents"])) if held else (0, 0)
    balance = account.points_balance if account else 0
    wallet = (account.principal_cents + account.bonus_cents) if account else 0
    points_available = max(0, balance - held_points)
    wallet_available = max(0, wallet - held_cents)
    most = _max_points(points_available, cart.amount_cents, program.redeem_points_per_yuan)
    tier = program.tier(account.tier_code if account else None)
    options = await coupons.cart_options(member_id=cart.member_id, amount_cents=cart.amount_cents, items=cart.items,
                                         store_id=cart.store_id, channel=cart.channel,
                                         member_price_applied=cart.member_price_applied)
    return {
        "member_id": cart.member_id, "amount_cents": cart.amount_cents,
        "coupons": options,
        "tier": {"code": tier.code, "name": tier.name, "discount_pct": tier.discount_pct,
                 "member_price_cents": cart.amount_cents * tier.discount_pct // 100},
        "points": {"balance": balance, "held": held_points, "available": points_available, "max_usable": most,
                   "max_value_cents": most * 100 // program.redeem_points_per_yuan,
                   "redeem_points_per_yuan": program.redeem_points_per_yuan},
        "stored_value": {"balance_cents": wallet, "held_cents": held_cents, "available_cents": wallet_available,
                         "max_usable_cents": min(wallet_available, cart.amount_cents)},
    }


def _order(cart: Cart, *, order_no: str, coupon_ids: list[int], points: int, balance_cents: int,
           app_key_id: int | None, placed_at: datetime | None = None,
           session_id: int | None = None) -> orders.OrderInput:
    return orders.OrderInput(channel=cart.channel, order_no=order_no, amount_cents=cart.amount_cents,
                             member_id=cart.member_id, store_id=cart.store_id, items=list(cart.items),
                             coupon_ids=list(coupon_ids), points_to_spend=points, balance_to_spend_cents=balance_cents,
                             member_price_applied=cart.member_price_applied, placed_at=placed_at,
                             app_key_id=app_key_id, checkout_session_id=session_id)


async def open_session(cart: Cart, *, coupon_ids: list[int], points: int, balance_cents: int, ttl_s: int,
                       app_key_id: int | None, tz: str) -> CheckoutSession:
    """Quote the checkout, then hold what it uses until the TTL."""
    quote = await orders.quote_order(_order(cart, order_no="checkout", coupon_ids=coupon_ids, points=points,
                                            balance_cents=balance_cents, app_key_id=app_key_id), tz=tz)
    quote["order_no"] = None
    return await _hold(cart, coupon_ids=coupon_ids, points=points, balance_cents=balance_cents, ttl_s=ttl_s,
                       app_key_id=app_key_id, quote=quote)


@db.retry_conflicts
async def _hold(cart: Cart, *, coupon_ids: list[int], points: int, balance_cents: int, ttl_s: int,
                app_key_id: int | None, quote: dict[str, Any]) -> CheckoutSession:
    now = clock.now()
    try:
        async with in_transaction() as conn:
            # The account lock first (the lock order), then the coupons: what others hold is read under it.
            assets = await Assets.open(conn, cart.member_id)
            held_points, held_cents = await assets.held()
            await assets.expire_due(now)
            account = assets.account
            if points and points > account.points_balance - held_points:
                raise InsufficientPoints(details={"balance": account.points_balance, "held": held_points,
                                                  "requested": points})
            wallet = account.principal_cents + account.bonus_cents
            if balance_cents and balance_cents > wallet - held_cents:
                raise InsufficientBalance(details={"balance_cents": wallet, "held_cents": held_cents,
                                                   "requested_cents": balance_cents})
            await assets.save()
            session = await CheckoutSession.create(
                app_key_id=app_key_id, member_id=cart.member_id, channel=cart.channel, store_id=cart.store_id,
                amount_cents=cart.amount_cents, items=[item.__dict__ for item in cart.items],
                coupon_ids=sorted(coupon_ids), points=points, balance_cents=balance_cents,
                member_price_applied=cart.member_price_applied, expires_at=now + timedelta(seconds=ttl_s),
                quote=quote, created_at=now, using_db=conn)
            for coupon_id in sorted(coupon_ids):  # id order: two sessions wanting two coupons cannot deadlock
                await coupons.lock_for_hold(conn, coupon_id=coupon_id, member_id=cart.member_id)
                # A hold left by a session that ended or expired is released here.
                await db.fetch("DELETE FROM checkout_coupon_holds WHERE coupon_id = $1 AND session_id IN "
                               "(SELECT id FROM checkout_sessions WHERE status <> 'open' OR expires_at <= $2)",
                               coupon_id, now, conn=conn)
                await CheckoutCouponHold.create(coupon_id=coupon_id, session_id=session.id, created_at=now,
                                                using_db=conn)
            await events.append(member_id=cart.member_id, type="checkout_opened", channel=cart.channel,
                                store_id=cart.store_id, using_db=conn,
                                payload={"session_id": session.id, "amount_cents": cart.amount_cents,
                                         "coupon_ids": sorted(coupon_ids), "points": points,
                                         "balance_cents": balance_cents})
    except IntegrityError:
        raise CouponHeld(details={"coupon_ids": sorted(coupon_ids)}) from None
    return session


async def get(session_id: int, *, app_key_id: int | None) -> CheckoutSession:
    session = await CheckoutSession.get_or_none(id=session_id)
    if session is None or session.app_key_id != app_key_id:
        raise CheckoutNotFound(details={"session_id": session_id})
    return session


async def complete(session_id: int, *, app_key_id: int | None, order_no: str, placed_at: datetime | None,
                   tz: str) -> tuple[CheckoutSession, orders.Outcome]:
    """Place the session's order; a repeat with the same order number answers the same receipt."""
    session = await get(session_id, app_key_id=app_key_id)
    if session.status == "completed" and session.order_no == order_no:
        order = await Order.get(id=session.order_id)
        return session, orders.Outcome(order.receipt, created=False)
    if session.status in ("completed", "cancelled"):
        raise CheckoutClosed(details={"status": session.status, "order_no": session.order_no})
    late = status_of(session) == "expired"
    cart = Cart(member_id=session.member_id, channel=session.channel, amount_cents=session.amount_cents,
                store_id=session.store_id, items=[orders.Item(**item) for item in session.items],
                member_price_applied=session.member_price_applied)
    try:
        outcome = await orders.place_order(_order(cart, order_no=order_no, coupon_ids=session.coupon_ids,
                                                  points=session.points, balance_cents=session.balance_cents,
                                                  app_key_id=app_key_id, placed_at=placed_at, session_id=session.id),
                                           tz=tz)
    except CheckoutClosed:
        raise
    except DomainError as exc:
        if late and exc.code not in ("ORDER_CONFLICT", "VALIDATION_FAILED"):
            # Past its TTL the session held nothing: what it wanted went elsewhere meanwhile.
            raise CheckoutExpired(details={"reason": exc.code, **exc.details}) from None
        raise
    return await get(session_id, app_key_id=app_key_id), outcome


@db.retry_conflicts
async def cancel(session_id: int, *, app_key_id: int | None) -> CheckoutSession:
    """Release everything the session holds; cancelling again answers the same; a completed one is 409."""
    session = await get(session_id, app_key_id=app_key_id)
    now = clock.now()
    async with in_transaction() as conn:
        status = "expired" if session.expires_at <= now else "cancelled"
        changed = await db.fetch("UPDATE checkout_sessions SET status = $2, closed_at = $3 WHERE id = $1 "
                                 "AND status = 'open' RETURNING id", session_id, status, now, conn=conn)
        await db.fetch("DELETE FROM checkout_coupon_holds WHERE session_id = $1", session_id, conn=conn)
        if changed:
            await events.append(member_id=session.member_id, type=f"checkout_{status}", channel=session.channel,
                                store_id=session.store_id, payload={"session_id": session_id}, using_db=conn)
    session = await get(session_id, app_key_id=app_key_id)
    if session.status == "completed":
        raise CheckoutClosed(details={"status": "completed", "order_no": session.order_no})
    return session


async def expire_due(*, now: datetime | None = None) -> dict[str, int]:
    """Mark the open sessions past their TTL expired and drop their coupon holds (safe to run again)."""
    now = now or clock.now()
    async with in_transaction() as conn:
        expired = await db.fetch("UPDATE checkout_sessions SET status = 'expired', closed_at = $1 "
                                 "WHERE status = 'open' AND expires_at <= $1 RETURNING id", now, conn=conn)
        released = await db.fetch("DELETE FROM checkout_coupon_holds WHERE session_id IN "
                                  "(SELECT id FROM checkout_sessions WHERE status <> 'open') RETURNING id", conn=conn)
    return {"expired": len(expired), "coupons_released": len(released)}
