"""Orders from every channel, refunds, top-ups and admin adjustments: one service for all callers.

An order is idempotent on (channel, order_no): the order row is inserted first in the transaction,
so of ten concurrent posts one inserts and earns, the others wait on the unique index, find the
committed order and return its receipt (or 409 ``ORDER_CONFLICT`` if their content differs).

Policies (README has the table):
- points are earned on what was paid after discounts and after the part paid with points:
  ``amount - discounts - points value``, stored value counting as paid; excluded item categories
  are taken out in proportion; × channel bonus × store bonus × the tier's multiplier (the tier
  held when the order is placed) × the birthday multiplier on the member's birthday × the paid membership's
  multiplier (of the period covering ``placed_at``; multipliers multiply, tier and membership alike); rounding
  per rule.
- a refund (several per order, never above what was paid) reverses earned points, restores spent
  points and stored value, each in proportion to the refunded share of the order (exact on the
  last refund). Points to reverse that were already spent are taken from the balance as far as it
  goes and the rest becomes a points debt, shown to member and clerk and paid off by the next
  points credited; the balance never goes negative.

Lock order, the same in every transaction that writes assets (merge, erasure, orders, refunds,
exchanges, rewards, check-ins): member rows (in id order), then order rows, then loyalty accounts (in member-id
order), then coupons, then coupon templates, then bonus-point campaigns (in id order); a member's order figures
(``order_stats``) are written under its account lock, last. An order takes a key-share lock on its member and the
referrer (one statement, id order) before any account, so a merge of either waits for the order or
the order waits for the merge — and then lands on the member it was merged into.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.errors import field_errors
from backend.loyalty import campaigns, order_stats, rewards, tiers
from backend.loyalty import program as programs
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.errors import (
    CheckoutClosed,
    OrderConflict,
    OrderNotFound,
    OrderOverpaid,
    PaymentRefUsed,
    PointsNotRedeemable,
    RefundConflict,
    RefundExceedsPaid,
)
from backend.loyalty.models import Order, PointsEntry, PointsLot, PointsLotUse, Refund, Topup
from backend.members import events
from backend.members.errors import MemberNotFound
from backend.members.models import Member
from backend.membership import service as membership

# Coupons plug in here: (conn, order row, OrderInput) -> discount cents (validated and redeemed).
COUPON_HOOK: list[Any] = []
# And here, when an order is refunded in full: (conn, order row) -> ids of the coupons given back.
REFUND_HOOKS: list[Any] = []


@dataclass(frozen=True)
class Item:
    sku: str
    amount_cents: int
    category: str | None = None
    quantity: int = 1


@dataclass
class OrderInput:
    channel: str
    order_no: str
    amount_cents: int
    member_id: int | None = None
    store_id: int | None = None
    items: list[Item] = field(default_factory=list)
    coupon_ids: list[int] = field(default_factory=list)
    points_to_spend: int = 0
    balance_to_spend_cents: int = 0
    member_price_applied: bool = False  # the POS charged the tier's member price
    placed_at: datetime | None = None
    app_key_id: int | None = None  # the integration key that pushes it (None: a counter order)
    checkout_session_id: int | None = None  # the checkout session it completes (its holds become the order's)

    def fingerprint(self) -> str:
        body = {"channel": self.channel, "order_no": self.order_no, "amount_cents": self.amount_cents,
                "member_id": self.member_id, "store_id": self.store_id,
                "items": [item.__dict__ for item in self.items], "coupon_ids": sorted(self.coupon_ids),
                "points_to_spend": self.points_to_spend, "balance_to_spend_cents": self.balance_to_spend_cents,
                "member_price_applied": self.member_price_applied}
        if self.app_key_id is not None:
            # Another key re-sending this order number is a conflict, never a look at this key's receipt.
            body["app_key_id"] = self.app_key_id
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Outcome:
    receipt: dict[str, Any]
    created: bool


def _divide(numerator: int, denominator: int, rounding: str) -> int:
    quotient, rest = divmod(numerator, denominator)
    if rounding == "ceil" and rest:
        return quotient + 1
    if rounding == "round" and rest * 2 >= denominator:
        return quotient + 1
    return quotient


def points_for(program: programs.Program, *, channel: str, store_id: int | None, base_cents: int,
               items: list[Item], tier_code: str | None, birthday: bool, membership_pct: int = 100) -> int:
    """Points earned on ``base_cents`` paid: all in integers, rounded once at the end."""
    rule = program.earn_rule(channel)
    if rule is None or rule.points == 0 or base_cents <= 0:
        return 0
    eligible = base_cents
    items_total = sum(item.amount_cents for item in items)
    if items_total > 0 and rule.excluded_categories:
        excluded = set(rule.excluded_categories)
        eligible_items = sum(item.amount_cents for item in items if item.category not in excluded)
        eligible = base_cents * eligible_items // items_total
    tier = program.tier(tier_code)
    multipliers = [rule.bonus_pct, rule.store_bonus_pct.get(str(store_id), 100) if store_id else 100,
                   tier.points_multiplier_pct, tier.birthday_multiplier_pct if birthday else 100, membership_pct]
    numerator, denominator = eligible * rule.points, rule.per_yuan * 100
    for pct in multipliers:
        numerator, denominator = numerator * pct, denominator * 100
    return _divide(numerator, denominator, rule.rounding)


def _is_birthday(birthday: date | None, when: datetime, tz: str) -> bool:
    if birthday is None:
        return False
    local = when.astimezone(ZoneInfo(tz)).date()
    if (birthday.month, birthday.day) == (2, 29) and not _leap(local.year):
        return (local.month, local.day) == (2, 28)
    return (local.month, local.day) == (birthday.month, birthday.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _balances(assets: Assets | None, program: programs.Program) -> dict[str, Any]:
    if assets is None:
        return {}
    a = assets.account
    return {"points_balance": a.points_balance, "points_debt": a.points_debt,
            "balance_cents": a.principal_cents + a.bonus_cents, "principal_cents": a.principal_cents,
            "bonus_cents": a.bonus_cents, "tier": program.tier(a.tier_code).code}


def _check_input(order: OrderInput) -> None:
    if order.points_to_spend or order.balance_to_spend_cents or order.coupon_ids:
        if order.member_id is None:
            raise field_errors({"member": "使用积分、储值或优惠券需要会员"})
    if order.coupon_ids and not COUPON_HOOK:
        raise field_errors({"coupon_ids": "优惠券核销尚未启用"})


async def place_order(order: OrderInput, *, tz: str) -> Outcome:
    _check_input(order)
    fingerprint = order.fingerprint()
    try:
        return Outcome(await _place(order, fingerprint, tz), created=True)
    except IntegrityError:
        existing = await Order.get_or_none(channel=order.channel, order_no=order.order_no)
        if existing is None:
            raise
        if existing.request_hash != fingerprint:
            raise OrderConflict(details={"order_no": order.order_no}) from None
        return Outcome(existing.receipt, created=False)


class _Quoted(Exception):
    def __init__(self, receipt: dict[str, Any]) -> None:
        super().__init__("quote")
        self.receipt = receipt


async def quote_order(order: OrderInput, *, tz: str) -> dict[str, Any]:
    """What placing the order would do (discounts, payable, points spent and earned, tier change),
    computed by the same code in a transaction that is rolled back: nothing is written or redeemed."""
    _check_input(order)
    dry = replace(order, order_no=f"quote-{uuid.uuid4().hex}")  # never an order number in use
    try:
        await _place(dry, dry.fingerprint(), tz, quote=True)
    except _Quoted as quoted:
        receipt = {**quoted.receipt, "order_no": order.order_no, "quote": True}
        receipt.pop("order_id", None)
        return receipt
    raise RuntimeError("a quote must end in its rollback")


@db.retry_conflicts
async def _place(order: OrderInput, fingerprint: str, tz: str, quote: bool = False) -> dict[str, Any]:
    now = clock.now()
    placed_at = order.placed_at or now
    async with in_transaction() as conn:
        row = await Order.create(channel=order.channel, order_no=order.order_no, member_id=order.member_id,
                                 store_id=order.store_id, app_key_id=order.app_key_id,
                                 request_hash=fingerprint, amount_cents=order.amount_cents,
                                 items=[item.__dict__ for item in order.items], placed_at=placed_at, created_at=now,
                                 using_db=conn)
        receipt: dict[str, Any] = {"order_id": row.id, "order_no": order.order_no, "channel": order.channel,
                                   "store_id": order.store_id, "member_id": order.member_id,
                                   "amount_cents": order.amount_cents}
        if order.checkout_session_id is not None:
            await _close_session(conn, order.checkout_session_id, row.id, order.order_no, now)
        if order.member_id is None:
            receipt.update(discount_cents=0, points_spent=0, points_value_cents=0, balance_spent_cents=0,
                           payable_cents=order.amount_cents, points_earned=0)
            if quote:
                raise _Quoted(receipt)
            await Order.filter(id=row.id).using_db(conn).update(receipt=receipt)
            return receipt
        program = await programs.load(conn)
        member = await _lock_member(conn, order.member_id)
        member_id = member["id"]
        if member_id != order.member_id:  # merged meanwhile: the order is the survivor's
            await Order.filter(id=row.id).using_db(conn).update(member_id=member_id)
            receipt["member_id"] = member_id
        referrer_id = await _referral_due(conn, member, program)
        opened = {mid: await Assets.open(conn, mid) for mid in sorted({member_id, referrer_id} - {None})}
        assets = opened[member_id]
        ctx = Context(source="order", channel=order.channel, store_id=order.store_id, order_id=row.id,
                      reason=f"订单 {order.order_no}")
        discount = 0
        for hook in COUPON_HOOK:
            discount += await hook(conn, row, order)
        points_value = 0
        if order.points_to_spend:
            value_numerator = order.points_to_spend * 100
            if value_numerator % program.redeem_points_per_yuan:
                raise PointsNotRedeemable(details={"redeem_points_per_yuan": program.redeem_points_per_yuan})
            points_value = value_numerator // program.redeem_points_per_yuan
        due = order.amount_cents - discount
        if points_value + order.balance_to_spend_cents > due:
            raise OrderOverpaid(details={"due_cents": due, "points_value_cents": points_value,
                                         "balance_to_spend_cents": order.balance_to_spend_cents})
        if order.points_to_spend:
            await assets.debit(order.points_to_spend, kind="spend", ctx=ctx, ref=f"order:{row.id}:spend")
        principal = bonus = 0
        if order.balance_to_spend_cents:
            principal, bonus = await assets.wallet_spend(order.balance_to_spend_cents, ctx=ctx,
                                                         ref=f"order:{row.id}:spend")
        base = due - points_value
        tier_before = assets.account.tier_code
        birthday = _is_birthday(db.to_date(member["birthday"]), placed_at, tz)
        membership_pct = await membership.points_multiplier_pct(conn, member_id, placed_at)
        earned = points_for(program, channel=order.channel, store_id=order.store_id, base_cents=base,
                            items=order.items, tier_code=tier_before, birthday=birthday,
                            membership_pct=membership_pct)
        # The row must carry the earned points before the tier measure reads it.
        await Order.filter(id=row.id).using_db(conn).update(
            discount_cents=discount, points_spent=order.points_to_spend, points_value_cents=points_value,
            principal_spent_cents=principal, bonus_spent_cents=bonus, earn_base_cents=base, points_earned=earned)
        if earned:
            await assets.credit(earned, kind="earn", ctx=ctx, ref=f"order:{row.id}:earn",
                                expires_at=program.lot_expiry(now, tz))
        tier_change = await tiers.upgrade_if_qualified(assets, program, tz=tz, ctx=ctx)
        if referrer_id is not None:
            await _referral_reward(conn, opened[referrer_id], member_id, program, order.channel, order.store_id, tz)

        def base_for(part_cents: int, items_total: int, items: list[Item]) -> int:
            return points_for(program, channel=order.channel, store_id=order.store_id,
                              base_cents=base * part_cents // items_total, items=items, tier_code=tier_before,
                              birthday=birthday, membership_pct=membership_pct)

        # Campaign rows are locked last (after coupon templates: the lock order above).
        granted = await campaigns.grants(conn, member_id=member_id, channel=order.channel, store_id=order.store_id,
                                         tier_code=program.tier(tier_before).code, paid_cents=base,
                                         items=order.items, base_points=earned, base_for=base_for,
                                         placed_at=placed_at, tz=tz)
        for grant in granted:
            await assets.credit(grant.points, kind="bonus", ref=f"order:{row.id}:campaign:{grant.campaign_id}",
                                ctx=replace(ctx, source="campaign", reason=f"活动「{grant.name}」 订单 {order.order_no}"),
                                expires_at=program.lot_expiry(now, tz))
        total_earned = earned + sum(grant.points for grant in granted)
        if granted:
            await Order.filter(id=row.id).using_db(conn).update(points_earned=total_earned)
        await assets.save()
        receipt.update(discount_cents=discount, points_spent=order.points_to_spend, points_value_cents=points_value,
                       balance_spent_cents=principal + bonus, payable_cents=due - points_value - principal - bonus,
                       points_earned=total_earned, points_base=earned,
                       campaigns=[grant.as_json() for grant in granted], tier_change=tier_change,
                       **_balances(assets, program))
        if quote:
            raise _Quoted(receipt)
        await Order.filter(id=row.id).using_db(conn).update(receipt=receipt)
        await events.append(member_id=member_id, type="order_placed", channel=order.channel,
                            store_id=order.store_id, using_db=conn,
                            payload={"order_id": row.id, "order_no": order.order_no,
                                     "amount_cents": order.amount_cents, "paid_cents": base,
                                     "points_earned": total_earned, "points_spent": order.points_to_spend,
                                     "balance_spent_cents": principal + bonus,
                                     "items": [item.__dict__ for item in order.items]})
        await order_stats.order_placed(conn, member_id=member_id, amount_cents=order.amount_cents,
                                       placed_at=placed_at)
    return receipt


CLOSE_SESSION_SQL = ("UPDATE checkout_sessions SET status = 'completed', order_id = $2, order_no = $3, closed_at = $4 "
                     "WHERE id = $1 AND status IN ('open', 'expired') RETURNING id, member_id, channel, store_id")


async def _close_session(conn: Any, session_id: int, order_id: int, order_no: str, now: datetime) -> None:
    """The session's one completion, after the order row (the lock order): of concurrent completes with
    different order numbers one closes it, the others roll back with CHECKOUT_CLOSED. Its holds end with
    it, so this order spends what it held and nothing anyone else holds."""
    closed = await db.fetch_one(CLOSE_SESSION_SQL, session_id, order_id, order_no, now, conn=conn)
    if closed is None:
        row = await db.fetch_one("SELECT status, order_no FROM checkout_sessions WHERE id = $1", session_id, conn=conn)
        raise CheckoutClosed(details={"status": row["status"] if row else None,
                                      "order_no": row["order_no"] if row else None})
    await db.fetch("DELETE FROM checkout_coupon_holds WHERE session_id = $1", session_id, conn=conn)
    await events.append(member_id=int(closed["member_id"]), type="checkout_completed", channel=closed["channel"],
                        store_id=closed["store_id"], using_db=conn,
                        payload={"session_id": session_id, "order_id": order_id, "order_no": order_no})


# The member and its referrer, key-share locked in id order: a merge, erasure or profile edit of
# either (FOR UPDATE) waits for the order, or the order for it; other orders are not held up.
LOCK_MEMBER_SQL = ("SELECT id, status, merged_into_id, birthday, referrer_id FROM members "
                   "WHERE id = $1 OR id = (SELECT referrer_id FROM members WHERE id = $1) ORDER BY id")


async def _lock_member(conn: Any, member_id: int) -> dict[str, Any]:
    """The order's member under its lock, following merges to the member it was merged into."""
    sql = LOCK_MEMBER_SQL + (" FOR KEY SHARE" if db.is_postgres() else "")
    for _ in range(8):  # a chain of merges is short; a cycle cannot be made
        rows = await db.fetch(sql, member_id, conn=conn)
        member = next((row for row in rows if row["id"] == member_id), None)
        if member is None or member["status"] == "deleted":
            raise MemberNotFound()
        if member["status"] != "merged" or member["merged_into_id"] is None:
            return member
        member_id = int(member["merged_into_id"])
    raise MemberNotFound()


