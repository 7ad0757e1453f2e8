"""Store clerk API: scan member codes, register walk-in members, record purchases, refunds and top-ups."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import audit
from backend.coupons import service as coupons
from backend.coupons import views as coupon_views
from backend.coupons.models import Coupon
from backend.errors import Forbidden
from backend.http.auth import staff_required
from backend.http.common import CLERK
from backend.http.docs import Out, endpoint
from backend.http.orders import (
    ORDER_ERRORS,
    RECEIPTS,
    REFUND_ERRORS,
    REFUND_RECEIPTS,
    TOPUP_RECEIPTS,
    OrderBody,
    OrderQuote,
    RefundBody,
    outcome_response,
)
from backend.http.read_models import CounterField, CouponRedemption, MemberCard
from backend.http.read_models import Coupon as CouponView
from backend.http.validation import Body, parse_body
from backend.idempotency import idempotent
from backend.loyalty import orders
from backend.members import custom_fields, scan, service
from backend.security.codes import CodeInvalid, CodeSigner
from miniprogram_api.routes import Consents

bp = Blueprint("store", url_prefix="/api/v1/store")
TAG = "store"


def _store_of(request: Request) -> int:
    store_id = request.ctx.staff.store_id
    if store_id is None:
        raise Forbidden("该账号未绑定门店，不能在柜台操作", details={"reason": "no_store"})
    return store_id


class ScanRequest(Body):
    code: str = Field(min_length=1, max_length=64)


class ScanTokenRequest(Body):
    scan_token: str = Field(min_length=1, max_length=1024)


class CounterRegistration(Body):
    phone: str = Field(min_length=1, max_length=20)
    name: str | None = Field(None, max_length=64, description="nickname or name as the member gives it")
    birthday: date | None = Field(None, ge=date(1900, 1, 1))
    gender: str | None = Field(None, pattern="^(male|female|unknown)$")
    consents: Consents = Consents()
    consent_text_version: str | None = Field(None, max_length=32)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=100,
                                          description="values for the console's custom fields (required ones "
                                                      "when the member is new); see GET /store/custom-fields")


class CounterFields(Out):
    items: list[CounterField]


class ScannedCard(MemberCard):
    kind: Literal["member", "coupon"] = Field(description="which code was scanned")
    coupon: CouponView | None = Field(None, description="the scanned coupon (kind `coupon` only)")
    scan_token: str = Field(description="names the member for this store's next calls")
    scan_token_expires_in: int


class CounterMemberCreated(MemberCard):
    created: Literal[True]
    scan_token: str
    scan_token_expires_in: int


class KnownMember(Out):
    id: int
    member_no: str
    phone: str | None = Field(description="masked")


class CounterMemberExists(Out):
    """The phone is a member already: the card opens only with the member's code."""

    created: Literal[False]
    member: KnownMember


@bp.post("/scan")
@endpoint(summary="Resolve a scanned member or coupon code: member summary (and the coupon) and a 10-minute "
                  "scan_token for this store",
          tag=TAG, body=ScanRequest, response=ScannedCard,
          errors=["UNAUTHENTICATED", "FORBIDDEN", "CODE_INVALID", "CODE_EXPIRED", "CODE_ALREADY_USED",
                  "MEMBER_NOT_FOUND", "RATE_LIMITED"])
@staff_required(*CLERK)
async def scan_code(request: Request) -> HTTPResponse:
    body = parse_body(request, ScanRequest)
    store_id = _store_of(request)
    # Bounds guessing: a clerk scans a few codes a minute, not thousands.
    await request.app.ctx.limiter.hit(f"scan:{request.ctx.staff.id}", limit=120, window_s=60)
    signer = CodeSigner(request.app.ctx.settings.secret_key)
    scanned = signer.parse(body.code)
    coupon = None
    if scanned.kind == "coupon":
        coupon = await Coupon.get_or_none(id=scanned.subject_id)
        if coupon is None:
            raise CodeInvalid()
        member = await service.get_member(member_id=coupon.member_id)
    else:
        member = await service.get_member(member_id=scanned.subject_id)
    await signer.consume(request.app.ctx.kv, scanned)
    token = scan.issue_scan_token(request.app.ctx.settings.secret_key, member_id=member.id, store_id=store_id,
                                  staff_id=request.ctx.staff.id)
    summary = await scan.member_summary(member, store_id=store_id)
    if coupon is not None:
        summary = {"kind": "coupon", "coupon": coupon_views.render_coupon(coupon), **summary}
    else:
        summary = {"kind": "member", **summary}
    return json({**summary, "scan_token": token, "scan_token_expires_in": scan.SCAN_TTL_S}, ensure_ascii=False)


@bp.post("/members/current")
@endpoint(summary="The member a scan_token names (refresh the member card after an action)", tag=TAG,
          body=ScanTokenRequest, response=MemberCard,
          errors=["UNAUTHENTICATED", "FORBIDDEN", "SCAN_TOKEN_EXPIRED", "MEMBER_NOT_FOUND"],
          operation_id="getScannedMember")
