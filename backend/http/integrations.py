"""Integrations API for the online mall, POS and ERP: HMAC-signed requests."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import audit
from backend.errors import field_errors
from backend.http.auth import app_signed
from backend.http.docs import endpoint
from backend.http.orders import (
    ORDER_ERRORS,
    RECEIPTS,
    REFUND_ERRORS,
    REFUND_RECEIPTS,
    OrderBody,
    RefundBody,
    outcome_response,
)
from backend.http.read_models import MemberCard
from backend.http.validation import Body, Id, Id32, parse_body
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
    channel: Literal["online", "pos", "third_party"]
    member: MemberRef | None = Field(None, description="the buyer; omit for a guest order")
    store_id: Id32 | None = None


class IntegrationRefund(RefundBody):
    channel: Literal["online", "pos", "third_party"]


async def _find(request: Request, ref: MemberRef) -> Member:
    if ref.phone is not None:
        member = await service.find_by_phone(phone=ref.phone, pii=request.app.ctx.pii)
    elif ref.unionid is not None:
        member = await service.find_by_identity(kind="unionid", value=ref.unionid)
    elif ref.member_no is not None:
        member = await service.find_by_identity(kind="card", value=ref.member_no)
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
