"""Console API for members: what the console's member screens need beyond console.py (phone reveal, coupons,
consent history, the search list's columns), under /api/v1/admin."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.functions import Max

from backend import audit
from backend.coupons import views as coupon_views
from backend.coupons.models import Coupon
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, member_or_404, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.read_models import ConsentChannel, ConsentPurpose, CouponPage
from backend.http.validation import parse_query
from backend.loyalty import program as programs
from backend.loyalty.models import LoyaltyAccount, Order
from backend.members import service
from backend.members.models import ConsentRecord

bp = Blueprint("console_members", url_prefix="/api/v1/admin")
TAG = "console"
MEMBER = [*STAFF_AUTH_ERRORS, "MEMBER_NOT_FOUND"]


class RevealedPhone(Out):
    member_id: int
    phone: str | None = Field(description="the full number (null when the member has none, e.g. erased)")


class MemberCouponQuery(PageQuery):
    status: Literal["available", "used", "expired"] | None = Field(None, description="absent: every coupon")


class ConsentHistoryEntry(Out):
    id: int
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str = Field(description="where it was given or withdrawn: miniprogram, pos, console, unsubscribe, …")
    text_version: str | None
    created_at: datetime


class ConsentHistoryPage(Page[ConsentHistoryEntry]):
    pass


async def add_list_columns(items: list[dict[str, Any]]) -> None:
    """The search list's columns for one page of members: tier, points, stored value, last order (two reads)."""
    ids = [item["id"] for item in items]
    if not ids:
        return
    program = await programs.load()
    accounts = {a.member_id: a for a in await LoyaltyAccount.filter(member_id__in=ids)}
    last = {row["member_id"]: row["last"] for row in await Order.filter(member_id__in=ids)
            .annotate(last=Max("placed_at")).group_by("member_id").values("member_id", "last")}
    for item in items:
        account = accounts.get(item["id"])
        tier = program.tier(account.tier_code if account else None)
        item["tier"], item["tier_name"] = tier.code, tier.name
        item["points_balance"] = account.points_balance if account else 0
        item["balance_cents"] = account.principal_cents + account.bonus_cents if account else 0
        placed = last.get(item["id"])
        item["last_order_at"] = placed.isoformat() if isinstance(placed, datetime) else placed


@bp.post("/members/<member_id:id>/phone/reveal")
@endpoint(summary="The member's full phone number, for an admin helping the member (audited)", tag=TAG,
          response=RevealedPhone, errors=MEMBER, operation_id="revealMemberPhone",
          description="Every reveal writes an audit row (`member.phone_reveal`); lists and profiles show the "
                      "number masked only.")
@staff_required(*ADMIN)
async def reveal_phone(request: Request, member_id: int) -> HTTPResponse:
    member = await member_or_404(member_id)
    phone = service.phone_of(member, request.app.ctx.pii)
    await audit.record(actor=staff_actor(request), action="member.phone_reveal", member_id=member.id,
                       target_type="member", target_id=member.id)
    return ok({"member_id": member.id, "phone": phone})


@bp.get("/members/<member_id:id>/coupons")
@endpoint(query=MemberCouponQuery, summary="A member's coupons, newest first (?status=available|used|expired)",
          tag=TAG, response=CouponPage, errors=MEMBER, operation_id="listMemberCoupons")
@staff_required(*CONSOLE)
async def member_coupons(request: Request, member_id: int) -> HTTPResponse:
    params = await _params(request, member_id, MemberCouponQuery)
    query = Coupon.filter(member_id=member_id, **coupon_views.status_filter(params.status))
    return ok(await page(request, query, coupon_views.render_coupon, params))


@bp.get("/members/<member_id:id>/consents/history")
@endpoint(query=PageQuery, summary="Every grant and withdrawal of a member's consents, newest first", tag=TAG,
          response=ConsentHistoryPage, errors=MEMBER, operation_id="listMemberConsentHistory")
@staff_required(*CONSOLE)
async def consent_history(request: Request, member_id: int) -> HTTPResponse:
    params = await _params(request, member_id, PageQuery)
    return ok(await page(request, ConsentRecord.filter(member_id=member_id), lambda r: {
        "id": r.id, "channel": r.channel, "purpose": r.purpose, "granted": r.granted, "source": r.source,
        "text_version": r.text_version, "created_at": r.created_at.isoformat()}, params))


async def _params(request: Request, member_id: int, model: type[PageQuery]) -> Any:
    params = parse_query(request, model)  # a bad query is a 422 before a 404
    await member_or_404(member_id)
    return params