@staff_required(*CLERK)
async def current_member(request: Request) -> HTTPResponse:
    body = parse_body(request, ScanTokenRequest)
    store_id = _store_of(request)
    member_id = scan.member_from_scan_token(request.app.ctx.settings.secret_key, body.scan_token, store_id=store_id)
    member = await service.get_member(member_id=member_id)
    return json(await scan.member_summary(member, store_id=store_id), ensure_ascii=False)


@bp.post("/members")
@endpoint(summary="Counter registration: a walk-in member by phone (joins the member if the phone exists)",
          tag=TAG, body=CounterRegistration, responses={201: CounterMemberCreated, 200: CounterMemberExists},
          idempotent=True, operation_id="registerAtCounter",
          errors=["UNAUTHENTICATED", "FORBIDDEN", "MEMBER_NOT_FOUND", "IDEMPOTENCY_IN_FLIGHT",
                  "IDEMPOTENCY_KEY_REUSED", "CONFLICT"])
@staff_required(*CLERK)
@idempotent
async def register_member(request: Request) -> HTTPResponse:
    body = parse_body(request, CounterRegistration)
    store_id = _store_of(request)
    result = await service.register(reg=service.Registration(
        phone=body.phone, channel="pos", store_id=store_id, nickname=body.name, birthday=body.birthday,
        gender=body.gender, consents=body.consents.flags(), consent_text_version=body.consent_text_version,
        custom_fields=body.custom_fields,
    ), pii=request.app.ctx.pii, actor=audit.Actor.staff(request.ctx.staff.id))
    if not result.created:
        # The phone is a member already: say so, and no more. The card is opened by the member's code,
        # never by typing a phone number at the counter.
        member = result.member
        return json({"created": False, "member": {"id": member.id, "member_no": member.member_no,
                                                  "phone": service.masked_phone(member)}}, ensure_ascii=False)
    summary = await scan.member_summary(result.member, store_id=store_id)
    token = scan.issue_scan_token(request.app.ctx.settings.secret_key, member_id=result.member.id,
                                  store_id=store_id, staff_id=request.ctx.staff.id)
    return json({"created": True, **summary, "scan_token": token, "scan_token_expires_in": scan.SCAN_TTL_S},
                status=201, ensure_ascii=False)


@bp.get("/custom-fields")
@endpoint(summary="The active custom fields, for the registration form (required ones must be filled)", tag=TAG,
          response=CounterFields, errors=["UNAUTHENTICATED", "FORBIDDEN"])
@staff_required(*CLERK)
async def list_counter_custom_fields(request: Request) -> HTTPResponse:
    items = [{"key": d.key, "label": d.label, "type": d.type, "required": d.required, "choices": d.choices,
              "max_length": d.max_length} for d in await custom_fields.active_definitions()]
    return json({"items": items}, ensure_ascii=False)


class StoreOrder(OrderBody):
    scan_token: str | None = Field(None, min_length=1, max_length=1024,
                                   description="the scanned member; omit for a sale without a member")


class TopupRequest(Body):
    scan_token: str = Field(min_length=1, max_length=1024)
    amount_cents: int = Field(gt=0, le=100_000_000)
    payment_ref: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,64}$", description="the payment's reference: one top-up each")


def _scanned_member(request: Request, token: str | None, store_id: int) -> int | None:
    if token is None:
        return None
    return scan.member_from_scan_token(request.app.ctx.settings.secret_key, token, store_id=store_id)


@bp.post("/orders")
@endpoint(summary="In-store purchase: spend points and stored value, earn points; idempotent on order_no",
          tag=TAG, body=StoreOrder, responses=RECEIPTS,
          links={"refundStoreOrder": {"order_no": "$response.body#/order_no"}},
          errors=["UNAUTHENTICATED", "FORBIDDEN", "SCAN_TOKEN_EXPIRED", *ORDER_ERRORS],
          description="201 with the receipt; 200 with the same receipt when the order_no was already recorded "
                      "with the same content (`Idempotent-Replayed: true`).")
@staff_required(*CLERK)
async def place_store_order(request: Request) -> HTTPResponse:
    body = parse_body(request, StoreOrder)
    store_id = _store_of(request)
    member_id = _scanned_member(request, body.scan_token, store_id)
    outcome = await orders.place_order(body.to_input(channel="pos", member_id=member_id, store_id=store_id),
                                       tz=request.app.ctx.settings.timezone)
    return outcome_response(outcome)


@bp.post("/orders/quote")
@endpoint(summary="What an order would do, without doing it: discounts, payable, points spent and earned",
          tag=TAG, body=StoreOrder, response=OrderQuote, operation_id="quoteStoreOrder",
          errors=["UNAUTHENTICATED", "FORBIDDEN", "SCAN_TOKEN_EXPIRED", *ORDER_ERRORS])