def _referrer_rewarded(program: programs.Program) -> bool:
    return bool(program.referrer_points or program.referral.referrer_coupon_template_ids)


async def _referral_due(conn: Any, member: dict[str, Any], program: programs.Program) -> int | None:
    """The referrer to reward for this order: on the invitee's first order, when the program says so."""
    if member["referrer_id"] is None or program.referral.referrer_reward_on != "first_order" \
            or not _referrer_rewarded(program):
        return None
    if await Order.filter(member_id=member["id"]).using_db(conn).count() != 1:
        return None
    return int(member["referrer_id"])


async def _referral_reward(conn: Any, referrer: Assets, member_id: int, program: programs.Program,
                           channel: str, store_id: int | None, tz: str) -> None:
    """The referrer's reward for one invitee, once (one ledger ref and one coupon ref per invitee), at the
    invitee's registration or first order."""
    ref = f"referral:{member_id}"
    status = await db.fetch_one("SELECT status FROM members WHERE id = $1", referrer.member_id, conn=conn)
    if status is None or status["status"] != "active":  # merged or erased since: nobody to reward
        return
    if await PointsEntry.filter(member_id=referrer.member_id, ref=ref).using_db(conn).exists():
        return
    reason = "推荐好友首单奖励" if program.referral.referrer_reward_on == "first_order" else "推荐好友注册奖励"
    if program.referrer_points:
        await referrer.credit(program.referrer_points, kind="bonus", ref=ref,
                              ctx=Context(source="campaign", reason=reason, channel=channel, store_id=store_id),
                              expires_at=program.lot_expiry(clock.now(), tz))
        await referrer.save()
    coupons = [await rewards.coupon(conn, template_id, referrer.member_id, ref)
               for template_id in program.referral.referrer_coupon_template_ids]
    await events.append(member_id=referrer.member_id, type="referral_rewarded", channel=channel,
                        payload={"invitee_id": member_id, "points": program.referrer_points,
                                 "coupon_ids": [c["id"] for c in coupons if c]}, using_db=conn)


