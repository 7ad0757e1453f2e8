"""Paid membership: periods granted once per payment, stacked end to end, read at the time they cover.

- ``grant``: one period for one payment (``payment_ref`` unique), under the member's membership lock (the
  ``memberships`` row's version bump, like the loyalty account's): a period starts when the member's current
  membership ends (now, when none is running), so two purchases settled at once give two periods end to end,
  neither overlapping nor lost. The ``membership_purchased`` / ``membership_renewed`` event is written in the
  same transaction.
- A period ends at midnight, merchant time: ``period_end`` adds its months to the start and rounds up to the next
  midnight (a start at midnight stays there, so renewals stack whole months). A month added to the 31st ends on
  the last day of a shorter month.
- Whether a member is a paid member, and with which benefits, is read from the period covering the instant asked
  about (an order's ``placed_at``): nothing flips at the end, it is simply over. The hourly job only notes the end
  on the timeline (``membership_expired``, once per end) and issues the monthly coupon packs.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import clock, db
from backend.loyalty import program as programs
from backend.loyalty import rewards
from backend.members import events
from backend.membership.models import Membership, MembershipPack, MembershipPeriod

log = logging.getLogger("backend.membership")

LOCK_SQL = ("UPDATE memberships SET version = version + 1, updated_at = $2 WHERE member_id = $1 "
            "RETURNING member_id, plan_code, ends_at")
COVERING_SQL = ("SELECT id, plan_code, plan_name, benefits, starts_at, ends_at FROM membership_periods "
                "WHERE member_id = $1 AND status = 'active' AND starts_at <= $2 AND ends_at > $2 "
                "ORDER BY starts_at LIMIT 1")
BATCH = 500


def add_months(local: datetime, months: int) -> datetime:
    month = local.month - 1 + months
    year, month = local.year + month // 12, month % 12 + 1
    return local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))


def period_end(start: datetime, period: str, tz: str) -> datetime:
    """The end of a period of ``period`` beginning at ``start``: its months added in merchant time, rounded up to
    the next merchant midnight (a start at midnight ends at midnight)."""
    zone = ZoneInfo(tz)
    local = add_months(start.astimezone(zone), programs.PERIOD_MONTHS[period])
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    if midnight < local:
        following = (midnight + timedelta(days=1)).date()
        midnight = datetime(following.year, following.month, following.day, tzinfo=zone)
    return midnight.astimezone(start.tzinfo)


def month_of(when: datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


async def lock(conn: BaseDBAsyncClient, member_id: int) -> dict[str, Any]:
    """The member's membership row under its lock (created on first use), read fresh."""
    now = clock.now()
    row = await db.fetch_one(LOCK_SQL, member_id, now, conn=conn)
    if row is None:
        await Membership.bulk_create([Membership(member_id=member_id, updated_at=now)], ignore_conflicts=True,
                                     using_db=conn)
        row = await db.fetch_one(LOCK_SQL, member_id, now, conn=conn)
    assert row is not None
    return {**row, "ends_at": db.to_datetime(row["ends_at"])}


def period_view(row: MembershipPeriod) -> dict[str, Any]:
    return {"id": row.id, "plan_code": row.plan_code, "plan_name": row.plan_name, "period": row.period,
            "price_cents": row.price_cents, "starts_at": row.starts_at.isoformat(), "ends_at": row.ends_at.isoformat(),
            "status": row.status, "refunded_at": row.refunded_at.isoformat() if row.refunded_at else None}


@db.retry_conflicts
async def grant(*, member_id: int, plan: dict[str, Any], payment_ref: str, payment_id: int | None, tz: str,
                channel: str = "miniprogram") -> tuple[MembershipPeriod, bool]:
    """One period of ``plan`` (as it was when the order was made: code, name, period, price_cents, benefits) for one
    payment, after the member's current membership; the first grant again (created False) for a payment granted."""
    try:
        async with in_transaction() as conn:
            state = await lock(conn, member_id)
            existing = await MembershipPeriod.get_or_none(payment_ref=payment_ref).using_db(conn)
            if existing is not None:
                return existing, False
            now = clock.now()
            renewal = state["ends_at"] is not None and state["ends_at"] > now
            starts_at = state["ends_at"] if renewal else now
            ends_at = period_end(starts_at, plan["period"], tz)
            period = await MembershipPeriod.create(
                member_id=member_id, plan_code=plan["code"], plan_name=plan["name"], period=plan["period"],
                price_cents=plan["price_cents"], benefits=plan["benefits"], payment_ref=payment_ref,
                payment_id=payment_id, starts_at=starts_at, ends_at=ends_at, created_at=now, using_db=conn)
            await Membership.filter(member_id=member_id).using_db(conn).update(plan_code=plan["code"], ends_at=ends_at)
            await events.append(member_id=member_id, type="membership_renewed" if renewal else "membership_purchased",
                                channel=channel, using_db=conn,
                                payload={"plan_code": plan["code"], "period_id": period.id,
                                         "price_cents": plan["price_cents"], "starts_at": starts_at.isoformat(),
                                         "ends_at": ends_at.isoformat()})
        return period, True
    except IntegrityError:
        existing = await MembershipPeriod.get_or_none(payment_ref=payment_ref)
        if existing is None:
            raise
        return existing, False