@staff_required(*CLERK)
async def quote_order(request: Request) -> HTTPResponse:
    body = parse_body(request, StoreOrder)
    store_id = _store_of(request)
    member_id = _scanned_member(request, body.scan_token, store_id)
    receipt = await orders.quote_order(body.to_input(channel="pos", member_id=member_id, store_id=store_id),
                                       tz=request.app.ctx.settings.timezone)
    return json(receipt, ensure_ascii=False)


@bp.post("/orders/<order_no:order_no>/refund")
@endpoint(summary="Refund part or all of this store's order: points reversed, spent assets restored, pro rata",
          tag=TAG, body=RefundBody, responses=REFUND_RECEIPTS, idempotent=True,
          errors=["UNAUTHENTICATED", "FORBIDDEN", *REFUND_ERRORS])
@staff_required(*CLERK)
@idempotent
async def refund_store_order(request: Request, order_no: str) -> HTTPResponse:
    body = parse_body(request, RefundBody)
    outcome = await orders.refund_order(channel="pos", order_no=order_no, amount_cents=body.amount_cents,
                                        reason=body.reason, refund_no=body.refund_no, store_id=_store_of(request))
    return outcome_response(outcome)


@bp.post("/wallet/topups")
@endpoint(summary="Stored-value top-up with the matching bonus rule; once per payment_ref", tag=TAG,
          body=TopupRequest, responses=TOPUP_RECEIPTS, idempotent=True, operation_id="topUpWallet",
          errors=["UNAUTHENTICATED", "FORBIDDEN", "SCAN_TOKEN_EXPIRED", "PAYMENT_REF_USED", "IDEMPOTENCY_IN_FLIGHT",
                  "IDEMPOTENCY_KEY_REUSED"])
@staff_required(*CLERK)
@idempotent
async def topup(request: Request) -> HTTPResponse:
    body = parse_body(request, TopupRequest)
    store_id = _store_of(request)
    member_id = scan.member_from_scan_token(request.app.ctx.settings.secret_key, body.scan_token, store_id=store_id)
    outcome = await orders.topup(member_id=member_id, amount_cents=body.amount_cents, payment_ref=body.payment_ref,
                                 store_id=store_id, channel="pos", tz=request.app.ctx.settings.timezone)
    return outcome_response(outcome)


class RedeemRequest(Body):
    scan_token: str = Field(min_length=1, max_length=1024)
    order_amount_cents: int | None = Field(None, gt=0, le=10_000_000_000,
                                           description="needed for coupons with a minimum spend")


class ReverseRequest(Body):
    reason: str = Field(min_length=1, max_length=200)


REDEEM_ERRORS = ["UNAUTHENTICATED", "FORBIDDEN", "SCAN_TOKEN_EXPIRED", "COUPON_NOT_FOUND", "COUPON_ALREADY_REDEEMED", "COUPON_EXPIRED",
                 "COUPON_NOT_YET_VALID", "COUPON_WRONG_STORE", "COUPON_WRONG_CHANNEL", "COUPON_MIN_SPEND_NOT_MET",
                 "COUPON_TEMPLATE_PAUSED", "COUPON_NOT_APPLICABLE", "COUPON_HELD"]


@bp.post("/coupons/<coupon_id:id>/redeem")
@endpoint(summary="Redeem (核销) a coupon of the scanned member at this store", tag=TAG, body=RedeemRequest,
          response=CouponRedemption, status=201, idempotent=True, errors=[*REDEEM_ERRORS, "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"],
          links={"reverseRedemption": {"redemption_id": "$response.body#/id"}})
@staff_required(*CLERK)
@idempotent
async def redeem_coupon(request: Request, coupon_id: int) -> HTTPResponse:
    body = parse_body(request, RedeemRequest)
    store_id = _store_of(request)
    member_id = scan.member_from_scan_token(request.app.ctx.settings.secret_key, body.scan_token, store_id=store_id)
    redemption = await coupons.redeem_in_store(coupon_id=coupon_id, member_id=member_id, store_id=store_id,
                                               staff_id=request.ctx.staff.id,
                                               order_amount_cents=body.order_amount_cents)
    return json(coupon_views.render_redemption(redemption), status=201, ensure_ascii=False)


@bp.post("/redemptions/<redemption_id:id>/reverse")
@endpoint(summary="Undo a counter redemption of this store within the coupon's reversal window (audited)",
          tag=TAG, body=ReverseRequest, response=CouponRedemption, idempotent=True,
          errors=["UNAUTHENTICATED", "FORBIDDEN", "REDEMPTION_NOT_FOUND", "REDEMPTION_NOT_REVERSIBLE",
                  "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"])
@staff_required(*CLERK)
@idempotent
async def reverse_redemption(request: Request, redemption_id: int) -> HTTPResponse:
    body = parse_body(request, ReverseRequest)
    redemption = await coupons.reverse(redemption_id=redemption_id, store_id=_store_of(request),
                                       staff_id=request.ctx.staff.id, reason=body.reason)
    return json(coupon_views.render_redemption(redemption), ensure_ascii=False)