def _share(total: int, refunded: int, amount: int) -> int:
    """The part of ``total`` that ``refunded`` of ``amount`` stands for; exact when all is refunded."""
    return total if refunded >= amount else total * refunded // amount


async def refund_order(*, channel: str, order_no: str, amount_cents: int, reason: str, refund_no: str | None,
                       store_id: int | None = None, store_ids: Collection[int] | None = None) -> Outcome:
    """Refund part or all of an order. ``store_id`` limits a clerk to their store's orders, ``store_ids``
    an app key to its stores' (an order of another store, or of none, is not found for them)."""
    order = await Order.get_or_none(channel=channel, order_no=order_no)
    if order is None or (store_id is not None and order.store_id != store_id) or (
            store_ids is not None and order.store_id not in store_ids):
        raise OrderNotFound(details={"order_no": order_no})
    if refund_no is not None:
        previous = await Refund.get_or_none(order_id=order.id, refund_no=refund_no)
        if previous is not None:
            return _replay_refund(previous, amount_cents)
    try:
        return Outcome(await _refund(order, amount_cents, reason, refund_no), created=True)
    except IntegrityError:
        previous = await Refund.get_or_none(order_id=order.id, refund_no=refund_no) if refund_no else None
        if previous is None:
            raise
        return _replay_refund(previous, amount_cents)


