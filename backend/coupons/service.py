"""Coupons: templates, issuing (admin batches, coupon center, points mall, rewards), redemption in
store and in orders, reversal, refunds and expiry.

Concurrency: issuing bumps the template's ``issued_count`` with one conditional UPDATE that is both
the stock check and the template's row lock, so per-member limits are counted under that lock;
500 concurrent claims of a 100-stock template give exactly 100 coupons. Redeeming is a conditional
UPDATE ``... WHERE status = 'available'``: one caller wins, the others get 409. The template is the
last lock a transaction takes, after the member's loyalty account and coupons (``backend.loyalty.orders``).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

import notifications
from backend import audit, clock, db
from backend.coupons import terms as terms_
from backend.coupons.errors import (
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponHeld,
    CouponLimitReached,
    CouponNotApplicable,
    CouponNotClaimable,
    CouponNotFound,
    CouponNotYetValid,
    CouponOutOfStock,
    CouponTemplateNotFound,
    CouponTemplatePaused,
    CouponTemplateState,
    CouponTemplateWindowPast,
    MallItemNotFound,
    RedemptionNotFound,
    RedemptionNotReversible,
)
from backend.coupons.models import Coupon, CouponTemplate, PointsMallItem, Redemption
from backend.errors import DomainError
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.models import LoyaltyAccount
from backend.members import events
from notifications import templates as message_templates

TRANSITIONS = {"draft": {"active", "ended"}, "active": {"paused", "ended"}, "paused": {"active", "ended"},
               "ended": set()}


def _day(when: datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).date().isoformat()


# --- templates ---

async def create_template(*, name: str, description: str, terms: terms_.Terms, total_stock: int | None,
                          per_member_limit: int | None, per_member_daily_limit: int | None, claimable: bool,
                          claim_tiers: list[str], actor: audit.Actor) -> CouponTemplate:
    now = clock.now()
    async with in_transaction() as conn:
        template = await CouponTemplate.create(
            name=name, description=description, terms=terms.model_dump(mode="json"), total_stock=total_stock,
            per_member_limit=per_member_limit, per_member_daily_limit=per_member_daily_limit, claimable=claimable,
            claim_tiers=claim_tiers, created_at=now, updated_at=now, using_db=conn)
        await audit.record(actor=actor, action="coupon_template.create", target_type="coupon_template",
                           target_id=template.id, after=template.terms, using_db=conn)
    return template


async def update_template(*, template_id: int, changes: dict[str, Any], actor: audit.Actor) -> CouponTemplate:
    """Edit a template. Coupons already issued keep the terms they were issued with."""
    async with in_transaction() as conn:
        template = await CouponTemplate.filter(id=template_id).using_db(conn).select_for_update().first()
        if template is None:
            raise CouponTemplateNotFound()
        if template.status == "ended":
            raise CouponTemplateState(details={"status": template.status})
        before = {key: getattr(template, key) for key in changes}
        if "terms" in changes:
            if template.status == "active" and changes["terms"].window_ended(clock.now()):
                raise CouponTemplateWindowPast(details={"valid_until": changes["terms"].valid_until.isoformat()})
            changes["terms"] = changes["terms"].model_dump(mode="json")
        if "total_stock" in changes and changes["total_stock"] is not None \
                and changes["total_stock"] < template.issued_count:
            raise CouponTemplateState("库存不能少于已发放数量", details={"issued_count": template.issued_count})
        await CouponTemplate.filter(id=template_id).using_db(conn).update(**changes, updated_at=clock.now())
        await audit.record(actor=actor, action="coupon_template.update", target_type="coupon_template",
                           target_id=template_id, before=before, after=changes, using_db=conn)
        return await CouponTemplate.get(id=template_id).using_db(conn)


async def set_status(*, template_id: int, status: str, actor: audit.Actor) -> CouponTemplate:
    async with in_transaction() as conn:
        template = await CouponTemplate.get_or_none(id=template_id).using_db(conn)
        if template is None:
            raise CouponTemplateNotFound()
        if status not in TRANSITIONS[template.status]:
            raise CouponTemplateState(details={"from": template.status, "to": status})
        terms = terms_.Terms.model_validate(template.terms)
        if status == "active" and terms.window_ended(clock.now()):
            # Activated, it would spend stock on coupons born expired.
            raise CouponTemplateWindowPast(details={"valid_until": terms.valid_until.isoformat()})
        moved = await CouponTemplate.filter(id=template_id, status=template.status).using_db(conn).update(
            status=status, updated_at=clock.now())
        if not moved:
            raise CouponTemplateState(details={"from": template.status, "to": status})
        await audit.record(actor=actor, action="coupon_template.status", target_type="coupon_template",
                           target_id=template_id, before={"status": template.status}, after={"status": status},
                           using_db=conn)
        template.status = status
    return template


# --- issuing ---

async def issue(conn: BaseDBAsyncClient, *, template_id: int, member_id: int, source: str, source_ref: str,
                tz: str) -> tuple[Coupon, bool]:
    """One coupon of the template for the member, on the caller's transaction; the same
    (template, member, source_ref) twice gives the first coupon back, created False."""
    existing = await Coupon.get_or_none(template_id=template_id, member_id=member_id,
                                        source_ref=source_ref).using_db(conn)
    if existing is not None:
        return existing, False
    taken = await CouponTemplate.filter(
        Q(total_stock__isnull=True) | Q(total_stock__gt=F("issued_count")), id=template_id, status="active",
    ).using_db(conn).update(issued_count=F("issued_count") + 1)
    template = await CouponTemplate.get_or_none(id=template_id).using_db(conn)
    if template is None:
        raise CouponTemplateNotFound()
    if not taken:
        if template.status != "active":
            raise CouponNotClaimable(details={"status": template.status})
        raise CouponOutOfStock(details={"total_stock": template.total_stock})
    now = clock.now()
    terms = terms_.Terms.model_validate(template.terms)
    if terms.window_ended(now):
        # The stock just taken goes back with the caller's rollback.
        raise CouponNotClaimable("该券活动已结束", details={"reason": "window_ended",
                                                      "valid_until": terms.valid_until.isoformat()})
    # Under the template's row lock: the per-member counts cannot move under us.
    today = _day(now, tz)
    if template.per_member_limit is not None:
        held = await Coupon.filter(template_id=template_id, member_id=member_id).using_db(conn).count()
        if held >= template.per_member_limit:
            raise CouponLimitReached(details={"per_member_limit": template.per_member_limit})
    if template.per_member_daily_limit is not None:
        today_count = await Coupon.filter(template_id=template_id, member_id=member_id,
                                          issued_day=today).using_db(conn).count()
        if today_count >= template.per_member_daily_limit:
            raise CouponLimitReached(details={"per_member_daily_limit": template.per_member_daily_limit})
    valid_from, valid_until = terms.window(now)
    coupon = await Coupon.create(template_id=template_id, member_id=member_id, terms=template.terms,
                                 name=template.name, valid_from=valid_from, valid_until=valid_until, source=source,
                                 source_ref=source_ref, issued_at=now, issued_day=today, using_db=conn)
    await events.append(member_id=member_id, type="coupon_issued", using_db=conn,
                        payload={"coupon_id": coupon.id, "template_id": template_id, "source": source})
    return coupon, True


async def issue_batch(*, template_id: int, member_ids: list[int], batch_id: str, actor: audit.Actor,
                      tz: str) -> dict[str, Any]:
    """Admin issue to a list of members: each member in its own transaction, idempotent per
    (template, member, batch) so a repeated or resumed batch issues nothing twice."""
    result: dict[str, Any] = {"issued": 0, "already_issued": 0, "failed": {}}
    for member_id in member_ids:
        try:
            async with in_transaction() as conn:
                _, created = await issue(conn, template_id=template_id, member_id=member_id, source="admin",
                                         source_ref=f"batch:{batch_id}", tz=tz)
            result["issued" if created else "already_issued"] += 1
        except IntegrityError:
            result["already_issued"] += 1
        except (CouponOutOfStock, CouponLimitReached, CouponNotClaimable) as exc:
            result["failed"][str(member_id)] = exc.code
            if isinstance(exc, CouponNotClaimable | CouponOutOfStock):
                for rest in member_ids[member_ids.index(member_id) + 1:]:
                    result["failed"][str(rest)] = exc.code
                break
    await audit.record(actor=actor, action="coupon_template.issue", target_type="coupon_template",
                       target_id=template_id, after={"batch_id": batch_id, "issued": result["issued"],
                                                     "already_issued": result["already_issued"],
                                                     "failed": len(result["failed"])})
    return result


async def issue_set(conn: BaseDBAsyncClient, *, template_id: int, members_sql: str, params: list[Any],
                    source: str, source_ref: str, tz: str) -> dict[str, int]:
    """One coupon of the template for each member ``members_sql`` selects (a ``SELECT member_id …``
    whose placeholders start at ``$6``), in three statements whatever the number of members.

    Idempotent per (template, member, source_ref); holds the template's stock and per-member limit
    under its row lock, oldest member ids first when stock runs short. For touches and programs
    that reach many members at once; ``issue`` is the one-member form.
    """
    plan = await _issue_plan(conn, template_id=template_id, members_sql=members_sql, params=params, source=source,
                             source_ref=source_ref, tz=tz)
    if isinstance(plan, dict):
        return plan
    if db.is_postgres() and not await events.rows_needed("coupon_issued", conn):
        # Nobody needs the rows here (no webhook subscribes, no replica): the coupons and their timeline rows
        # in one statement, as ``events.append_many`` would write them, and only the count comes back.
        row = await db.fetch_one(f"WITH {plan.with_timeline()} SELECT COUNT(*) AS n FROM issued", *plan.values,
                                 conn=conn)
        issued = int(row["n"]) if row else 0
        await count_issued(conn, template_id, issued)
        return {"issued": issued, "refused": 0}
    rows = await db.fetch(plan.insert, *plan.values, conn=conn)
    if rows:
        await count_issued(conn, template_id, len(rows))
        await events.append_many(
            [(int(r["member_id"]), {"coupon_id": int(r["id"]), "template_id": template_id, "source": source})
             for r in rows], type="coupon_issued", using_db=conn)
    return {"issued": len(rows), "refused": 0}


async def issue_set_within(conn: BaseDBAsyncClient, *, template_id: int, members_sql: str, source: str,
                           source_ref: str, tz: str, after: int) -> IssuePlan | dict[str, int] | None:
    """``issue_set`` for a caller that writes the coupons in its own statement on PostgreSQL, from a ``SELECT
    member_id …`` of its own (no placeholders; it may name the caller's earlier CTEs): the plan, whose
    ``with_timeline()`` is the statement's ``issued`` and ``timeline`` CTEs with placeholders from
    ``$after + 1`` on; the caller then counts the coupons it wrote with ``count_issued``. A dict when nothing
    is to be issued (the template is not active or its window has ended); None when the coupons must go
    through ``issue_set`` (SQLite, stock to share out, a webhook or a replica that needs the rows)."""
    if not db.is_postgres() or await events.rows_needed("coupon_issued", conn):
        return None
    plan = await _issue_plan(conn, template_id=template_id, members_sql=members_sql, params=[], source=source,
                             source_ref=source_ref, tz=tz)
    if isinstance(plan, dict):
        return plan
    return None if plan.shared else plan.shifted(after)


async def count_issued(conn: BaseDBAsyncClient, template_id: int, issued: int) -> None:
    if issued:
        await db.fetch("UPDATE coupon_templates SET issued_count = issued_count + $2 WHERE id = $1",
                       template_id, issued, conn=conn)


_PLACEHOLDER = re.compile(r"\$(\d+)")


class IssuePlan:
    """``issue_set``'s INSERT of the coupons and its values; ``shared``: stock or a per-member limit to hold;
    ``after``: how far ``with_timeline`` moves the placeholders, to follow those of a caller's statement."""

    def __init__(self, insert: str, values: list[Any], *, now_param: int, shared: bool, after: int = 0) -> None:
        self.insert, self.values, self.now_param, self.shared, self.after = insert, values, now_param, shared, after

    def with_timeline(self) -> str:
        """The ``issued`` CTE and the ``timeline`` CTE that writes each coupon's ``coupon_issued`` row."""
        sql = (f"issued AS ({self.insert}), timeline AS (INSERT INTO member_events (member_id, type, channel, "
               "payload, created_at) SELECT i.member_id, 'coupon_issued', NULL, jsonb_build_object('coupon_id', "
               "i.id, 'template_id', CAST($1 AS BIGINT), 'source', CAST($2 AS TEXT)), "
               f"CAST(${self.now_param} AS timestamptz) FROM issued i ORDER BY i.member_id)")
        return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + self.after}", sql) if self.after else sql

    def shifted(self, after: int) -> IssuePlan:
        return IssuePlan(self.insert, self.values, now_param=self.now_param, shared=self.shared, after=after)


