"""Integrations API for the online mall, POS and ERP: HMAC-signed requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import audit
from backend.checkout import errors as _checkout_errors  # noqa: F401  (registers the checkout codes)
from backend.checkout import service as checkout
from backend.errors import field_errors
from backend.http.auth import app_signed
from backend.http.docs import Out, endpoint
from backend.http.orders import (
    MAX_CENTS,
    ORDER_ERRORS,
    RECEIPTS,
    REFUND_ERRORS,
    REFUND_RECEIPTS,
    OrderBody,
    OrderItem,
    OrderQuote,
    OrderReceipt,
    RefundBody,
    outcome_response,
)
from backend.http.read_models import MemberCard
from backend.http.validation import Body, Id, Id32, PastTime, parse_body
from backend.idempotency import idempotent
from backend.loyalty import orders
from backend.members import scan, service
from backend.members.errors import MemberNotFound
from backend.members.models import Member
from backend.stores.models import Store
from backend.stores.service import Scope
from miniprogram_api.routes import Consents

bp = Blueprint("integrations", url_prefix="/api/v1/integrations")
TAG = "integrations"
SIGNED = ["UNAUTHENTICATED", "FORBIDDEN"]  # FORBIDDEN: outside the app key's scopes


class MemberRef(Body):
    """Exactly one way to name a member: phone, unionid, member_id or member_no."""

    phone: str | None = Field(None, max_length=20)
    unionid: str | None = Field(None, max_length=64)
    member_id: Id | None = None
    member_no: str | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def exactly_one(self) -> MemberRef:
        given = (self.phone, self.unionid, self.member_id, self.member_no)
        if sum(value is not None for value in given) != 1:
            raise ValueError("请提供 phone、unionid、member_id、member_no 其中之一")
        return self


class MemberPush(Body):
    phone: str = Field(min_length=1, max_length=20)
    nickname: str | None = Field(None, max_length=64)
    birthday: date | None = Field(None, ge=date(1900, 1, 1))
    gender: Literal["male", "female", "unknown"] | None = None
    email: str | None = Field(None, max_length=254)
    channel: Literal["online", "third_party"] = "online"
    consents: Consents = Consents()
    consent_text_version: str | None = Field(None, max_length=32)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=100,
                                          description="values for the console's custom fields (required ones "
                                                      "when the member is new)")


class IntegrationMember(MemberCard):
    created: bool = Field(description="false: the phone was a member already, who is joined, not duplicated")


@bp.post("/members/lookup")
@endpoint(summary="Member summary by phone, unionid, member_id or member_no", tag=TAG, body=MemberRef,
          response=MemberCard, errors=[*SIGNED, "MEMBER_NOT_FOUND"], operation_id="lookupMember")
@app_signed
async def lookup(request: Request) -> HTTPResponse:
    Scope.of(request.ctx.app_key).require("members.lookup")
    member = await _find(request, parse_body(request, MemberRef))
    return json(await scan.member_summary(member, store_id=None), ensure_ascii=False)


@bp.post("/members")
@endpoint(summary="Push a member from the online mall (one member per phone: joins an existing one)", tag=TAG,
          body=MemberPush, responses={201: IntegrationMember, 200: IntegrationMember}, idempotent=True,
          operation_id="pushMember",
          errors=[*SIGNED, "EMAIL_BOUND_ELSEWHERE", "MEMBER_NOT_FOUND", "IDEMPOTENCY_IN_FLIGHT",
                  "IDEMPOTENCY_KEY_REUSED", "CONFLICT"])
@app_signed
@idempotent
async def push_member(request: Request) -> HTTPResponse:
    body = parse_body(request, MemberPush)
    Scope.of(request.ctx.app_key).require("members.write", channel=body.channel)
    result = await service.register(reg=service.Registration(
        phone=body.phone, channel=body.channel, nickname=body.nickname, birthday=body.birthday, gender=body.gender,
        email=body.email, consents=body.consents.flags(), consent_text_version=body.consent_text_version,
        custom_fields=body.custom_fields,
    ), pii=request.app.ctx.pii, actor=audit.Actor.app(request.ctx.app_key.key_id))
    summary = await scan.member_summary(result.member, store_id=None)
    return json({"created": result.created, **summary}, status=201 if result.created else 200, ensure_ascii=False)


class IntegrationOrder(OrderBody):
    channel: Literal["online", "pos", "miniprogram", "third_party"]
    member: MemberRef | None = Field(None, description="the buyer; omit for a guest order")
    store_id: Id32 | None = None


class IntegrationRefund(RefundBody):
    channel: Literal["online", "pos", "miniprogram", "third_party"]


async def _find(request: Request, ref: MemberRef) -> Member:
    if ref.phone is not None:
        member = await service.find_by_phone(phone=ref.phone, pii=request.app.ctx.pii)
    elif ref.unionid is not None:
        member = await service.find_by_identity(kind="unionid", value=ref.unionid)
    elif ref.member_no is not None:
        member = await service.find_by_identity(kind="card", value=ref.member_no) \
            or await service.find_by_identity(kind="legacy", value=ref.member_no)  # an imported old number
    else:
        member = await Member.get_or_none(id=ref.member_id, status="active")
    if member is None:
        raise MemberNotFound()
    return member


@bp.post("/orders")
@endpoint(summary="An online, POS or third-party order: same effect and idempotency as store orders", tag=TAG,
          body=IntegrationOrder, responses=RECEIPTS, errors=[*SIGNED, *ORDER_ERRORS],
          description="201 with the receipt; 200 with the same receipt (`Idempotent-Replayed`) when the order_no "
                      "was placed before with the same content.")
@app_signed
async def place_integration_order(request: Request) -> HTTPResponse:
    body = parse_body(request, IntegrationOrder)
    scope = Scope.of(request.ctx.app_key)
    scope.require("orders", channel=body.channel)
    scope.require_store(body.store_id)
    member_id = (await _find(request, body.member)).id if body.member else None
    if body.store_id is not None and not await Store.exists(id=body.store_id):
        raise field_errors({"store_id": "门店不存在"})
    order = body.to_input(channel=body.channel, member_id=member_id, store_id=body.store_id)
    order.app_key_id = request.ctx.app_key.id
    outcome = await orders.place_order(order, tz=request.app.ctx.settings.timezone)
    return outcome_response(outcome)


@bp.post("/orders/<order_no:order_no>/refund")
@endpoint(summary="Refund part or all of an order pushed through the integrations API", tag=TAG,
          body=IntegrationRefund, responses=REFUND_RECEIPTS, idempotent=True, errors=[*SIGNED, *REFUND_ERRORS])
@app_signed
@idempotent
async def refund_integration_order(request: Request, order_no: str) -> HTTPResponse:
    body = parse_body(request, IntegrationRefund)
    scope = Scope.of(request.ctx.app_key)
    # A channel outside the scope is refused whether or not the order exists (403, nothing revealed); an
    # order of a store outside it is not found (404), as another store's order is for a clerk.
    scope.require("refunds", channel=body.channel)
    outcome = await orders.refund_order(channel=body.channel, order_no=order_no, amount_cents=body.amount_cents,
                                        reason=body.reason, refund_no=body.refund_no, store_ids=scope.store_ids)
    return outcome_response(outcome)


# --- checkout sessions (validate → hold → complete, or cancel / expire) ----------------------------------

CHECKOUT_ERRORS = [*SIGNED, "MEMBER_NOT_FOUND", "CHECKOUT_NOT_FOUND"]


class CheckoutCart(Body):
    member: MemberRef
    channel: Literal["online", "miniprogram"]
    store_id: Id32 | None = None
    amount_cents: int = Field(gt=0, le=MAX_CENTS, description="amount due for the cart, before coupons")
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    member_price_applied: bool = False


class CheckoutOpen(CheckoutCart):
    coupon_ids: list[Id] = Field(default_factory=list, max_length=20)
    points_to_spend: int = Field(0, ge=0, le=1_000_000_000)
    balance_to_spend_cents: int = Field(0, ge=0, le=MAX_CENTS)
    ttl_seconds: int = Field(checkout.DEFAULT_TTL_S, ge=checkout.MIN_TTL_S, le=checkout.MAX_TTL_S,
                             description="how long the holds last (default 15 minutes)")


class CheckoutComplete(Body):
    order_no: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,64}$", description="the order number payment succeeded for")
    placed_at: PastTime | None = None


class CartCoupon(Out):
    coupon_id: int
    name: str
    valid_until: datetime
    applicable: bool
    discount_cents: int = Field(description="what it alone would take off this cart (0 when not applicable)")
    stackable: bool = Field(description="may be combined with other stackable coupons")
    reason: str | None = Field(description="the error code that keeps it from this cart (COUPON_HELD, "
                                           "COUPON_MIN_SPEND_NOT_MET, COUPON_WRONG_STORE, ...)")


class CartTier(Out):
    code: str
    name: str
    discount_pct: int
    member_price_cents: int = Field(description="the cart at the tier's member price")


class CartPoints(Out):
    balance: int
    held: int = Field(description="held by other open checkout sessions")
    available: int
    max_usable: int = Field(description="the most points this cart can take (whole cents, at most the amount)")
    max_value_cents: int
    redeem_points_per_yuan: int


class CartStoredValue(Out):
    balance_cents: int
    held_cents: int
    available_cents: int
    max_usable_cents: int


class CheckoutValidation(Out):
    member_id: int
    amount_cents: int
    coupons: list[CartCoupon]
    tier: CartTier
    points: CartPoints
    stored_value: CartStoredValue


class CheckoutItem(Out):
    sku: str
    amount_cents: int
    category: str | None
    quantity: int


class CheckoutQuote(OrderQuote):
    order_no: str | None = Field(None, description="null: the order number comes with the completion")


class CheckoutSessionView(Out):
    id: int
    status: Literal["open", "completed", "cancelled", "expired"] = Field(
        description="an open session past its TTL reads as expired: it holds nothing")
    member_id: int
    channel: str
    store_id: int | None
    amount_cents: int
    items: list[CheckoutItem]
    coupon_ids: list[int] = Field(description="held until completed, cancelled or expired")
    points_to_spend: int = Field(description="held")
    balance_to_spend_cents: int = Field(description="held")
    member_price_applied: bool
    expires_at: datetime
    quote: CheckoutQuote = Field(description="what completing it would do, as quoted when it opened")
    order_no: str | None
    order_id: int | None
    created_at: datetime
    closed_at: datetime | None


class CheckoutCompletion(Out):
    session: CheckoutSessionView
    receipt: OrderReceipt


def _cart(body: CheckoutCart, member_id: int) -> checkout.Cart:
    return checkout.Cart(member_id=member_id, channel=body.channel, amount_cents=body.amount_cents,
                         store_id=body.store_id, member_price_applied=body.member_price_applied,
                         items=[orders.Item(sku=i.sku, amount_cents=i.amount_cents, category=i.category,
                                            quantity=i.quantity) for i in body.items])


async def _checked_cart(request: Request, body: CheckoutCart) -> checkout.Cart:
    scope = Scope.of(request.ctx.app_key)
    scope.require("orders", channel=body.channel)
    scope.require_store(body.store_id)
    if body.store_id is not None and not await Store.exists(id=body.store_id):
        raise field_errors({"store_id": "门店不存在"})
    return _cart(body, (await _find(request, body.member)).id)


@bp.post("/checkout/validate")
@endpoint(summary="Which of the member's coupons fit a cart, the member price, and the most points and stored value "
                  "usable; nothing is held", tag=TAG, body=CheckoutCart, response=CheckoutValidation,
          errors=[*SIGNED, "MEMBER_NOT_FOUND"], operation_id="validateCheckout")
@app_signed
async def validate_checkout(request: Request) -> HTTPResponse:
    body = parse_body(request, CheckoutCart)
    return json(await checkout.validate(await _checked_cart(request, body)))


@bp.post("/checkout-sessions")
@endpoint(summary="Open a checkout session: the chosen coupons, points and stored value are held until its TTL",
          tag=TAG, body=CheckoutOpen, response=CheckoutSessionView, status=201, idempotent=True,
          errors=[*SIGNED, *ORDER_ERRORS, "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"],
          operation_id="openCheckoutSession",
          description="The session quotes the payable with the order code itself. Held coupons cannot be redeemed "
                      "elsewhere (COUPON_HELD); held points and stored value are not spendable elsewhere "
                      "(INSUFFICIENT_POINTS / INSUFFICIENT_BALANCE with `held` in the details).",
          links={op: {"session_id": "$response.body#/id"} for op in (
              "getCheckoutSession", "completeCheckoutSession", "cancelCheckoutSession")})
@app_signed
@idempotent
async def open_checkout(request: Request) -> HTTPResponse:
    body = parse_body(request, CheckoutOpen)
    cart = await _checked_cart(request, body)
    session = await checkout.open_session(cart, coupon_ids=body.coupon_ids, points=body.points_to_spend,
                                          balance_cents=body.balance_to_spend_cents, ttl_s=body.ttl_seconds,
                                          app_key_id=request.ctx.app_key.id, tz=request.app.ctx.settings.timezone)
    return json(checkout.render(session), status=201)


@bp.get("/checkout-sessions/<session_id:id>")
@endpoint(summary="A checkout session; one past its TTL reads as expired", tag=TAG, response=CheckoutSessionView,
          errors=CHECKOUT_ERRORS, operation_id="getCheckoutSession")
@app_signed
async def get_checkout(request: Request, session_id: int) -> HTTPResponse:
    return json(checkout.render(await checkout.get(session_id, app_key_id=request.ctx.app_key.id)))


@bp.post("/checkout-sessions/<session_id:id>/complete")
@endpoint(summary="Payment succeeded: record the order with the session's holds (once, however many calls)",
          tag=TAG, body=CheckoutComplete, responses={201: CheckoutCompletion, 200: CheckoutCompletion},
          errors=[*CHECKOUT_ERRORS, *ORDER_ERRORS, "CHECKOUT_CLOSED", "CHECKOUT_EXPIRED"],
          operation_id="completeCheckoutSession",
          description="201 with the order's receipt, exactly as `/integrations/orders` records it; 200 with the same "
                      "receipt for a repeat with the same order_no. CHECKOUT_CLOSED for a cancelled session or one "
                      "completed with another order_no; past the TTL the holds are gone: the completion succeeds if "
                      "what it needs is still there, else CHECKOUT_EXPIRED names why (`details.reason`).")
@app_signed
async def complete_checkout(request: Request, session_id: int) -> HTTPResponse:
    body = parse_body(request, CheckoutComplete)
    session, outcome = await checkout.complete(session_id, app_key_id=request.ctx.app_key.id, order_no=body.order_no,
                                               placed_at=body.placed_at, tz=request.app.ctx.settings.timezone)
    answer = {"session": checkout.render(session), "receipt": outcome.receipt}
    return json(answer, status=201 if outcome.created else 200)


@bp.post("/checkout-sessions/<session_id:id>/cancel")
@endpoint(summary="Cancel a checkout session: everything it holds is released", tag=TAG,
          response=CheckoutSessionView, errors=[*CHECKOUT_ERRORS, "CHECKOUT_CLOSED"],
          operation_id="cancelCheckoutSession",
          description="Cancelling again answers the same session; a completed one is CHECKOUT_CLOSED (refund the "
                      "order instead).")
@app_signed
async def cancel_checkout(request: Request, session_id: int) -> HTTPResponse:
    return json(checkout.render(await checkout.cancel(session_id, app_key_id=request.ctx.app_key.id)))