def _replay_refund(previous: Refund, amount_cents: int) -> Outcome:
    if previous.amount_cents != amount_cents:
        raise RefundConflict(details={"refund_no": previous.refund_no})
    return Outcome(previous.receipt, created=False)


@db.retry_conflicts
async def _refund(order: Order, amount_cents: int, reason: str, refund_no: str | None) -> dict[str, Any]:
    paid_total = order.amount_cents - order.discount_cents  # coupon discounts are not refunded as money
    async with in_transaction() as conn:
        program = await programs.load(conn)
        # The conditional UPDATE is the guard and the order's row lock: refunds of one order queue here.
        claimed = await Order.filter(id=order.id, refunded_cents__lte=paid_total - amount_cents).using_db(
            conn).update(refunded_cents=F("refunded_cents") + amount_cents)
        if not claimed:
            fresh = await Order.get(id=order.id).using_db(conn)
            raise RefundExceedsPaid(details={"refundable_cents": paid_total - fresh.refunded_cents})
        order = await Order.get(id=order.id).using_db(conn)
        refunded, amount = order.refunded_cents, paid_total
        reverse = _share(order.points_earned, refunded, amount) - order.points_reversed
        restore = _share(order.points_spent, refunded, amount) - order.points_restored
        principal = _share(order.principal_spent_cents, refunded, amount) - order.principal_restored_cents
        bonus = _share(order.bonus_spent_cents, refunded, amount) - order.bonus_restored_cents
        refund = await Refund.create(order_id=order.id, refund_no=refund_no, amount_cents=amount_cents,
                                     reason=reason[:200], created_at=clock.now(), using_db=conn)
        receipt: dict[str, Any] = {"refund_id": refund.id, "order_no": order.order_no, "channel": order.channel,
                                   "amount_cents": amount_cents, "refunded_total_cents": refunded,
                                   "refundable_cents": amount - refunded}
        clawed = 0
        debt = 0
        assets = None
        if order.member_id is not None:
            assets = await Assets.open(conn, order.member_id)
            ctx = Context(source="order", channel=order.channel, store_id=order.store_id, order_id=order.id,
                          reason=f"订单 {order.order_no} 退款")
            if restore:
                await assets.credit(restore, kind="refund_restore", ctx=ctx, ref=f"refund:{refund.id}:restore",
                                    expires_at=await _restored_expiry(conn, order.id))
            if principal or bonus:
                await assets.wallet_credit(principal=principal, bonus=bonus, kind="refund", ctx=ctx,
                                           ref=f"refund:{refund.id}:wallet")
            if reverse:
                earn = await PointsEntry.get_or_none(member_id=order.member_id, ref=f"order:{order.id}:earn")
                _, clawed = await assets.debit(reverse, kind="refund_reversal", ctx=ctx, partial=True,
                                               debt_for_shortfall=True, ref=f"refund:{refund.id}:reverse",
                                               prefer_entry=earn.id if earn else None)
                debt = reverse - clawed
            assets.account.tier_measure = await tiers.measure(conn, order.member_id, program)
            await assets.save()
            await events.append(member_id=order.member_id, type="order_refunded", channel=order.channel,
                                store_id=order.store_id, using_db=conn,
                                payload={"order_id": order.id, "order_no": order.order_no,
                                         "amount_cents": amount_cents, "points_reversed": reverse,
                                         "points_restored": restore, "balance_restored_cents": principal + bonus})
        coupons_returned: list[int] = []
        if refunded >= amount:
            for hook in REFUND_HOOKS:
                coupons_returned += await hook(conn, order)
        receipt.update(points_reversed=reverse, points_clawed_back=clawed, points_debt_added=debt,
                       coupons_returned=coupons_returned,
                       points_restored=restore, balance_restored_cents=principal + bonus,
                       **_balances(assets, program))
        await Order.filter(id=order.id).using_db(conn).update(
            points_reversed=F("points_reversed") + reverse, points_restored=F("points_restored") + restore,
            principal_restored_cents=F("principal_restored_cents") + principal,
            bonus_restored_cents=F("bonus_restored_cents") + bonus,
            status="refunded" if refunded >= amount else "partially_refunded")
        await Refund.filter(id=refund.id).using_db(conn).update(
            points_reversed=reverse, points_clawed_back=clawed, debt_added=debt, points_restored=restore,
            principal_restored_cents=principal, bonus_restored_cents=bonus, receipt=receipt)
        if order.member_id is not None:  # ``order`` still holds the status it had before this refund
            await order_stats.order_refunded(
                conn, member_id=order.member_id, counted_before=order.status != "refunded",
                counted_after=refunded < amount, net_before=order.amount_cents - (refunded - amount_cents),
                net_after=order.amount_cents - refunded)
    return receipt