async def _issue_plan(conn: BaseDBAsyncClient, *, template_id: int, members_sql: str, params: list[Any],
                      source: str, source_ref: str, tz: str) -> IssuePlan | dict[str, int]:
    columns = "status, total_stock, issued_count, per_member_limit, terms, name"
    locked = await db.fetch_one(f"SELECT {columns} FROM coupon_templates WHERE id = $1", template_id, conn=conn)
    if locked is not None and (locked["total_stock"] is not None or locked["per_member_limit"] is not None):
        # Stock or a per-member limit to hold: read them under the template's row lock. Without either,
        # nothing read here can be used up, and the lock is taken only by the count's update at the end (so
        # a touch's ranges written at once wait for each other only from there to their commit).
        locked = await db.fetch_one(
            f"UPDATE coupon_templates SET issued_count = issued_count WHERE id = $1 RETURNING {columns}",
            template_id, conn=conn)
    if locked is None:
        raise CouponTemplateNotFound()
    if locked["status"] != "active":
        return {"issued": 0, "refused": -1}
    terms_doc = locked["terms"] if isinstance(locked["terms"], dict) else json.loads(locked["terms"])
    now = clock.now()
    terms = terms_.Terms.model_validate(terms_doc)
    if terms.window_ended(now):
        return {"issued": 0, "refused": -1}
    valid_from, valid_until = terms.window(now)
    stock = None if locked["total_stock"] is None else max(int(locked["total_stock"]) - int(locked["issued_count"]), 0)
    limit_sql = ("(SELECT count(*) FROM coupons h WHERE h.template_id = CAST($1 AS BIGINT) "
                 "AND h.member_id = r.member_id) < $5"
                 if locked["per_member_limit"] is not None else "$5 > 0")
    n = len(params) + 6
    pg = db.is_postgres()
    # OFFSET 0 keeps PostgreSQL's NOT EXISTS a probe of the unique index per member. As an anti-join, the
    # planner, told by the statistics that the template has next to no coupons (a new template, or a table
    # not analysed yet), scans every coupon of the template and source_ref for each member: quadratic.
    fence = " OFFSET 0" if pg else ""
    json_, ts = ("CAST(${} AS jsonb)", "CAST(${} AS timestamptz)") if pg else ("${}", "${}")
    if stock is None:
        # Nothing to share out: the conflict clause alone keeps it once per member (LIMIT $4 is no limit).
        choose = f"WHERE {limit_sql} LIMIT $4"
    else:
        # Stock goes to the oldest members first, and only to members without the coupon (a member who has
        # it must not take a place under the LIMIT).
        choose = ("WHERE NOT EXISTS (SELECT 1 FROM coupons c WHERE c.template_id = CAST($1 AS BIGINT) "
                  f"AND c.member_id = r.member_id AND c.source_ref = CAST($3 AS TEXT){fence}) AND {limit_sql} "
                  "ORDER BY r.member_id LIMIT $4")
    insert = (
        "INSERT INTO coupons (template_id, member_id, status, terms, name, valid_from, valid_until, source, "
        "source_ref, issued_at, issued_day) "
        f"SELECT CAST($1 AS BIGINT), r.member_id, 'available', {json_.format(n)}, CAST(${n + 1} AS TEXT), "
        f"{ts.format(n + 2)}, {ts.format(n + 3)}, CAST($2 AS TEXT), CAST($3 AS TEXT), {ts.format(n + 4)}, "
        f"CAST(${n + 5} AS TEXT) FROM ({members_sql}) r {choose} "
        "ON CONFLICT (template_id, member_id, source_ref) DO NOTHING RETURNING id, member_id")
    values = [template_id, source, source_ref, stock if stock is not None else 2**62, locked["per_member_limit"] or 1,
              *params, json.dumps(terms_doc), locked["name"], valid_from, valid_until, now, _day(now, tz)]
    return IssuePlan(insert, values, now_param=n + 4,
                     shared=stock is not None or locked["per_member_limit"] is not None)


