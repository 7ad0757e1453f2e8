"""The asset card (backend.loyalty.cards): the asset view served from one row, never stale.

Every write path that changes what the view shows is driven through the real API or service, with the
member's card current before it; after it the card must be unusable and what the mini-program is served
must equal the reference computation (``views.compute_assets``). Then time (each boundary at which the
clock alone changes the view), a program change (read at once from a current card), the reader/writer
race and a reader meeting a writer's locks (PostgreSQL).
"""

import asyncio
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from backend import db
from backend.checkout import service as checkout
from backend.coupons import service as coupons
from backend.coupons.models import Coupon
from backend.loyalty import orders, program, tiers, views
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.models import PointsLot
from backend.members import sessions
from backend.members.models import Member
from backend.members.service import find_by_phone
from tests.factories import (
    bearer,
    counter_register,
    make_staff,
    member_token,
    scan_token,
    unique,
    unique_phone,
)
from tests.integration.test_checkout import SESSIONS, complete, open_session, shopper, signed
from tests.integration.test_coupons import claim, give, make_template, redeem
from tests.integration.test_imports import _csv, _run, _upload
from tests.loyalty_helpers import order, refund, set_program, topup

CARD_SQL = "SELECT version, card_version, fresh_until, view FROM asset_cards WHERE member_id = $1"
US = timedelta(microseconds=1)


async def card(member_id):
    return await db.fetch_one(CARD_SQL, member_id)


def usable(row):
    return row is not None and row["view"] is not None and row["card_version"] == row["version"]


async def served(stack, member_id):
    """The view as the mini-program gets it (None: the member is no longer active). A fresh token each time:
    the tests move the clock past tokens."""
    tokens = await sessions.issue_tokens(settings=stack.settings, member_id=member_id, account_id=None)
    response = await stack.http.get("/api/v1/mp/me/assets", headers=bearer(tokens.token))
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def holds(stack, member_id):
    """What is served equals the reference computation; returns it."""
    view = await served(stack, member_id)
    assert view == await views.compute_assets(member_id, active_only=True)
    return view


async def write(stack, member_ids, action, *, changes=True):
    """Each member's card current, then the write; after it every one of those cards is unusable and what is
    served is the reference (and, for a write the view shows, differs from before)."""
    before = {}
    for member_id in member_ids:
        before[member_id] = await holds(stack, member_id)
        assert usable(await card(member_id)), f"member {member_id}: the read left no current card"
    result = await action()
    for member_id in member_ids:
        assert not usable(await card(member_id)), f"member {member_id}: the write left its card usable"
        after = await holds(stack, member_id)
        if changes:
            assert after != before[member_id], f"member {member_id}: the write changed nothing the view shows"
    return result


async def test_orders_refunds_stored_value_adjustments_check_ins_expiry_and_tiers_invalidate_the_card(
        stack, counter):
    m = counter.member_id
    await set_program(stack, counter.admin, points_expiry={"policy": "rolling_months", "months": 1},
                      checkin={"enabled": True, "cycle_days": 7, "daily_points": 5, "rewards": []})
    first = unique("O")
    await write(stack, [m], lambda: order(stack, counter, order_no=first, amount_cents=30000))
    await write(stack, [m], lambda: topup(stack, counter, 5000))
    spent = await write(stack, [m], lambda: order(stack, counter, amount_cents=8000, points_to_spend=100,
                                                  balance_to_spend_cents=1000))
    assert spent["points_spent"] == 100
    await write(stack, [m], lambda: refund(stack, counter, first, 10000))

    async def adjust():
        response = await stack.http.post(f"/api/v1/admin/members/{m}/points/adjustments", headers=bearer(counter.admin),
                                         json={"points": 40, "reason": "补偿"})
        assert response.status_code == 201, response.text

    await write(stack, [m], adjust)

    async def check_in():
        response = await stack.http.post("/api/v1/mp/check-ins", headers=bearer(counter.token))
        assert response.status_code == 201, response.text

    await write(stack, [m], check_in)
    upgrade = await write(stack, [m], lambda: order(stack, counter, amount_cents=600000))
    assert upgrade["tier_change"]["to"] == "gold"
    # The clerk's member card reads the same view.
    view = await holds(stack, m)
    clerk = await stack.http.post("/api/v1/store/members/current", json={"scan_token": counter.scan},
                                  headers=bearer(counter.clerk))
    assert clerk.status_code == 200, clerk.text
    assert (clerk.json()["points"], clerk.json()["balance_cents"], clerk.json()["tier"]) == (
        view["points"], view["balance_cents"], view["tier"])
    # A year on: the lots fell due (the clock alone), the expiry job empties them, the review lowers the tier.
    stack.clock.advance(days=400)
    assert (await holds(stack, m))["points"]["balance"] == 0
    swept = await write(stack, [m], orders.expire_due_points, changes=False)
    assert swept["points"] > 0
    rules = await program.load()
    reviewed = await write(stack, [m], lambda: tiers.review(rules))
    assert reviewed["downgraded"] == 1