async def _restored_expiry(conn: Any, order_id: int) -> datetime | None:
    """Spent points come back with the latest expiry of the lots they were taken from."""
    spend = await PointsEntry.filter(order_id=order_id, kind="spend").using_db(conn).first()
    if spend is None:
        return None
    lot_ids = await PointsLotUse.filter(entry_id=spend.id).using_db(conn).values_list("lot_id", flat=True)
    expiries = await PointsLot.filter(id__in=list(lot_ids)).using_db(conn).values_list("expires_at", flat=True)
    if not expiries or any(expiry is None for expiry in expiries):
        return None
    return max(expiries)


async def topup_plans_used(member_id: int, program: programs.Program,
                           conn: BaseDBAsyncClient | None = None) -> dict[str, int]:
    """How many of the member's top-ups got each per-member-limited plan's bonus (refunded ones count too)."""
    codes = program.limited_topup_codes()
    if not codes:
        return {}
    query = Topup.filter(member_id=member_id, bonus_plan__in=codes)
    return dict(Counter(await (query.using_db(conn) if conn else query).values_list("bonus_plan", flat=True)))


def _topup_bonus(program: programs.Program, used: dict[str, int], *, amount_cents: int, channel: str,
                 bonus_cents: int | None, bonus_plan: str | None) -> tuple[int, str | None]:
    """The bonus a top-up gets and the plan it comes from: the one promised when an online payment began, unless
    that plan's per-member limit was reached meanwhile (another top-up of the member credited first); otherwise
    the best plan that applies now and that the member has not used up."""
    if bonus_cents is not None:
        promised = next((b for b in program.topup_bonuses if bonus_plan and b.code == bonus_plan), None)
        if promised is None or promised.per_member_limit is None or used.get(bonus_plan or "", 0) < \
                promised.per_member_limit:
            return bonus_cents, bonus_plan
    kind = "online" if channel in ("miniprogram", "online") else "store"
    choice = program.topup_choice(amount_cents, kind, clock.now(), used)
    return (choice.bonus_cents, choice.code) if choice else (0, None)