async def tier_of(member_id: int, conn: BaseDBAsyncClient | None = None) -> str | None:
    query = LoyaltyAccount.filter(member_id=member_id)
    codes = await (query.using_db(conn) if conn else query).values_list("tier_code", flat=True)
    return codes[0] if codes else None


def claimable_by(template: CouponTemplate, tier: str | None, lowest: str) -> bool:
    return template.claimable and template.status == "active" and (
        not template.claim_tiers or (tier or lowest) in template.claim_tiers)


async def claimable_templates(member_id: int) -> list[tuple[CouponTemplate, int]]:
    """The coupon center: templates this member may claim now, each with how many they hold."""
    from backend.loyalty import program

    tier = await tier_of(member_id)
    lowest = (await program.load()).tiers[0].code
    templates = await CouponTemplate.filter(claimable=True, status="active").order_by("-id").limit(100)
    held = dict(await Coupon.filter(member_id=member_id, template_id__in=[t.id for t in templates])
                .annotate(n=Count("id")).group_by("template_id").values_list("template_id", "n"))
    now = clock.now()
    return [(template, held.get(template.id, 0)) for template in templates
            if claimable_by(template, tier, lowest)
            and not terms_.Terms.model_validate(template.terms).window_ended(now)
            and (template.total_stock is None or template.issued_count < template.total_stock)
            and (template.per_member_limit is None or held.get(template.id, 0) < template.per_member_limit)]


