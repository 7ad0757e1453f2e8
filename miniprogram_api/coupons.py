"""Mini-program coupon routes under /api/v1/mp: my coupons and their codes, coupon center, points mall."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.coupons import service, views
from backend.coupons.errors import CouponNotFound
from backend.coupons.models import Coupon, CouponTemplate, PointsMallItem
from backend.http.auth import member_required
from backend.http.common import ok
from backend.http.docs import endpoint
from backend.http.pagination import PageQuery, page, page_params
from backend.http.read_models import Coupon as CouponView
from backend.http.read_models import CouponDetail, CouponPage, DynamicCode
from backend.idempotency import idempotent
from backend.security.codes import CodeSigner
from miniprogram_api.answers import CouponCenter, PointsExchange, PointsMall
from miniprogram_api.routes import current_member

bp = Blueprint("miniprogram_coupons", url_prefix="/api/v1/mp")
TAG = "shopper"
CLAIM_ERRORS = ["UNAUTHENTICATED", "COUPON_TEMPLATE_NOT_FOUND", "COUPON_NOT_CLAIMABLE", "COUPON_OUT_OF_STOCK",
                "COUPON_LIMIT_REACHED", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"]


class CouponQuery(PageQuery):
    status: Literal["available", "used", "expired"] | None = Field(
        None, description="available: usable now; used: redeemed; expired: ended unused (all when omitted)")


@bp.get("/me/coupons")
@endpoint(query=CouponQuery, summary="My coupons by status (cursor, limit ≤ 100)", tag=TAG, response=CouponPage,
          errors=["UNAUTHENTICATED"], operation_id="listMyCoupons")
@member_required
async def my_coupons(request: Request) -> HTTPResponse:
    params = page_params(request)
    member = await current_member(request)
    query = Coupon.filter(member_id=member.id, **views.status_filter(params.status))
    return ok(await page(request, query, views.render_coupon, params))


@bp.get("/me/coupons/<coupon_id:id>")
@endpoint(summary="One of my coupons with its history: issue, redemptions, reversals, return, expiry", tag=TAG,
          response=CouponDetail, errors=["UNAUTHENTICATED", "COUPON_NOT_FOUND"], operation_id="getMyCoupon")
@member_required
async def my_coupon(request: Request, coupon_id: int) -> HTTPResponse:
    member = await current_member(request)
    coupon = await Coupon.get_or_none(id=coupon_id, member_id=member.id)
    if coupon is None:
        raise CouponNotFound()  # another member's coupon is not found, not forbidden
    return ok({**views.render_coupon(coupon), "history": await views.coupon_history(coupon)})


@bp.get("/me/coupons/<coupon_id:id>/code")
@endpoint(summary="Dynamic code of one of my coupons for the store scanner (rotates, single use)", tag=TAG,
          response=DynamicCode, errors=["UNAUTHENTICATED", "COUPON_NOT_FOUND"], operation_id="getMyCouponCode")
@member_required
async def coupon_code(request: Request, coupon_id: int) -> HTTPResponse:
    member = await current_member(request)
    if not await Coupon.exists(id=coupon_id, member_id=member.id, status="available"):
        raise CouponNotFound()  # another member's coupon is not found, not forbidden
    issued = await CodeSigner(request.app.ctx.settings.secret_key).issue_fresh(request.app.ctx.kv, "coupon", coupon_id)
    return ok(issued.as_json())


@bp.get("/coupon-center")
@endpoint(summary="Coupons this member may claim now", tag=TAG, response=CouponCenter, errors=["UNAUTHENTICATED"],
          operation_id="listClaimableCoupons")
@member_required
async def coupon_center(request: Request) -> HTTPResponse:
    member = await current_member(request)
    items = [{**views.render_template(template), "held": held}
             for template, held in await service.claimable_templates(member.id)]
    return ok({"items": items, "next_cursor": None})


@bp.post("/coupon-center/<template_id:id>/claim")
@endpoint(summary="Claim a coupon: stock and per-member limits hold under concurrency", tag=TAG,
          response=CouponView, status=201, idempotent=True, errors=CLAIM_ERRORS, operation_id="claimCoupon",
          links={"getMyCoupon": {"coupon_id": "$response.body#/id"},
                 "getMyCouponCode": {"coupon_id": "$response.body#/id"}})
@member_required
@idempotent
async def claim(request: Request, template_id: int) -> HTTPResponse:
    member = await current_member(request)
    coupon = await service.claim(member_id=member.id, template_id=template_id,
                                 tz=request.app.ctx.settings.timezone)
    return ok(views.render_coupon(coupon), status=201)


@bp.get("/points-mall")
@endpoint(summary="Points mall: coupons and gifts for points", tag=TAG, response=PointsMall,
          errors=["UNAUTHENTICATED"], operation_id="listPointsMallOffers")
@member_required
async def points_mall(request: Request) -> HTTPResponse:
    await current_member(request)
    items = await PointsMallItem.filter(active=True).order_by("points_price")
    templates = {t.id: t for t in await CouponTemplate.filter(id__in=[i.template_id for i in items])}
    return ok({"items": [{"id": i.id, "name": i.name, "points_price": i.points_price,
                          "coupon": views.render_template(templates[i.template_id])}
                         for i in items if i.template_id in templates
                         and templates[i.template_id].status == "active"], "next_cursor": None})


@bp.post("/points-mall/<item_id:id>/exchange")
@endpoint(summary="Exchange points for a coupon: both happen or neither", tag=TAG, response=PointsExchange,
          status=201, idempotent=True, errors=[*CLAIM_ERRORS, "MALL_ITEM_NOT_FOUND", "INSUFFICIENT_POINTS"],
          operation_id="exchangePointsMallItem")
@member_required
@idempotent
async def exchange(request: Request, item_id: int) -> HTTPResponse:
    member = await current_member(request)
    coupon, balance = await service.exchange(member_id=member.id, item_id=item_id,
                                             tz=request.app.ctx.settings.timezone)
    return ok({"coupon": views.render_coupon(coupon), "points_balance": balance}, status=201)