@db.retry_conflicts
async def topup(*, member_id: int, amount_cents: int, payment_ref: str, store_id: int | None, channel: str,
                tz: str, bonus_cents: int | None = None, bonus_plan: str | None = None) -> Outcome:
    """Stored value bought at the counter or paid online, with the best matching bonus rule (or
    ``bonus_cents`` of plan ``bonus_plan``, the bonus promised when an online payment began); once per payment_ref.
    A plan's per-member limit is counted under the member's account lock, so concurrent top-ups of one member
    never get a limited bonus more often than allowed."""
    try:
        async with in_transaction() as conn:
            program = await programs.load(conn)
            row = await Topup.create(payment_ref=payment_ref, member_id=member_id, store_id=store_id,
                                     amount_cents=amount_cents, bonus_cents=0, created_at=clock.now(),
                                     using_db=conn)
            assets = await Assets.open(conn, member_id)
            bonus, plan_code = _topup_bonus(program, await topup_plans_used(member_id, program, conn),
                                            amount_cents=amount_cents, channel=channel, bonus_cents=bonus_cents,
                                            bonus_plan=bonus_plan)
            ctx = Context(source="order", channel=channel, store_id=store_id, reason="储值充值")
            await assets.wallet_credit(principal=amount_cents, bonus=bonus, kind="topup", ctx=ctx,
                                       ref=f"topup:{row.id}", payment_ref=payment_ref)
            await assets.save()
            balances = _balances(assets, program)
            # bonus_cents is what this top-up added (the counter shows it as 赠送); the balance's bonus part
            # has its own name here, so the balances cannot overwrite it.
            receipt = {"topup_id": row.id, "payment_ref": payment_ref, "member_id": member_id,
                       "amount_cents": amount_cents, **balances, "bonus_cents": bonus,
                       "bonus_balance_cents": balances["bonus_cents"]}
            await Topup.filter(id=row.id).using_db(conn).update(receipt=receipt, bonus_cents=bonus, bonus_plan=plan_code)
            await events.append(member_id=member_id, type="wallet_topped_up", channel=channel, store_id=store_id,
                                payload={"amount_cents": amount_cents, "bonus_cents": bonus}, using_db=conn)
        return Outcome(receipt, created=True)
    except IntegrityError:
        previous = await Topup.get_or_none(payment_ref=payment_ref)
        if previous is None:
            raise
        if previous.member_id != member_id or previous.amount_cents != amount_cents:
            raise PaymentRefUsed(details={"payment_ref": payment_ref}) from None
        return Outcome(previous.receipt, created=False)