@db.retry_conflicts
async def claim(*, member_id: int, template_id: int, tz: str) -> Coupon:
    from backend.loyalty import program

    async with in_transaction() as conn:
        template = await CouponTemplate.get_or_none(id=template_id).using_db(conn)
        lowest = (await program.load(conn)).tiers[0].code
        if template is None or not template.claimable:
            raise CouponTemplateNotFound()
        if not claimable_by(template, await tier_of(member_id, conn), lowest):
            raise CouponNotClaimable(details={"status": template.status})
        coupon, _ = await issue(conn, template_id=template_id, member_id=member_id, source="claim",
                                source_ref=f"claim:{uuid.uuid4().hex}", tz=tz)
    return coupon


@db.retry_conflicts
async def exchange(*, member_id: int, item_id: int, tz: str) -> tuple[Coupon, int]:
    """Points mall: the points are spent and the coupon issued in one transaction, or neither."""
    async with in_transaction() as conn:
        item = await PointsMallItem.get_or_none(id=item_id, active=True).using_db(conn)
        if item is None:
            raise MallItemNotFound()
        ref = uuid.uuid4().hex
        # The account before the template, as an order's tier gift takes them: the other way round, an
        # exchange and an upgrade gifting the same template deadlock.
        assets = await Assets.open(conn, member_id)
        coupon, _ = await issue(conn, template_id=item.template_id, member_id=member_id, source="mall",
                                source_ref=f"mall:{ref}", tz=tz)
        await assets.debit(item.points_price, kind="spend", ref=f"mall:{ref}",
                           ctx=Context(source="campaign", reason=f"积分兑换 {item.name}", channel="miniprogram"))
        await assets.save()
        await events.append(member_id=member_id, type="points_exchanged", channel="miniprogram", using_db=conn,
                            payload={"item_id": item.id, "points": item.points_price, "coupon_id": coupon.id})
    return coupon, assets.account.points_balance