async def test_coupon_issue_claim_redemption_reversal_orders_refunds_the_mall_and_expiry_invalidate_the_card(
        stack, counter):
    m = counter.member_id
    gift = await make_template(stack, counter.admin, name="赠品券",
                               terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 3, "reversal_window_minutes": 15})
    gift_id = await write(stack, [m], lambda: give(stack, counter.admin, gift["id"], m))
    redeemed = await write(stack, [m], lambda: redeem(stack, counter, gift_id))
    assert redeemed.status_code == 201, redeemed.text
    reversed_ = await write(stack, [m], lambda: stack.http.post(
        f"/api/v1/store/redemptions/{redeemed.json()['id']}/reverse", json={"reason": "误操作"},
        headers=bearer(counter.clerk)))
    assert reversed_.status_code == 200, reversed_.text
    center = await make_template(stack, counter.admin, claimable=True, name="领券中心券")
    claimed = await write(stack, [m], lambda: claim(stack, counter.token, center["id"]))
    assert claimed.status_code == 201, claimed.text
    no = unique("O")
    await write(stack, [m], lambda: order(stack, counter, order_no=no, amount_cents=20000,
                                          coupon_ids=[claimed.json()["id"]]))
    mall = await make_template(stack, counter.admin, name="兑换券")
    item = (await stack.http.post("/api/v1/admin/points-mall", headers=bearer(counter.admin), json={
        "name": "兑换券", "template_id": mall["id"], "points_price": 50})).json()
    exchanged = await write(stack, [m], lambda: stack.http.post(f"/api/v1/mp/points-mall/{item['id']}/exchange",
                                                                headers=bearer(counter.token)))
    assert exchanged.status_code == 201, exchanged.text
    returned = await write(stack, [m], lambda: refund(stack, counter, no, 18000))
    assert returned["coupons_returned"] == [claimed.json()["id"]]
    # Past the gift's validity: gone from the view by the clock alone, then marked expired by the job.
    stack.clock.advance(days=4)
    assert (await holds(stack, m))["coupons"]["available_count"] == 2
    assert await write(stack, [m], coupons.expire_due_coupons, changes=False) == 1
    assert (await Coupon.get(id=gift_id)).status == "expired"


async def test_checkout_sessions_holding_completing_cancelling_and_expiring_invalidate_the_card(stack, counter):
    m = counter.member_id
    key, member = await shopper(stack, counter)
    session = await write(stack, [m], lambda: open_session(stack, key, member, points_to_spend=300))
    done = await write(stack, [m], lambda: complete(stack, key, session["id"]))
    assert done.status_code == 201, done.text
    second = await write(stack, [m], lambda: open_session(stack, key, member, points_to_spend=200))
    cancelled = await write(stack, [m], lambda: signed(stack, key, "POST", f"{SESSIONS}/{second['id']}/cancel"))
    assert cancelled.status_code == 200, cancelled.text
    await write(stack, [m], lambda: open_session(stack, key, member, points_to_spend=100, ttl_seconds=60))
    stack.clock.advance(seconds=61)
    assert (await holds(stack, m))["points"]["held"] == 0  # the hold lapsed by the clock alone
    assert (await write(stack, [m], checkout.expire_due, changes=False))["expired"] == 1


async def test_registration_merges_and_erasure_invalidate_the_cards_of_every_member_they_touch(stack, counter):
    other_id, other_token = await member_token(stack)
    assert await card(other_id) is not None  # born with the member
    other_scan = await scan_token(stack, counter.clerk, other_token)
    await stack.http.post("/api/v1/store/orders", headers=bearer(counter.clerk), json={
        "order_no": unique("O"), "scan_token": other_scan, "amount_cents": 20000})
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 7})
    await give(stack, counter.admin, template["id"], other_id)

    async def merge():
        response = await stack.http.post(f"/api/v1/admin/members/{counter.member_id}/merge",
                                         json={"other_id": other_id}, headers=bearer(counter.admin))
        assert response.status_code == 200, response.text

    await write(stack, [counter.member_id, other_id], merge)
    assert await served(stack, other_id) is None
    assert (await holds(stack, counter.member_id))["coupons"]["available_count"] == 1

    async def delete_account():
        response = await stack.http.delete("/api/v1/mp/me", headers=bearer(counter.token))
        assert response.status_code == 200, response.text

    await write(stack, [counter.member_id], delete_account)
    assert await views.assets(counter.member_id, active_only=True) is None