@db.retry_conflicts
async def adjust_points(*, member_id: int, points: int, reason: str, actor: audit.Actor, tz: str) -> dict[str, Any]:
    """Admin adjustment with a mandatory reason, audited in the same transaction."""
    async with in_transaction() as conn:
        program = await programs.load(conn)
        assets = await Assets.open(conn, member_id)
        before = assets.account.points_balance
        ctx = Context(source="staff", reason=reason)
        if points > 0:
            entry = await assets.credit(points, kind="adjust", ctx=ctx, expires_at=program.lot_expiry(clock.now(), tz))
        else:
            entry, _ = await assets.debit(-points, kind="adjust", ctx=ctx)
        await assets.save()
        await audit.record(actor=actor, action="points.adjust", member_id=member_id, target_type="points_entry",
                           target_id=entry.id if entry else None, before={"points_balance": before},
                           after={"points_balance": assets.account.points_balance, "points": points,
                                  "reason": reason}, using_db=conn)
        await events.append(member_id=member_id, type="points_adjusted", payload={"points": points, "reason": reason},
                            using_db=conn)
    return {"entry_id": entry.id if entry else None, **_balances(assets, program)}


async def expire_due_points(*, now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Expire every lot that is due, once: members in batches, each under its account lock."""
    now = now or clock.now()
    counts = {"members": 0, "points": 0}
    last = 0
    while True:
        member_ids = sorted(set(await PointsLot.filter(expires_at__lte=now, remaining__gt=0, member_id__gt=last)
                                .order_by("member_id").limit(batch).values_list("member_id", flat=True)))
        if not member_ids:
            return counts
        for member_id in member_ids:
            async with in_transaction() as conn:
                assets = await Assets.open(conn, member_id)
                expired = await assets.expire_due(now)
                await assets.save()
                if expired:
                    await events.append(member_id=member_id, type="points_expired", payload={"points": expired},
                                        using_db=conn)
            counts["members"] += 1
            counts["points"] += expired
        last = member_ids[-1]


async def grant_registration_points(conn: Any, member_id: int, channel: str, store_id: int | None,
                                    tz: str) -> None:
    """Registration bonus, the invitee's referral bonus and coupons, and the referrer's reward when it is
    given at registration: called once per member, in the transaction that claims the member's one
    registration reward."""
    program = await programs.load(conn)
    member = await Member.get(id=member_id).using_db(conn)
    grants = [("registration", program.registration_points, "注册奖励")]
    referrer_id = member.referrer_id
    if referrer_id is not None:
        grants.append(("invitee", program.invitee_points, "受邀注册奖励"))
    reward_referrer = (referrer_id is not None and program.referral.referrer_reward_on == "registration"
                       and _referrer_rewarded(program))
    if any(points for _, points, _ in grants) or reward_referrer:
        # Accounts in member-id order (the lock order): the referrer joined first.
        opened = {mid: await Assets.open(conn, mid)
                  for mid in sorted({member_id, referrer_id if reward_referrer else None} - {None})}
        assets = opened[member_id]
        for name, points, reason in grants:
            if points:
                await assets.credit(points, kind="bonus", ref=f"{name}_bonus",
                                    ctx=Context(source="campaign", reason=reason, channel=channel, store_id=store_id),
                                    expires_at=program.lot_expiry(clock.now(), tz))
        await assets.save()
        if reward_referrer and referrer_id is not None:
            await _referral_reward(conn, opened[referrer_id], member_id, program, channel, store_id, tz)
    if referrer_id is not None:
        for template_id in program.referral.invitee_coupon_template_ids:
            await rewards.coupon(conn, template_id, member_id, "referral:invitee")
