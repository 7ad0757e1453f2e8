"""Lock order: every transaction takes member rows, then loyalty accounts (in member-id order), then
coupon rows and templates, so two writers of the same rows never wait on each other in a circle.

Each race runs 50 times on PostgreSQL (SQLite has one writer at a time and cannot deadlock), the two
requests at once over separate HTTP connections. Besides no 500 and exactly the expected outcome,
the database's own deadlock counter must not move: the races must not deadlock at all, not merely
be retried after one.
"""

import asyncio
import logging

import pytest

from backend import audit, db
from backend.coupons.models import Coupon, CouponTemplate
from backend.loyalty.models import LoyaltyAccount, Order, PointsEntry
from backend.members import scan, service, sessions
from backend.members.models import Member
from tests.factories import assert_ledgers_hold, bearer, make_staff, unique, unique_phone
from tests.integration.test_coupons import make_template
from tests.loyalty_helpers import set_program

ROUNDS = 50


async def _deadlocks() -> int:
    """The database's deadlock count: each backend reports the deadlock it lost when it goes idle."""
    await asyncio.sleep(1.2)  # past PostgreSQL's minimum stats flush interval (1 s)
    await db.fetch("SELECT pg_stat_clear_snapshot()")
    row = await db.fetch_one("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    assert row is not None
    return int(row["deadlocks"])


async def _member(stack, *, referrer_code=None):
    result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos",
                                                             referrer_code=referrer_code),
                                    pii=stack.pii, actor=audit.SYSTEM)
    return result.member


def _no_deadlock_logged(caplog) -> None:
    logged = [r.getMessage() for r in caplog.records if "deadlock" in (r.getMessage() + (r.exc_text or "")).lower()]
    assert not logged, logged[:3]


@pytest.mark.postgres_only
async def test_a_merge_and_the_merged_members_first_order_at_once_never_deadlock(stack, caplog):
    # given: the duplicate-account case — the merged member was referred by the survivor, so its first
    # order rewards the survivor's account too (two accounts, as the merge locks)
    caplog.set_level(logging.WARNING)
    clerk_staff, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    await set_program(stack, admin, referrer_points=200)
    before = await _deadlocks()
    for _ in range(ROUNDS):
        survivor = await _member(stack)
        merged = await _member(stack, referrer_code=survivor.referral_code)
        scanned = scan.issue_scan_token(stack.settings.secret_key, member_id=merged.id,
                                        store_id=clerk_staff.store_id, staff_id=clerk_staff.id)
        order_no = unique("O")
        # when
        merge, placed = await asyncio.gather(
            stack.http.post(f"/api/v1/admin/members/{survivor.id}/merge", json={"other_id": merged.id},
                            headers=bearer(admin)),
            stack.http.post("/api/v1/store/orders", headers=bearer(clerk),
                            json={"order_no": order_no, "scan_token": scanned, "amount_cents": 10000}))
        # then: both succeed; the order, its 100 points and everything else end with the survivor
        assert (merge.status_code, placed.status_code) == (200, 201), (merge.text, placed.text)
        row = await Order.get(channel="pos", order_no=order_no)
        assert row.member_id == survivor.id and row.points_earned == 100
        referral = await PointsEntry.filter(member_id=survivor.id, ref=f"referral:{merged.id}").count()
        earned_by = (await PointsEntry.get(ref=f"order:{row.id}:earn")).member_id
        # the referral reward exists exactly when the order came first (it was then the merged member's)
        assert referral == (1 if earned_by == merged.id else 0)
        account = await LoyaltyAccount.get(member_id=survivor.id)
        assert account.points_balance == 100 + 200 * referral
        gone = await LoyaltyAccount.get_or_none(member_id=merged.id)
        assert gone is None or (gone.points_balance, gone.principal_cents, gone.bonus_cents) == (0, 0, 0)
        assert (await Member.get(id=merged.id)).status == "merged"
        await assert_ledgers_hold(survivor.id)
        await assert_ledgers_hold(merged.id)
    assert await _deadlocks() == before
    _no_deadlock_logged(caplog)