# --- redeeming ---

# A coupon an open checkout session holds is not usable elsewhere until the session ends or expires.
HELD_SQL = ("SELECT h.session_id FROM checkout_coupon_holds h JOIN checkout_sessions s ON s.id = h.session_id "
            "WHERE h.coupon_id = $1 AND s.status = 'open' AND s.expires_at > $2")


async def _check_usable(coupon: Coupon, conn: BaseDBAsyncClient, *, store_id: int | None, channel: str,
                        template_status: str | None = None, held: bool = True) -> terms_.Terms:
    """The coupon's terms if it can be used here and now. ``held=False`` leaves the checkout-hold check to
    the caller, which makes it under the coupon's row lock anyway (``_mark_redeemed``)."""
    now = clock.now()
    if coupon.status == "redeemed":
        raise CouponAlreadyRedeemed(details={"coupon_id": coupon.id})
    if coupon.status == "expired" or coupon.valid_until <= now:
        raise CouponExpired(details={"valid_until": coupon.valid_until.isoformat()})
    if coupon.valid_from > now:
        raise CouponNotYetValid(details={"valid_from": coupon.valid_from.isoformat()})
    if template_status is None:
        statuses = await CouponTemplate.filter(id=coupon.template_id).using_db(conn).values_list("status", flat=True)
        template_status = statuses[0] if statuses else None
    if template_status == "paused":
        raise CouponTemplatePaused()
    if held and await db.fetch(HELD_SQL, coupon.id, now, conn=conn):
        raise CouponHeld(details={"coupon_id": coupon.id})
    terms = terms_.Terms.model_validate(coupon.terms)
    terms_.check_scope(terms, store_id=store_id, channel=channel)
    return terms


# The counter's hottest write: fixed statements (see db.fetch).
COUPON_FOR_MEMBER_SQL = """
SELECT c.*, t.status AS template_status, (SELECT name FROM stores WHERE id = $3) AS store_name
  FROM coupons c LEFT JOIN coupon_templates t ON t.id = c.template_id
 WHERE c.id = $1 AND c.member_id = $2"""
REDEMPTION_INSERT_SQL = """
INSERT INTO coupon_redemptions (coupon_id, member_id, store_id, channel, order_id, order_amount_cents, discount_cents,
    staff_id, status, reason, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'done', '', $9) RETURNING id"""
MARK_REDEEMED_SQL = "UPDATE coupons SET status = 'redeemed', redeemed_at = $2 WHERE id = $1 AND status = 'available' " \
                    "RETURNING id"


async def _mark_redeemed(conn: BaseDBAsyncClient, coupon: Coupon) -> None:
    """The one conditional UPDATE that decides who redeems: the others get 409."""
    if not await db.fetch(MARK_REDEEMED_SQL, coupon.id, clock.now(), conn=conn):
        raise CouponAlreadyRedeemed(details={"coupon_id": coupon.id})
    # Asked again under the coupon's row lock, which a checkout session takes before it holds the coupon:
    # a hold committed while this waited is seen now, and the redemption rolls back.
    if await db.fetch(HELD_SQL, coupon.id, clock.now(), conn=conn):
        raise CouponHeld(details={"coupon_id": coupon.id})


@db.retry_conflicts
async def redeem_in_store(*, coupon_id: int, member_id: int, store_id: int, staff_id: int,
                          order_amount_cents: int | None) -> Redemption:
    """核销 at the counter, outside an order (a gift, or a discount the POS applies itself)."""
    async with in_transaction() as conn:
        now, row = clock.now(), None
        if db.is_postgres():  # redeem first, check after: a failed check rolls the UPDATE back
            row = await db.fetch_one(REDEEM_FIRST_SQL, coupon_id, member_id, store_id, now, conn=conn)
        locked = row is not None
        if row is None:  # SQLite, or the coupon is not this member's, or not available: the reason is read here
            row = await db.fetch_one(COUPON_FOR_MEMBER_SQL, coupon_id, member_id, store_id, conn=conn)
            if row is None:
                raise CouponNotFound()
        else:
            row.update(status="available", redeemed_at=None)  # as it was before the UPDATE
        template_status, store_name = row.pop("template_status"), row.pop("store_name")
        coupon = Coupon._init_from_db(**row)
        terms = await _check_usable(coupon, conn, store_id=store_id, channel="pos",
                                    template_status=template_status or "ended", held=False)
        discount = 0
        if order_amount_cents is not None:
            discount = terms_.discounts(order_amount_cents, [terms])[0]
        elif terms.min_spend_cents:
            raise CouponNotApplicable("该券有最低消费，请填写订单金额",
                                      details={"min_spend_cents": terms.min_spend_cents})
        if db.is_postgres():
            return await _redeem_at_counter_pg(conn, coupon, store_id=store_id, staff_id=staff_id, discount=discount,
                                               order_amount_cents=order_amount_cents,
                                               store_name=store_name or "线上商城", now=now, locked=locked)
        await _mark_redeemed(conn, coupon)
        redemption = await _record_redemption(conn, coupon_id=coupon.id, member_id=member_id, store_id=store_id,
                                              channel="pos", order_amount_cents=order_amount_cents,
                                              discount_cents=discount, staff_id=staff_id)
        await events.append(member_id=member_id, type="coupon_redeemed", channel="pos", store_id=store_id,
                            using_db=conn, payload={"coupon_id": coupon.id, "redemption_id": redemption.id,
                                                    "discount_cents": discount})
        await _receipt(conn, redemption, coupon.name, store_name=store_name or "线上商城")
    return redemption