async def covering(member_id: int, at: datetime, conn: BaseDBAsyncClient | None = None) -> dict[str, Any] | None:
    """The member's period running at ``at`` (id, plan_code, plan_name, benefits, starts_at, ends_at), or None."""
    row = await db.fetch_one(COVERING_SQL, member_id, at, conn=conn)
    if row is None:
        return None
    benefits = row["benefits"]
    if isinstance(benefits, str | bytes):
        import json

        benefits = json.loads(benefits)
    return {**row, "benefits": benefits, "starts_at": db.to_datetime(row["starts_at"]),
            "ends_at": db.to_datetime(row["ends_at"])}


async def points_multiplier_pct(conn: BaseDBAsyncClient, member_id: int, at: datetime) -> int:
    """The points multiplier the member's paid membership gives an order placed at ``at`` (100: none)."""
    current = await covering(member_id, at, conn)
    return int(current["benefits"].get("points_multiplier_pct", 100)) if current else 100


async def status(member_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The member's paid membership now: whether it runs, the plan and benefits of the period running, until when
    (the end of the last period bought), and the periods, newest first."""
    now = now or clock.now()
    current = await covering(member_id, now)
    state = await Membership.get_or_none(member_id=member_id)
    periods = await MembershipPeriod.filter(member_id=member_id).order_by("-id").limit(50)
    active = current is not None
    return {"active": active, "plan_code": current["plan_code"] if current else None,
            "plan_name": current["plan_name"] if current else None,
            "benefits": current["benefits"] if current else None,
            "ends_at": state.ends_at.isoformat() if active and state and state.ends_at else None,
            "periods": [period_view(period) for period in periods]}


async def summary(member_id: int, tier_discount_pct: int, now: datetime | None = None) -> dict[str, Any]:
    """What the counter needs of the member's paid membership: its benefits, and the member price to charge (the
    better of the tier's and the membership's rate: the two discounts never multiply)."""
    current = await covering(member_id, now or clock.now())
    if current is None:
        return {"active": False, "plan_code": None, "plan_name": None, "ends_at": None, "discount_pct": 100,
                "points_multiplier_pct": 100, "free_shipping": False, "member_price_pct": tier_discount_pct}
    state = await Membership.get(member_id=member_id)
    benefits = current["benefits"]
    return {"active": True, "plan_code": current["plan_code"], "plan_name": current["plan_name"],
            "ends_at": state.ends_at.isoformat() if state.ends_at else None,
            "discount_pct": benefits["discount_pct"], "points_multiplier_pct": benefits["points_multiplier_pct"],
            "free_shipping": benefits["free_shipping"],
            "member_price_pct": min(tier_discount_pct, benefits["discount_pct"])}


# -- the hourly job ------------------------------------------------------------------------------------------

async def note_expiries(now: datetime | None = None) -> int:
    """A ``membership_expired`` event for each membership that ended since the last run, once per end."""
    now = now or clock.now()
    noted = 0
    last = 0
    while True:
        rows = await db.fetch("SELECT member_id, ends_at FROM memberships WHERE member_id > $1 AND ends_at <= $2 "
                              "AND (expired_noted_for IS NULL OR expired_noted_for <> ends_at) ORDER BY member_id "
                              "LIMIT $3", last, now, BATCH)
        if not rows:
            return noted
        for row in rows:
            async with in_transaction() as conn:
                claimed = await db.fetch("UPDATE memberships SET expired_noted_for = ends_at WHERE member_id = $1 "
                                         "AND ends_at = $2 AND ends_at <= $3 RETURNING plan_code, ends_at",
                                         row["member_id"], row["ends_at"], now, conn=conn)
                if claimed:
                    await events.append(member_id=int(row["member_id"]), type="membership_expired", using_db=conn,
                                        payload={"plan_code": claimed[0]["plan_code"],
                                                 "ends_at": db.to_datetime(claimed[0]["ends_at"]).isoformat()})
                    noted += 1
        last = int(rows[-1]["member_id"])


async def issue_packs(*, tz: str, now: datetime | None = None) -> dict[str, int]:
    """This merchant month's coupon pack for every member whose paid period runs now and includes one: once per
    member and month (``membership_packs``' unique key), however often the job runs or how many run at once."""
    now = now or clock.now()
    month = month_of(now, tz)
    counts = {"members": 0, "coupons": 0}
    last = 0
    while True:
        rows = await db.fetch(
            "SELECT p.member_id, p.id, p.benefits FROM membership_periods p WHERE p.member_id > $1 "
            "AND p.status = 'active' AND p.starts_at <= $2 AND p.ends_at > $2 AND NOT EXISTS "
            "(SELECT 1 FROM membership_packs k WHERE k.member_id = p.member_id AND k.month = $3) "
            "ORDER BY p.member_id LIMIT $4", last, now, month, BATCH)
        if not rows:
            return counts
        for row in rows:
            benefits = row["benefits"]
            if isinstance(benefits, str | bytes):
                import json

                benefits = json.loads(benefits)
            if benefits.get("monthly_coupons"):
                try:
                    issued = await _issue_pack(int(row["member_id"]), int(row["id"]), month, benefits, now)
                except Exception:  # one member's failure never stops the others
                    log.exception("membership pack failed", extra={"member_id": row["member_id"]})
                    continue
                if issued is not None:
                    counts["members"] += 1
                    counts["coupons"] += issued
        last = int(rows[-1]["member_id"])


async def _issue_pack(member_id: int, period_id: int, month: str, benefits: dict[str, Any],
                      now: datetime) -> int | None:
    """The pack row first (its unique key makes a second issuer stop there and roll back), then its coupons."""
    try:
        async with in_transaction() as conn:
            pack = await MembershipPack.create(member_id=member_id, month=month, period_id=period_id, created_at=now,
                                               using_db=conn)
            coupon_ids: list[int] = []
            for item in benefits["monthly_coupons"]:
                for n in range(int(item["count"])):
                    given = await rewards.coupon(conn, int(item["template_id"]), member_id,
                                                 f"membership:{month}:{n + 1}")
                    if given:
                        coupon_ids.append(int(given["id"]))
            await MembershipPack.filter(id=pack.id).using_db(conn).update(coupon_ids=coupon_ids)
            await events.append(member_id=member_id, type="membership_pack_issued", using_db=conn,
                                payload={"month": month, "period_id": period_id, "coupon_ids": coupon_ids})
        return len(coupon_ids)
    except IntegrityError:
        return None  # issued by another run meanwhile


async def summary_section(member: Any, store_id: int | None) -> dict[str, Any]:
    """The clerk's member card: the paid membership and the member price rate to charge."""
    from backend.loyalty.models import LoyaltyAccount

    program = await programs.load()
    account = await LoyaltyAccount.get_or_none(member_id=member.id)
    tier = program.tier(account.tier_code if account else None)
    return {"membership": await summary(member.id, tier.discount_pct)}


_installed: set[str] = set()


def install(timezone: str) -> None:
    """Plug the paid membership into the member services (once per process)."""
    from backend.members import merge, scan

    if "hooks" in _installed:
        return
    _installed.add("hooks")

    async def merge_periods(conn: BaseDBAsyncClient, survivor_id: int, merged_id: int) -> dict[str, Any]:
        return await merge_hook(conn, survivor_id, merged_id, tz=timezone)

    scan.SUMMARY_SECTIONS.append(summary_section)
    merge.MERGE_HOOKS.append(merge_periods)


# -- refunds (cooling-off) -----------------------------------------------------------------------------------

async def refund_check(conn: BaseDBAsyncClient, period: MembershipPeriod, refund_days: int,
                       now: datetime) -> str | None:
    """Why the period cannot be refunded now (None: it can), read under the member's membership lock: only the
    member's last period, within ``refund_days`` of its purchase, none of whose benefits was used (no monthly pack
    issued from it, no order placed while it ran)."""
    if period.status != "active":
        return "already_refunded"
    if now > period.created_at + timedelta(days=refund_days):
        return "refund_window_passed"
    later = await MembershipPeriod.filter(member_id=period.member_id, status="active",
                                          starts_at__gte=period.ends_at).using_db(conn).exists()
    if later:
        return "not_last_period"
    if await MembershipPack.filter(period_id=period.id).using_db(conn).exists():
        return "benefits_used"
    used = await db.fetch_one("SELECT 1 AS used FROM orders WHERE member_id = $1 AND placed_at >= $2 "
                              "AND placed_at < $3 LIMIT 1", period.member_id, period.starts_at, period.ends_at,
                              conn=conn)
    return "benefits_used" if used else None


async def remove_period(conn: BaseDBAsyncClient, period: MembershipPeriod, now: datetime) -> datetime | None:
    """Take a refunded period off the member's time, under the member's membership lock; the membership's end
    afterwards (None: no period left)."""
    await MembershipPeriod.filter(id=period.id, status="active").using_db(conn).update(status="refunded",
                                                                                     refunded_at=now)
    return await _recompute_end(conn, period.member_id)


async def _recompute_end(conn: BaseDBAsyncClient, member_id: int) -> datetime | None:
    last = await MembershipPeriod.filter(member_id=member_id, status="active").using_db(conn).order_by(
        "-ends_at").first()
    await Membership.filter(member_id=member_id).using_db(conn).update(
        ends_at=last.ends_at if last else None, plan_code=last.plan_code if last else None)
    return last.ends_at if last else None


async def reinstate(conn: BaseDBAsyncClient, period_id: int, tz: str) -> None:
    """A refund WeChat Pay refused or closed gives the period back, once (the caller's conditional UPDATE of the
    refund is the guard): where it was when nothing was bought since, otherwise a whole period after the current
    end (never overlapping another)."""
    period = await MembershipPeriod.get(id=period_id).using_db(conn)
    state = await lock(conn, period.member_id)
    now = clock.now()
    if state["ends_at"] is None or state["ends_at"] <= period.starts_at:
        starts_at, ends_at = period.starts_at, period.ends_at
    else:
        starts_at = max(now, state["ends_at"])
        ends_at = period_end(starts_at, period.period, tz)
    await MembershipPeriod.filter(id=period.id).using_db(conn).update(status="active", refunded_at=None,
                                                                     starts_at=starts_at, ends_at=ends_at)
    await _recompute_end(conn, period.member_id)
    await events.append(member_id=period.member_id, type="membership_reinstated", using_db=conn,
                        payload={"period_id": period.id, "starts_at": starts_at.isoformat(),
                                 "ends_at": ends_at.isoformat()})


# -- merges --------------------------------------------------------------------------------------------------

def _ceil_midnight(when: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    if midnight < local:
        following = (midnight + timedelta(days=1)).date()
        midnight = datetime(following.year, following.month, following.day, tzinfo=zone)
    return midnight.astimezone(when.tzinfo)


async def merge_hook(conn: BaseDBAsyncClient, survivor_id: int, merged_id: int, *, tz: str) -> dict[str, Any]:
    """The merged member's periods go to the survivor: those over stay as history, the time still to run is
    stacked after the survivor's own membership (each boundary moved by the same span and rounded up to merchant
    midnight, so the moved periods stay end to end). Both membership rows locked in member-id order."""
    states = {member_id: await lock(conn, member_id) for member_id in sorted((survivor_id, merged_id))}
    now = clock.now()
    survivor_end = states[survivor_id]["ends_at"]
    delta = survivor_end - now if survivor_end is not None and survivor_end > now else timedelta(0)
    moved = 0
    for period in await MembershipPeriod.filter(member_id=merged_id).using_db(conn).order_by("starts_at"):
        changes: dict[str, Any] = {"member_id": survivor_id}
        if period.status == "active" and period.ends_at > now and delta:
            start = survivor_end if period.starts_at <= now else _ceil_midnight(period.starts_at + delta, tz)
            changes.update(starts_at=start, ends_at=_ceil_midnight(period.ends_at + delta, tz))
        await MembershipPeriod.filter(id=period.id).using_db(conn).update(**changes)
        moved += 1
    await db.fetch("UPDATE membership_packs SET member_id = $1 WHERE member_id = $2 AND month NOT IN "
                   "(SELECT month FROM membership_packs WHERE member_id = $1)", survivor_id, merged_id, conn=conn)
    await _recompute_end(conn, survivor_id)
    await _recompute_end(conn, merged_id)
    return {"membership_periods": moved}
