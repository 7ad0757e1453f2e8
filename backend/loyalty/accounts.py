"""A member's points and stored value, changed only through ``Assets`` under the account's lock.

``Assets.open(conn, member_id)`` bumps the account row's version first: on PostgreSQL that UPDATE
holds the row lock until the transaction ends, so every writer of one member's assets (orders,
refunds, top-ups, adjustments, expiry, merges) runs one after another, whatever the number of
processes; SQLite has one writer at a time anyway. Under the lock, balances are read fresh, each
change is a ledger row plus the balance it changes, and ``save()`` writes the balances back.

Invariants (checked by the tests after every step): points balance = sum of points entries =
sum of the remaining points of the member's lots; points debt = sum of debt deltas; principal and
bonus = sums of their wallet columns; none ever negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock, db
from backend.loyalty.errors import InsufficientBalance, InsufficientPoints
from backend.loyalty.models import LoyaltyAccount, PointsEntry, PointsLot, PointsLotUse, WalletEntry


@dataclass(frozen=True)
class Context:
    """Where a change comes from, copied onto each ledger row it writes."""

    source: str  # order | campaign | staff | system
    reason: str = ""
    channel: str | None = None
    store_id: int | None = None
    order_id: int | None = None


# Fixed statements on the hottest write path (every order, refund and top-up runs both).
LOCK_SQL = ("UPDATE loyalty_accounts SET version = version + 1, updated_at = $2 WHERE member_id = $1 "
            "RETURNING member_id, points_balance, points_debt, principal_cents, bonus_cents, tier_code, "
            "tier_since, tier_measure, version, updated_at")
SAVE_SQL = ("UPDATE loyalty_accounts SET points_balance = $2, points_debt = $3, principal_cents = $4, "
            "bonus_cents = $5, tier_code = $6, tier_since = $7, tier_measure = $8, updated_at = $9 "
            "WHERE member_id = $1")


def _lot_order(lot: PointsLot, prefer_entry: int | None) -> tuple[Any, ...]:
    # First the lot a refund should take back, then the first to expire, never-expiring last.
    return (lot.entry_id != prefer_entry if prefer_entry else False, lot.expires_at is None,
            lot.expires_at or datetime.max, lot.id)


# What open checkout sessions hold of a member's points and stored value (expired ones hold nothing).
HELD_SQL = ("SELECT COALESCE(SUM(points), 0) AS points, COALESCE(SUM(balance_cents), 0) AS cents "
            "FROM checkout_sessions WHERE member_id = $1 AND status = 'open' AND expires_at > $2 AND id <> $3")


class Assets:
    def __init__(self, conn: BaseDBAsyncClient, account: LoyaltyAccount) -> None:
        self.conn = conn
        self.account = account
        self.session_id: int | None = None  # the checkout session whose holds this writer may use

    async def held(self) -> tuple[int, int]:
        """(points, cents) held by open checkout sessions other than ``session_id``; read under the
        account lock, which every session opening takes too."""
        row = await db.fetch_one(HELD_SQL, self.member_id, clock.now(), self.session_id or 0, conn=self.conn)
        assert row is not None
        return int(row["points"]), int(row["cents"])

    @classmethod
    async def open(cls, conn: BaseDBAsyncClient, member_id: int) -> Assets:
        """Lock the member's account (creating it on first use) and read it fresh, in one statement."""
        now = clock.now()
        row = await db.fetch_one(LOCK_SQL, member_id, now, conn=conn)
        if row is None:
            await LoyaltyAccount.bulk_create([LoyaltyAccount(member_id=member_id, updated_at=now)],
                                             ignore_conflicts=True, using_db=conn)
            row = await db.fetch_one(LOCK_SQL, member_id, now, conn=conn)
        assert row is not None
        return cls(conn, LoyaltyAccount._init_from_db(**row))

    @property
    def member_id(self) -> int:
        return self.account.member_id

    async def save(self) -> None:
        a = self.account
        await db.fetch(SAVE_SQL, a.member_id, a.points_balance, a.points_debt, a.principal_cents, a.bonus_cents,
                       a.tier_code, a.tier_since, a.tier_measure, clock.now(), conn=self.conn)

    # --- points ---

    async def _entry(self, *, kind: str, points: int, ctx: Context, ref: str | None, debt_delta: int = 0,
                     reason: str | None = None) -> PointsEntry:
        self.account.points_balance += points
        self.account.points_debt += debt_delta
        return await PointsEntry.create(
            member_id=self.member_id, kind=kind, points=points, debt_delta=debt_delta,
            balance_after=self.account.points_balance, reason=(reason if reason is not None else ctx.reason)[:200],
            source=ctx.source, channel=ctx.channel, store_id=ctx.store_id, order_id=ctx.order_id, ref=ref,
            created_at=clock.now(), using_db=self.conn)

    async def live_lots(self) -> list[PointsLot]:
        return list(await PointsLot.filter(member_id=self.member_id, remaining__gt=0).using_db(self.conn))

    async def expire_due(self, now: datetime | None = None) -> int:
        """Expire this member's lots that are due; each lot once (it is emptied under the lock)."""
        now = now or clock.now()
        expired = 0
        due = await PointsLot.filter(member_id=self.member_id, remaining__gt=0,
                                     expires_at__lte=now).using_db(self.conn).order_by("expires_at", "id")
        for lot in due:
            entry = await self._entry(kind="expire", points=-lot.remaining, ctx=Context(source="system"),
                                      ref=f"expire:{lot.id}", reason="积分到期")
            await PointsLotUse.create(entry_id=entry.id, lot_id=lot.id, points=lot.remaining, using_db=self.conn)
            await PointsLot.filter(id=lot.id).using_db(self.conn).update(remaining=0)
            expired += lot.remaining
        return expired

    async def credit(self, points: int, *, kind: str, ctx: Context, ref: str | None = None,
                     expires_at: datetime | None = None) -> PointsEntry:
        """Add points as a new lot; an outstanding points debt is paid off from them first."""
        if points <= 0:
            raise ValueError("credit needs a positive number of points")
        entry = await self._entry(kind=kind, points=points, ctx=ctx, ref=ref)
        lot = await PointsLot.create(member_id=self.member_id, earned=points, remaining=points,
                                     expires_at=expires_at, entry_id=entry.id, created_at=clock.now(),
                                     using_db=self.conn)
        repay = min(self.account.points_debt, points)
        if repay:
            repaid = await self._entry(kind="debt_repay", points=-repay, debt_delta=-repay, ctx=ctx,
                                       ref=f"{ref}:debt" if ref else None, reason="抵扣退款积分欠款")
            await PointsLotUse.create(entry_id=repaid.id, lot_id=lot.id, points=repay, using_db=self.conn)
            await PointsLot.filter(id=lot.id).using_db(self.conn).update(remaining=points - repay)
        return entry

    async def debit(self, points: int, *, kind: str, ctx: Context, ref: str | None = None,
                    partial: bool = False, prefer_entry: int | None = None,
                    debt_for_shortfall: bool = False) -> tuple[PointsEntry | None, int]:
        """Take points from the lots, first to expire first; returns the entry and the points taken.

        ``partial`` takes what the balance holds instead of refusing; ``debt_for_shortfall`` records
        the rest as points debt on the same entry (refund claw-back of points already spent).
        """
        if points <= 0:
            raise ValueError("debit needs a positive number of points")
        await self.expire_due()
        available = self.account.points_balance
        if kind == "spend":  # a shopper's spend may not take what a checkout session holds
            held = (await self.held())[0]
            if available - held < points:
                raise InsufficientPoints(details={"balance": available, "held": held, "requested": points})
        if available < points and not partial:
            raise InsufficientPoints(details={"balance": available, "requested": points})
        take = min(points, available)
        shortfall = points - take if debt_for_shortfall else 0
        if take == 0 and shortfall == 0:
            return None, 0
        entry = await self._entry(kind=kind, points=-take, debt_delta=shortfall, ctx=ctx, ref=ref)
        remaining = take
        for lot in sorted(await self.live_lots(), key=lambda lot: _lot_order(lot, prefer_entry)):
            if remaining == 0:
                break
            used = min(lot.remaining, remaining)
            await PointsLot.filter(id=lot.id).using_db(self.conn).update(remaining=lot.remaining - used)
            await PointsLotUse.create(entry_id=entry.id, lot_id=lot.id, points=used, using_db=self.conn)
            remaining -= used
        if remaining:  # the balance and the lots disagree: never commit that
            raise RuntimeError(f"points lots of member {self.member_id} short by {remaining}")
        return entry, take

    async def transfer_all_to(self, other: Assets, *, ctx: Context) -> None:
        """Everything this account holds moves to ``other`` (a merge): points with their lots and
        debt, principal and bonus; each side's ledgers record it. Both accounts must be locked."""
        points, debt = self.account.points_balance, self.account.points_debt
        if points or debt:
            await self._entry(kind="transfer_out", points=-points, debt_delta=-debt, ctx=ctx, ref="merge:out")
            await other._entry(kind="transfer_in", points=points, debt_delta=debt, ctx=ctx,
                               ref=f"merge:in:{self.member_id}")
            await PointsLot.filter(member_id=self.member_id, remaining__gt=0).using_db(self.conn).update(
                member_id=other.member_id)
        principal, bonus = self.account.principal_cents, self.account.bonus_cents
        if principal or bonus:
            await self._wallet(kind="transfer_out", principal=-principal, bonus=-bonus, ctx=ctx, ref="merge:out")
            await other._wallet(kind="transfer_in", principal=principal, bonus=bonus, ctx=ctx,
                                ref=f"merge:in:{self.member_id}")

    # --- stored value ---

    async def _wallet(self, *, kind: str, principal: int, bonus: int, ctx: Context, ref: str | None,
                      payment_ref: str | None = None, reason: str | None = None) -> WalletEntry:
        self.account.principal_cents += principal
        self.account.bonus_cents += bonus
        if self.account.principal_cents < 0 or self.account.bonus_cents < 0:
            raise RuntimeError(f"stored value of member {self.member_id} would go negative")
        return await WalletEntry.create(
            member_id=self.member_id, kind=kind, principal_cents=principal, bonus_cents=bonus,
            principal_after=self.account.principal_cents, bonus_after=self.account.bonus_cents,
            reason=(reason if reason is not None else ctx.reason)[:200], channel=ctx.channel, store_id=ctx.store_id,
            order_id=ctx.order_id, payment_ref=payment_ref, ref=ref, created_at=clock.now(), using_db=self.conn)

    async def wallet_credit(self, *, principal: int, bonus: int, kind: str, ctx: Context, ref: str | None = None,
                            payment_ref: str | None = None) -> WalletEntry:
        if principal < 0 or bonus < 0 or principal + bonus == 0:
            raise ValueError("wallet credit needs a positive amount")
        return await self._wallet(kind=kind, principal=principal, bonus=bonus, ctx=ctx, ref=ref,
                                  payment_ref=payment_ref)

    async def wallet_spend(self, cents: int, *, ctx: Context, ref: str | None = None) -> tuple[int, int]:
        """Spend principal first, then bonus; returns (principal, bonus) taken."""
        total = self.account.principal_cents + self.account.bonus_cents
        held = (await self.held())[1]
        if cents > total - held:
            raise InsufficientBalance(details={"balance_cents": total, "held_cents": held, "requested_cents": cents})
        principal = min(cents, self.account.principal_cents)
        bonus = cents - principal
        await self._wallet(kind="spend", principal=-principal, bonus=-bonus, ctx=ctx, ref=ref)
        return principal, bonus