# The counter redemption on PostgreSQL: the conditional UPDATE first, returning what the checks need (the
# coupon as COUPON_FOR_MEMBER_SQL reads it); the checks then run on the locked row. One round trip fewer
# than reading first, on every redemption that succeeds.
REDEEM_FIRST_SQL = """
UPDATE coupons c SET status = 'redeemed', redeemed_at = $4
 WHERE c.id = $1 AND c.member_id = $2 AND c.status = 'available'
RETURNING c.*, (SELECT t.status FROM coupon_templates t WHERE t.id = c.template_id) AS template_status,
          (SELECT name FROM stores WHERE id = $3) AS store_name"""


# The counter redemption's writes after the coupon's UPDATE, as one statement on PostgreSQL: the hold check
# (a new statement, so it sees a hold committed while the UPDATE waited for the row lock), the redemption,
# its timeline row and the receipt. Two round trips fewer than one statement each; SQLite takes them one by one.
COUNTER_REDEMPTION_SQL = """
WITH r AS (
    INSERT INTO coupon_redemptions (coupon_id, member_id, store_id, channel, order_id, order_amount_cents,
        discount_cents, staff_id, status, reason, created_at)
    SELECT $1::bigint, $2::bigint, $3::int, 'pos', NULL, $4::bigint, $5::bigint, $6::int, 'done', '', $7::timestamptz
     WHERE NOT EXISTS (SELECT 1 FROM checkout_coupon_holds h JOIN checkout_sessions s ON s.id = h.session_id
                        WHERE h.coupon_id = $1::bigint AND s.status = 'open' AND s.expires_at > $7::timestamptz)
    RETURNING id),
e AS (
    INSERT INTO member_events (member_id, type, channel, store_id, payload, created_at)
    SELECT $2::bigint, 'coupon_redeemed', 'pos', $3::int,
           jsonb_build_object('coupon_id', $1::bigint, 'redemption_id', r.id, 'discount_cents', $5::bigint),
           $7::timestamptz FROM r
    RETURNING id),
m AS (
    INSERT INTO messages (member_id, template_key, purpose, channels, status, dedupe_key, touch_id, context,
        cap_behaviour, attempts, due_at, expires_at, created_at, updated_at)
    SELECT $2::bigint, 'coupon_redeemed', $8::text, '[]'::jsonb, 'queued', 'coupon_redeemed:' || r.id, NULL,
           CAST($9::text AS jsonb), 'drop', 0, $7::timestamptz, NULL, $7::timestamptz, $7::timestamptz
      FROM r WHERE $10::boolean
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id)
SELECT id FROM r"""


async def _redeem_at_counter_pg(conn: BaseDBAsyncClient, coupon: Coupon, *, store_id: int, staff_id: int,
                                discount: int, order_amount_cents: int | None, store_name: str, now: datetime,
                                locked: bool) -> Redemption:
    """``redeem_in_store``'s writes on PostgreSQL: the coupon's conditional UPDATE unless ``locked`` (made
    already), then one statement."""
    if not locked and not await db.fetch(MARK_REDEEMED_SQL, coupon.id, now, conn=conn):
        raise CouponAlreadyRedeemed(details={"coupon_id": coupon.id})
    template = await message_templates.get("coupon_redeemed", conn)
    receipt = template is not None and bool(template["enabled"])
    context = _receipt_context(coupon.name, now, store_name=store_name, discount_cents=discount, coupon_id=coupon.id)
    row = await db.fetch_one(COUNTER_REDEMPTION_SQL, coupon.id, coupon.member_id, store_id, order_amount_cents,
                             discount, staff_id, now, template["purpose"] if receipt else "service",
                             json.dumps(context, ensure_ascii=False), receipt, conn=conn)
    if row is None:
        raise CouponHeld(details={"coupon_id": coupon.id})
    redemption = Redemption._init_from_db(
        id=row["id"], coupon_id=coupon.id, member_id=coupon.member_id, store_id=store_id, channel="pos",
        order_id=None, order_amount_cents=order_amount_cents, discount_cents=discount, staff_id=staff_id,
        status="done", reason="", created_at=now, reversed_at=None)
    await events.appended(member_id=coupon.member_id, type="coupon_redeemed", channel="pos", store_id=store_id,
                          using_db=conn, payload={"coupon_id": coupon.id, "redemption_id": redemption.id,
                                                  "discount_cents": discount})
    return redemption