async def test_an_import_written_with_copy_and_its_undo_invalidate_every_card(stack):
    _, admin = await make_staff(stack, role="admin")
    _, clerk = await make_staff(stack)
    known, fresh = unique_phone(), unique_phone()
    existing = (await counter_register(stack, clerk, known)).json()["member"]["id"]
    report = await _upload(stack, admin, _csv(f"{fresh},新一,,,,L1,gold,100,,1000,,,,",
                                              f"{known},旧名,男,,,L3,silver,300,,20,1,,,"))
    done = await write(stack, [existing], lambda: _run(stack, admin, report["id"]))
    assert done["status"] == "completed", done
    created = (await find_by_phone(phone=fresh, pii=stack.pii)).id
    assert await card(created) is not None  # the COPY of the members made their card rows
    view = await holds(stack, created)
    assert (view["points"]["balance"], view["tier"]["code"]) == (100, "gold") and view["balance_cents"] > 0

    async def undo():
        response = await stack.http.post(f"/api/v1/admin/imports/{report['id']}/undo", headers=bearer(admin))
        assert response.status_code == 200, response.text

    await write(stack, [existing, created], undo)
    assert (await Member.get(id=created)).status == "deleted"


async def test_the_card_lasts_exactly_until_the_clock_alone_would_change_the_view(stack, counter):
    m = counter.member_id
    await set_program(stack, counter.admin, points_expiry={"policy": "rolling_months", "months": 3})
    key, member = await shopper(stack, counter)
    template = await make_template(stack, counter.admin, terms={"kind": "gift", "gift_sku": "CUP", "valid_days": 20})
    coupon = await Coupon.get(id=await give(stack, counter.admin, template["id"], m))
    session = await open_session(stack, key, member, points_to_spend=10, ttl_seconds=600)
    lots = await PointsLot.filter(member_id=m, remaining__gt=0).order_by("expires_at")
    due = lots[0].expires_at
    lapses = (await checkout.CheckoutSession.get(id=session["id"])).expires_at
    soon, ends = coupon.valid_until - timedelta(days=7), coupon.valid_until
    entering = due - views.EXPIRING_WINDOW
    boundaries = [lapses, soon, ends, entering, due]
    assert boundaries == sorted(boundaries) and len(set(boundaries)) == 5

    view = await holds(stack, m)
    for boundary, nxt in zip(boundaries, [*boundaries[1:], None], strict=True):
        assert db.to_datetime((await card(m))["fresh_until"]) == boundary
        stack.clock.set(boundary - US)  # a moment before: the card still serves, and equals the reference
        assert usable(await card(m))
        assert await holds(stack, m) == view
        stack.clock.set(boundary)  # at the boundary: computed again, and the view has moved
        changed = await holds(stack, m)
        assert changed != view
        assert db.to_datetime((await card(m))["fresh_until"]) == nxt
        view = changed
    assert view["points"]["held"] == 0 and view["coupons"]["available_count"] == 0
    assert view["points"]["expiring"] == [] and view["points"]["balance"] == 0


async def test_a_program_change_shows_on_a_current_card_without_touching_it(stack, counter):
    m = counter.member_id
    await holds(stack, m)
    before = await card(m)
    assert usable(before)
    current = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(counter.admin))).json()
    current["tiers"][0]["name"] = "新会员"
    await set_program(stack, counter.admin, tiers=current["tiers"])
    assert await card(m) == before
    assert (await holds(stack, m))["tier"]["name"] == "新会员"


@pytest.mark.postgres_only
async def test_a_write_committed_while_a_reader_computes_leaves_no_stale_card(stack, counter, monkeypatch):
    m = counter.member_id
    await order(stack, counter, amount_cents=10000)
    reference = views._gather

    async def gather_then_a_top_up_commits(member_id, reader=None):
        gathered = await reference(member_id, reader)  # read before the top-up
        await topup(stack, counter, 3000)  # committed before the reader writes the card back
        return gathered

    monkeypatch.setattr(views, "_gather", gather_then_a_top_up_commits)
    stale = await views.assets(m, active_only=True)
    monkeypatch.setattr(views, "_gather", reference)

    assert stale["balance_cents"] == 0  # the answer of a read that began before the top-up
    assert not usable(await card(m))  # but it was not kept
    assert (await holds(stack, m))["balance_cents"] == 3000
    assert usable(await card(m))


@pytest.mark.postgres_only
async def test_a_reader_answers_at_once_while_a_writer_holds_the_members_locks(stack, counter):
    m = counter.member_id
    await order(stack, counter, amount_cents=10000)  # the card is stale: the reader will try to write it back
    tokens = await sessions.issue_tokens(settings=stack.settings, member_id=m, account_id=None)
    async with in_transaction() as conn:
        assets = await Assets.open(conn, m)  # the account's row lock, and the card's by its trigger
        await assets.wallet_credit(principal=2000, bonus=0, kind="topup", ctx=Context(source="staff"))
        await assets.save()
        response = await asyncio.wait_for(stack.http.get("/api/v1/mp/me/assets", headers=bearer(tokens.token)),
                                          timeout=3)
        assert response.status_code == 200, response.text
        assert response.json()["balance_cents"] == 0  # what is committed
        assert response.json()["points"]["balance"] == 100
    assert (await holds(stack, m))["balance_cents"] == 2000