@pytest.mark.postgres_only
async def test_a_points_mall_exchange_and_an_upgrade_gifting_the_same_template_at_once_never_deadlock(stack, caplog):
    # given: reaching silver gifts a coupon of the template the points mall sells; every member holds
    # the 100 registration points the item costs
    caplog.set_level(logging.WARNING)
    clerk_staff, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    template = await make_template(stack, admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 30})
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    for tier in program["tiers"]:
        if tier["code"] == "silver":
            tier["gift_coupon_template_ids"] = [template["id"]]
    await set_program(stack, admin, tiers=program["tiers"], registration_points=100)
    item = (await stack.http.post("/api/v1/admin/points-mall", headers=bearer(admin), json={
        "name": "杯子", "template_id": template["id"], "points_price": 100})).json()
    before = await _deadlocks()
    for _ in range(ROUNDS):
        member = await _member(stack)
        token = (await sessions.issue_tokens(settings=stack.settings, member_id=member.id, account_id=None)).token
        scanned = scan.issue_scan_token(stack.settings.secret_key, member_id=member.id,
                                        store_id=clerk_staff.store_id, staff_id=clerk_staff.id)
        # when: the exchange, and an order of 1000 yuan (silver: 100 gift points and the gift coupon)
        exchanged, placed = await asyncio.gather(
            stack.http.post(f"/api/v1/mp/points-mall/{item['id']}/exchange", headers=bearer(token)),
            stack.http.post("/api/v1/store/orders", headers=bearer(clerk),
                            json={"order_no": unique("O"), "scan_token": scanned, "amount_cents": 100000}))
        # then: both succeed, whichever came first
        assert (exchanged.status_code, placed.status_code) == (201, 201), (exchanged.text, placed.text)
        assert placed.json()["tier_change"]["to"] == "silver"
        coupons = await Coupon.filter(member_id=member.id, template_id=template["id"]).values_list("source", flat=True)
        assert sorted(coupons) == ["mall", "reward"]
        account = await LoyaltyAccount.get(member_id=member.id)
        assert (account.points_balance, account.tier_code) == (100 - 100 + 1000 + 100, "silver")
        await assert_ledgers_hold(member.id)
    assert (await CouponTemplate.get(id=template["id"])).issued_count == 2 * ROUNDS
    assert await _deadlocks() == before
    _no_deadlock_logged(caplog)


@pytest.mark.postgres_only
async def test_a_merge_and_a_refund_of_the_merged_members_order_at_once_never_deadlock(stack, caplog):
    # given: the merged member's order earned 100 points (a refund locks its order row, then the account;
    # the window is narrow, so this run checks the outcomes more than it provokes the deadlock)
    caplog.set_level(logging.WARNING)
    clerk_staff, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    before = await _deadlocks()
    for _ in range(ROUNDS // 2):
        survivor = await _member(stack)
        merged = await _member(stack)
        scanned = scan.issue_scan_token(stack.settings.secret_key, member_id=merged.id,
                                        store_id=clerk_staff.store_id, staff_id=clerk_staff.id)
        order_no = unique("O")
        placed = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk),
                                       json={"order_no": order_no, "scan_token": scanned, "amount_cents": 10000})
        assert placed.status_code == 201, placed.text
        # when
        merge, refunded = await asyncio.gather(
            stack.http.post(f"/api/v1/admin/members/{survivor.id}/merge", json={"other_id": merged.id},
                            headers=bearer(admin)),
            stack.http.post(f"/api/v1/store/orders/{order_no}/refund", headers=bearer(clerk),
                            json={"amount_cents": 10000, "reason": "退货"}))
        # then: whichever came first, the order is the survivor's, refunded, its points reversed
        assert (merge.status_code, refunded.status_code) == (200, 201), (merge.text, refunded.text)
        assert refunded.json()["points_reversed"] == 100
        row = await Order.get(channel="pos", order_no=order_no)
        assert (row.member_id, row.status, row.points_reversed) == (survivor.id, "refunded", 100)
        account = await LoyaltyAccount.get(member_id=survivor.id)
        assert (account.points_balance, account.points_debt) == (0, 0)
        await assert_ledgers_hold(survivor.id)
        await assert_ledgers_hold(merged.id)
    assert await _deadlocks() == before
    _no_deadlock_logged(caplog)


async def test_an_order_for_a_member_merged_since_the_scan_lands_on_the_survivor(stack):
    # given: the clerk scanned a member's code; an admin then merged that member into another
    clerk_staff, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    survivor = await _member(stack)
    merged = await _member(stack)
    scanned = scan.issue_scan_token(stack.settings.secret_key, member_id=merged.id,
                                    store_id=clerk_staff.store_id, staff_id=clerk_staff.id)
    response = await stack.http.post(f"/api/v1/admin/members/{survivor.id}/merge", json={"other_id": merged.id},
                                     headers=bearer(admin))
    assert response.status_code == 200, response.text
    # when
    placed = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk),
                                   json={"order_no": unique("O"), "scan_token": scanned, "amount_cents": 10000})
    # then: the sale, and its points, are the survivor's; the merged member's account holds nothing
    assert placed.status_code == 201, placed.text
    assert placed.json()["points_balance"] == 100
    assert (await Order.get(order_no=placed.json()["order_no"])).member_id == survivor.id
    assert (await LoyaltyAccount.get(member_id=survivor.id)).points_balance == 100
    gone = await LoyaltyAccount.get_or_none(member_id=merged.id)
    assert gone is None or gone.points_balance == 0
    await assert_ledgers_hold(survivor.id)