async def _record_redemption(conn: BaseDBAsyncClient, *, coupon_id: int, member_id: int, store_id: int | None,
                             channel: str, discount_cents: int, order_id: int | None = None,
                             order_amount_cents: int | None = None, staff_id: int | None = None) -> Redemption:
    """The redemption row, by a fixed statement (the counter's hottest write)."""
    now = clock.now()
    row = await db.fetch_one(REDEMPTION_INSERT_SQL, coupon_id, member_id, store_id, channel, order_id,
                             order_amount_cents, discount_cents, staff_id, now, conn=conn)
    return Redemption._init_from_db(id=row["id"], coupon_id=coupon_id, member_id=member_id, store_id=store_id,
                                    channel=channel, order_id=order_id, order_amount_cents=order_amount_cents,
                                    discount_cents=discount_cents, staff_id=staff_id, status="done", reason="",
                                    created_at=now, reversed_at=None)


async def redeem_for_order(conn: BaseDBAsyncClient, order: Any, member_id: int, coupon_ids: list[int],
                           member_price_applied: bool = False) -> int:
    """In the order's transaction: validate, compute the discounts and redeem; a failing order
    rolls all of it back, leaving the coupons available."""
    if len(set(coupon_ids)) != len(coupon_ids):
        raise CouponNotApplicable("同一张券不能重复使用", details={"reason": "duplicate"})
    coupons = []
    for coupon_id in coupon_ids:
        coupon = await Coupon.get_or_none(id=coupon_id, member_id=member_id).using_db(conn)
        if coupon is None:
            raise CouponNotFound(details={"coupon_id": coupon_id})
        coupons.append((coupon, await _check_usable(coupon, conn, store_id=order.store_id, channel=order.channel,
                                                    held=False)))
    lines = [terms_.Line(item["amount_cents"], item.get("category")) for item in order.items or []]
    amounts = terms_.discounts(order.amount_cents, [terms for _, terms in coupons], lines=lines,
                               tier_discount_applied=member_price_applied)
    for (coupon, _), discount in zip(coupons, amounts, strict=True):
        await _mark_redeemed(conn, coupon)
        redemption = await _record_redemption(conn, coupon_id=coupon.id, member_id=member_id,
                                              store_id=order.store_id, channel=order.channel, order_id=order.id,
                                              order_amount_cents=order.amount_cents, discount_cents=discount)
        await events.append(member_id=member_id, type="coupon_redeemed", channel=order.channel,
                            store_id=order.store_id, using_db=conn,
                            payload={"coupon_id": coupon.id, "redemption_id": redemption.id, "order_id": order.id,
                                     "discount_cents": discount})
        await _receipt(conn, redemption, coupon.name)
    return sum(amounts)


async def _receipt(conn: BaseDBAsyncClient, redemption: Redemption, coupon_name: str,
                   store_name: str | None = None) -> None:
    """The member's redemption receipt (a service message), queued with the redemption; ``store_name`` when
    the caller has read it already."""
    if store_name is None:
        store = await db.fetch_one("SELECT name FROM stores WHERE id = $1", redemption.store_id, conn=conn) \
            if redemption.store_id else None
        store_name = store["name"] if store else "线上商城"
    await notifications.enqueue(
        member_id=redemption.member_id, template_key="coupon_redeemed",
        dedupe_key=f"coupon_redeemed:{redemption.id}", conn=conn,
        context=_receipt_context(coupon_name, redemption.created_at, store_name=store_name,
                                 discount_cents=redemption.discount_cents, coupon_id=redemption.coupon_id))


def _receipt_context(coupon_name: str, redeemed_at: datetime, *, store_name: str, discount_cents: int,
                     coupon_id: int) -> dict[str, Any]:
    return {"coupon_name": coupon_name, "redeemed_at": redeemed_at.isoformat(), "store_name": store_name,
            "discount_cents": discount_cents, "coupon_id": coupon_id}


async def return_for_refund(conn: BaseDBAsyncClient, order: Any) -> list[int]:
    """A fully refunded order gives back its coupons that are still valid."""
    returned = []
    for redemption in await Redemption.filter(order_id=order.id, status="done").using_db(conn):
        coupon = await Coupon.get(id=redemption.coupon_id).using_db(conn)
        await Redemption.filter(id=redemption.id).using_db(conn).update(status="returned",
                                                                         reversed_at=clock.now())
        if coupon.valid_until > clock.now():
            await Coupon.filter(id=coupon.id, status="redeemed").using_db(conn).update(status="available",
                                                                                      redeemed_at=None)
            returned.append(coupon.id)
        else:
            await Coupon.filter(id=coupon.id, status="redeemed").using_db(conn).update(status="expired")
        await events.append(member_id=coupon.member_id, type="coupon_returned", channel=order.channel,
                            using_db=conn, payload={"coupon_id": coupon.id, "order_id": order.id,
                                                    "available": coupon.id in returned})
    return returned


