"""Integrations API for the online mall, POS and ERP: HMAC-signed requests."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import audit
from backend.http.auth import app_signed
from backend.http.docs import endpoint
from backend.http.validation import Body, parse_body
from backend.idempotency import idempotent
from backend.members import scan, service
from backend.members.errors import MemberNotFound
from miniprogram_api.routes import Consents

bp = Blueprint("integrations", url_prefix="/api/v1/integrations")
TAG = "integrations"
SIGNED = ["UNAUTHENTICATED"]


class LookupRequest(Body):
    phone: str | None = Field(None, max_length=20)
    unionid: str | None = Field(None, max_length=64)
    member_no: str | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def exactly_one(self) -> LookupRequest:
        if sum(value is not None for value in (self.phone, self.unionid, self.member_no)) != 1:
            raise ValueError("请提供 phone、unionid、member_no 其中之一")
        return self


class MemberPush(Body):
    phone: str = Field(min_length=1, max_length=20)
    nickname: str | None = Field(None, max_length=64)
    birthday: date | None = None
    gender: str | None = Field(None, pattern="^(male|female|unknown)$")
    email: str | None = Field(None, max_length=254)
    channel: str = Field("online", pattern="^(online|third_party)$")
    consents: Consents = Consents()
    consent_text_version: str | None = Field(None, max_length=32)


@bp.post("/members/lookup")
@endpoint(summary="Member summary by phone, unionid or member_no", tag=TAG, body=LookupRequest,
          errors=[*SIGNED, "MEMBER_NOT_FOUND"])
@app_signed
async def lookup(request: Request) -> HTTPResponse:
    body = parse_body(request, LookupRequest)
    if body.phone is not None:
        member = await service.find_by_phone(phone=body.phone, pii=request.app.ctx.pii)
    elif body.unionid is not None:
        member = await service.find_by_identity(kind="unionid", value=body.unionid)
    else:
        member = await service.find_by_identity(kind="card", value=body.member_no or "")
    if member is None:
        raise MemberNotFound()
    return json(await scan.member_summary(member, store_id=None), ensure_ascii=False)


@bp.post("/members")
@endpoint(summary="Push a member from the online mall (one member per phone: joins an existing one)", tag=TAG,
          body=MemberPush, idempotent=True,
          errors=[*SIGNED, "EMAIL_BOUND_ELSEWHERE", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED", "CONFLICT"])
@app_signed
@idempotent
async def push_member(request: Request) -> HTTPResponse:
    body = parse_body(request, MemberPush)
    result = await service.register(reg=service.Registration(
        phone=body.phone, channel=body.channel, nickname=body.nickname, birthday=body.birthday, gender=body.gender,
        email=body.email, consents=body.consents.flags(), consent_text_version=body.consent_text_version,
    ), pii=request.app.ctx.pii, actor=audit.Actor.app(request.ctx.app_key.key_id))
    summary = await scan.member_summary(result.member, store_id=None)
    return json({"created": result.created, **summary}, status=201 if result.created else 200, ensure_ascii=False)