@db.retry_conflicts
async def reverse(*, redemption_id: int, store_id: int, staff_id: int, reason: str) -> Redemption:
    """Undo a counter redemption within the coupon's reversal window, by the same store."""
    async with in_transaction() as conn:
        redemption = await Redemption.get_or_none(id=redemption_id).using_db(conn)
        if redemption is None or redemption.store_id != store_id:
            raise RedemptionNotFound()
        coupon = await Coupon.get(id=redemption.coupon_id).using_db(conn)
        window = timedelta(minutes=terms_.Terms.model_validate(coupon.terms).reversal_window_minutes)
        if redemption.order_id is not None:
            raise RedemptionNotReversible("订单中的用券请通过退款撤销", details={"reason": "in_order"})
        if redemption.status != "done":
            raise RedemptionNotReversible(details={"reason": "already_reversed"})
        if redemption.created_at + window < clock.now():
            raise RedemptionNotReversible(details={"reason": "window_passed",
                                                   "window_minutes": int(window.total_seconds() // 60)})
        won = await Redemption.filter(id=redemption.id, status="done").using_db(conn).update(
            status="reversed", reversed_at=clock.now(), reason=reason[:200])
        if not won:
            raise RedemptionNotReversible(details={"reason": "already_reversed"})
        await Coupon.filter(id=coupon.id, status="redeemed").using_db(conn).update(status="available",
                                                                                  redeemed_at=None)
        await events.append(member_id=coupon.member_id, type="coupon_redemption_reversed", channel="pos",
                            store_id=store_id, using_db=conn,
                            payload={"coupon_id": coupon.id, "redemption_id": redemption.id, "reason": reason})
        await audit.record(actor=audit.Actor.staff(staff_id), action="coupon.reverse", member_id=coupon.member_id,
                           target_type="redemption", target_id=redemption.id, before={"status": "done"},
                           after={"status": "reversed", "reason": reason}, using_db=conn)
        redemption.status = "reversed"
    return redemption


async def expire_due_coupons(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark coupons past their window expired, each once (a conditional UPDATE per coupon)."""
    now = now or clock.now()
    expired = 0
    last = 0
    while True:
        rows = await Coupon.filter(status="available", valid_until__lte=now, id__gt=last).order_by("id").limit(
            batch).values_list("id", "member_id")
        if not rows:
            return expired
        for coupon_id, member_id in rows:
            async with in_transaction() as conn:
                if await Coupon.filter(id=coupon_id, status="available").using_db(conn).update(status="expired"):
                    await events.append(member_id=member_id, type="coupon_expired", payload={"coupon_id": coupon_id},
                                        using_db=conn)
                    expired += 1
        last = rows[-1][0]


async def cart_options(*, member_id: int, amount_cents: int, items: list[Any], store_id: int | None, channel: str,
                       member_price_applied: bool) -> list[dict[str, Any]]:
    """Each of the member's available coupons for a cart: what it alone would take off, or the code of
    why it cannot be used (held elsewhere, wrong store or channel, minimum spend, ...). Nothing is held."""
    coupons = await Coupon.filter(member_id=member_id, status="available").order_by("valid_until", "id").limit(200)
    lines = [terms_.Line(item.amount_cents, item.category) for item in items]
    out: list[dict[str, Any]] = []
    async with in_transaction() as conn:
        for coupon in coupons:
            answer: dict[str, Any] = {"coupon_id": coupon.id, "name": coupon.name,
                                      "valid_until": coupon.valid_until.isoformat()}
            try:
                terms = await _check_usable(coupon, conn, store_id=store_id, channel=channel)
                [discount] = terms_.discounts(amount_cents, [terms], lines=lines,
                                              tier_discount_applied=member_price_applied)
                answer.update(applicable=True, discount_cents=discount, stackable=terms.stackable, reason=None)
            except DomainError as exc:
                answer.update(applicable=False, discount_cents=0, stackable=False, reason=exc.code)
            out.append(answer)
    return out


async def lock_for_hold(conn: BaseDBAsyncClient, *, coupon_id: int, member_id: int) -> None:
    """In a checkout session's opening transaction, before it holds the coupon: the coupon's row lock (a
    redemption waits for it, then sees the hold) and a check that it is still the member's to use."""
    lock = " FOR UPDATE" if db.is_postgres() else ""
    row = await db.fetch_one(f"SELECT status FROM coupons WHERE id = $1 AND member_id = $2{lock}", coupon_id,
                             member_id, conn=conn)
    if row is None:
        raise CouponNotFound(details={"coupon_id": coupon_id})
    if row["status"] != "available":
        raise CouponAlreadyRedeemed(details={"coupon_id": coupon_id, "status": row["status"]})
