"""Mini-program routes under /api/v1/mp: session, registration, profile, consents, member code, assets,
ledgers, orders, PIPL."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import audit, db
from backend.errors import Unauthenticated
from backend.http.auth import member_required, shopper_required
from backend.http.common import ok
from backend.http.docs import endpoint
from backend.http.pagination import PageQuery, page
from backend.http.read_models import (
    DynamicCode,
    MemberAssets,
    MemberProfile,
    OrderPage,
    PointsLedgerPage,
    WalletLedgerPage,
)
from backend.http.validation import Body, Id32, parse_body
from backend.idempotency import idempotent
from backend.loyalty import views as loyalty_views
from backend.loyalty.models import Order, PointsEntry, WalletEntry
from backend.members import privacy, service, sessions
from backend.members.errors import AlreadyRegistered
from backend.members.models import Member, WeChatAccount
from backend.security.codes import CodeSigner
from miniprogram_api.answers import (
    AccountDeleted,
    ConsentList,
    ConsentsUpdated,
    MemberExport,
    Referral,
    ShopperRegistration,
    ShopperSession,
    SubscriptionList,
)
from notifications import inbound

bp = Blueprint("miniprogram", url_prefix="/api/v1/mp")
TAG = "shopper"
EARLIEST_BIRTHDAY = date(1900, 1, 1)
MAX_CUSTOM_FIELDS = 50


async def current_member_row(request: Request) -> dict[str, Any]:
    """The caller's ``members`` row; a token of a deleted or merged member no longer works."""
    # A fixed statement: this runs on every shopper request, and the query builder costs more than the query.
    row = await db.fetch_one("SELECT * FROM members WHERE id = $1", request.ctx.member_id)
    if row is None or row["status"] != "active":
        raise Unauthenticated("会员已注销或已合并，请重新登录", details={"reason": "member_inactive"})
    return row


async def current_member(request: Request) -> Member:
    return Member._init_from_db(**await current_member_row(request))


class SessionRequest(Body):
    code: str = Field(min_length=1, max_length=128, description="wx.login() code")


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=10, max_length=200)


class Consents(Body):
    sms_marketing: bool | None = None
    email_marketing: bool | None = None
    wechat_marketing: bool | None = None
    sms_service: bool | None = None
    email_service: bool | None = None
    wechat_service: bool | None = None

    def flags(self) -> dict[str, bool]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RegisterRequest(Body):
    phone_code: str | None = Field(None, max_length=256, description="getPhoneNumber code (current API)")
    encrypted_data: str | None = Field(None, max_length=4096, description="legacy getPhoneNumber encryptedData")
    iv: str | None = Field(None, max_length=64)
    nickname: str | None = Field(None, max_length=64)
    birthday: date | None = Field(None, ge=EARLIEST_BIRTHDAY)
    gender: Literal["male", "female", "unknown"] | None = None
    referrer_code: str | None = Field(None, max_length=16)
    store_id: Id32 | None = Field(None, description="the store whose QR code brought the shopper")
    consents: Consents = Consents()
    consent_text_version: str | None = Field(None, max_length=32)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_CUSTOM_FIELDS)

    @model_validator(mode="after")
    def one_phone_source(self) -> RegisterRequest:
        if bool(self.phone_code) == bool(self.encrypted_data and self.iv):
            raise ValueError("请提供 phone_code，或 encrypted_data 与 iv 之一")
        return self


class ProfilePatch(Body):
    nickname: str | None = Field(None, max_length=64)
    gender: Literal["male", "female", "unknown"] | None = None
    birthday: date | None = Field(None, ge=EARLIEST_BIRTHDAY)
    email: str | None = Field(None, max_length=254)
    custom_fields: dict[str, Any] | None = Field(None, max_length=MAX_CUSTOM_FIELDS)


class ConsentsUpdate(Body):
    consents: Consents
    text_version: str | None = Field(None, max_length=32)


@bp.post("/session")
@endpoint(summary="wx.login code → session (session_key stays on the server)", tag=TAG, body=SessionRequest,
          response=ShopperSession, errors=["WECHAT_CODE_INVALID", "RATE_LIMITED"],
          description="Sandbox mode (no WECHAT_APP_ID, outside production) answers code2session locally: "
                      "any code logs in as a stable test user; the code `invalid` fails.")
async def create_shopper_session(request: Request) -> HTTPResponse:
    body = parse_body(request, SessionRequest)
    await request.app.ctx.limiter.hit(f"mp-session:{request.remote_addr or request.ip}", limit=60, window_s=60)
    gateway = request.app.ctx.wechat
    result = await gateway.code_to_session(body.code)
    tokens = await sessions.wechat_login(settings=request.app.ctx.settings, pii=request.app.ctx.pii,
                                         app_id=gateway.app_id, openid=result.openid, unionid=result.unionid,
                                         session_key=result.session_key)
    return ok(tokens.as_json())


@bp.post("/session/refresh")
@endpoint(summary="Rotate a refresh token (single use) for a new token pair", tag=TAG, body=RefreshRequest,
          response=ShopperSession, errors=["UNAUTHENTICATED"], operation_id="refreshShopperSession")
async def refresh_session(request: Request) -> HTTPResponse:
    body = parse_body(request, RefreshRequest)
    tokens = await sessions.refresh(settings=request.app.ctx.settings, refresh_token=body.refresh_token)
    return ok(tokens.as_json())


@bp.post("/register")
@endpoint(summary="Bind the phone and become a member (joins an existing member with that phone)", tag=TAG,
          body=RegisterRequest, responses={201: ShopperRegistration, 200: ShopperRegistration}, idempotent=True,
          errors=["UNAUTHENTICATED", "ALREADY_REGISTERED", "PHONE_BOUND_ELSEWHERE", "WECHAT_BOUND_ELSEWHERE",
                  "WECHAT_PHONE_CODE_INVALID", "WECHAT_DECRYPT_FAILED", "REFERRAL_CODE_INVALID", "MEMBER_NOT_FOUND",
                  "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED", "CONFLICT"],
          description="201 when a member was created; 200 when the phone's existing member was joined.",
          operation_id="registerShopper")
@shopper_required
@idempotent
async def register(request: Request) -> HTTPResponse:
    body = parse_body(request, RegisterRequest)
    if request.ctx.member_id is not None:
        raise AlreadyRegistered(details={"member_id": request.ctx.member_id})
    account = await WeChatAccount.get_or_none(id=request.ctx.wechat_account_id)
    if account is None:
        raise Unauthenticated(details={"reason": "wechat_account_unknown"})
    gateway, pii = request.app.ctx.wechat, request.app.ctx.pii
    if body.phone_code:
        phone = await gateway.get_phone_number(body.phone_code)
    else:
        session_key = pii.decrypt(account.session_key_enc) if account.session_key_enc else ""
        phone = gateway.decrypt_phone(session_key=session_key, encrypted_data=body.encrypted_data, iv=body.iv)
    result = await service.register(reg=service.Registration(
        phone=phone, channel="miniprogram", store_id=body.store_id, nickname=body.nickname, gender=body.gender,
        birthday=body.birthday, consents=body.consents.flags(), consent_text_version=body.consent_text_version,
        custom_fields=body.custom_fields, referrer_code=body.referrer_code, wechat_account_id=account.id,
    ), pii=pii, actor=audit.Actor("member", f"wechat:{account.id}"))
    tokens = await sessions.issue_tokens(settings=request.app.ctx.settings, member_id=result.member.id,
                                         account_id=account.id)
    return ok({**tokens.as_json(), "created": result.created, "member": service.profile(result.member)},
              status=201 if result.created else 200)


@bp.get("/me")
@endpoint(summary="The member's profile (phone masked) and custom fields", tag=TAG, response=MemberProfile,
          errors=["UNAUTHENTICATED"], operation_id="getMyProfile")
@member_required
async def get_me(request: Request) -> HTTPResponse:
    # The mini-program's most frequent call: no model built.
    return ok(service.profile_from_row(await current_member_row(request)))


@bp.patch("/me")
@endpoint(summary="Edit nickname, gender, email, custom fields; a birthday once set is staff-only", tag=TAG,
          body=ProfilePatch, response=MemberProfile,
          errors=["UNAUTHENTICATED", "BIRTHDAY_LOCKED", "EMAIL_BOUND_ELSEWHERE", "MEMBER_NOT_FOUND"],
          operation_id="updateMyProfile")
@member_required
async def patch_me(request: Request) -> HTTPResponse:
    body = parse_body(request, ProfilePatch)
    member = await current_member(request)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("gender") is None:
        changes.pop("gender", None)
    updated = await service.update_profile(member_id=member.id, changes=changes,
                                           actor=audit.Actor.member(member.id))
    return ok(service.profile(updated))


@bp.get("/me/consents")
@endpoint(summary="Consents per channel and purpose, with when and where each was given", tag=TAG,
          response=ConsentList, errors=["UNAUTHENTICATED"], operation_id="getMyConsents")
@member_required
async def get_consents(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok({"items": await service.consent_view(member_id=member.id)})


@bp.put("/me/consents")
@endpoint(summary="Grant or withdraw consents (withdrawal takes effect at once)", tag=TAG, body=ConsentsUpdate,
          response=ConsentsUpdated, errors=["UNAUTHENTICATED"], operation_id="updateMyConsents")
@member_required
async def put_consents(request: Request) -> HTTPResponse:
    body = parse_body(request, ConsentsUpdate)
    member = await current_member(request)
    changed = await service.update_consents(member_id=member.id, flags=body.consents.flags(), source="miniprogram",
                                            text_version=body.text_version)
    return ok({"changed": changed, "items": await service.consent_view(member_id=member.id)})


@bp.get("/me/code")
@endpoint(summary="Dynamic member code for the store scanner: rotates every 30 s, single use", tag=TAG,
          response=DynamicCode, errors=["UNAUTHENTICATED"], operation_id="getMyMemberCode")
@member_required
async def member_code(request: Request) -> HTTPResponse:
    member = await current_member(request)
    issued = await CodeSigner(request.app.ctx.settings.secret_key).issue_fresh(request.app.ctx.kv, "member", member.id)
    return ok(issued.as_json())


@bp.get("/me/referral")
@endpoint(summary="Own referral code and the members it brought", tag=TAG, response=Referral,
          errors=["UNAUTHENTICATED"], operation_id="getMyReferral")
@member_required
async def referral(request: Request) -> HTTPResponse:
    member = await current_member(request)
    invitees = await Member.filter(referrer_id=member.id).order_by("-id").limit(100)
    refs = set(await rewarded_invitees(member.id))
    points = sum(await PointsEntry.filter(member_id=member.id, ref__startswith="referral:").values_list(
        "points", flat=True))
    return ok({
        "referral_code": member.referral_code,
        "invited_count": await Member.filter(referrer_id=member.id).count(),
        "reward_points": points,
        "invitees": [{"nickname": mask_nickname(m.nickname), "registered_at": m.registered_at.isoformat(),
                      "status": m.status, "rewarded": m.id in refs} for m in invitees],
    })


def mask_nickname(nickname: str | None) -> str:
    """An invitee as the referrer sees them: the first character, then ** (their own name is theirs)."""
    if not nickname or not nickname.strip():
        return "微信用户"
    return f"{nickname.strip()[0]}**"


async def rewarded_invitees(referrer_id: int) -> list[int]:
    """The invitees whose referral reward the referrer has had (the reward event names each once)."""
    rows = await db.fetch("SELECT payload FROM member_events WHERE member_id = $1 AND type = 'referral_rewarded'",
                          referrer_id)
    out = []
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str | bytes):
            payload = json.loads(payload)
        out.append(int(payload.get("invitee_id", 0)))
    return out


@bp.get("/me/export")
@endpoint(summary="Personal data export (PIPL): everything held about the member", tag=TAG,
          response=MemberExport, errors=["UNAUTHENTICATED", "MEMBER_NOT_FOUND"], operation_id="exportMyData")
@member_required
async def export(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok(await privacy.export_member(member_id=member.id, pii=request.app.ctx.pii))


@bp.delete("/me")
@endpoint(summary="Delete the account (PIPL): personal data erased, identities released", tag=TAG,
          response=AccountDeleted, errors=["UNAUTHENTICATED", "MEMBER_NOT_FOUND"], operation_id="deleteMyAccount")
@member_required
async def delete_me(request: Request) -> HTTPResponse:
    member = await current_member(request)
    await privacy.delete_member(member_id=member.id, actor=audit.Actor.member(member.id))
    return ok({"deleted": True})


@bp.get("/me/assets")
@endpoint(summary="Home screen: points (with what expires within 30 days), stored value, tier and progress",
          tag=TAG, response=MemberAssets, errors=["UNAUTHENTICATED"], operation_id="getMyAssets")
@member_required
async def assets(request: Request) -> HTTPResponse:
    # The card's JSON as stored, spliced with the tier: the hottest read skips decoding and encoding it.
    body = await loyalty_views.assets_json(request.ctx.member_id, active_only=True)
    if body is None:
        raise Unauthenticated("会员已注销或已合并，请重新登录", details={"reason": "member_inactive"})
    return HTTPResponse(body, content_type="application/json")


@bp.get("/me/points/ledger")
@endpoint(query=PageQuery, summary="Points history, newest first (cursor, limit ≤ 100)", tag=TAG,
          response=PointsLedgerPage, errors=["UNAUTHENTICATED"], operation_id="listMyPointsLedger")
@member_required
async def points_ledger(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok(await page(request, PointsEntry.filter(member_id=member.id), loyalty_views.render_points_entry))


@bp.get("/me/balance/ledger")
@endpoint(query=PageQuery, summary="Stored-value history, newest first (cursor, limit ≤ 100)", tag=TAG,
          response=WalletLedgerPage, errors=["UNAUTHENTICATED"], operation_id="listMyWalletLedger")
@member_required
async def balance_ledger(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok(await page(request, WalletEntry.filter(member_id=member.id), loyalty_views.render_wallet_entry))


@bp.get("/me/orders")
@endpoint(query=PageQuery, summary="Orders from every channel, newest first (cursor, limit ≤ 100)", tag=TAG,
          response=OrderPage, errors=["UNAUTHENTICATED"], operation_id="listMyOrders")
@member_required
async def my_orders(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok(await page(request, Order.filter(member_id=member.id), loyalty_views.render_order))


class SubscriptionResults(Body):
    accepted: list[str] = Field(default_factory=list, max_length=20,
                                description="template ids the member accepted: one send each")
    rejected: list[str] = Field(default_factory=list, max_length=20, description="declined this time: nothing changes")
    banned: list[str] = Field(default_factory=list, max_length=20,
                              description="\"always reject\": the template's remaining sends are cleared")

    @model_validator(mode="after")
    def template_ids(self) -> SubscriptionResults:
        for template_id in (*self.accepted, *self.rejected, *self.banned):
            if not 1 <= len(template_id) <= 64 or not template_id.isprintable():
                raise ValueError("模板 id 应为 1 到 64 个可打印字符")
        return self


@bp.post("/me/subscriptions")
@endpoint(summary="Results of wx.requestSubscribeMessage: each accepted one-time template grants one send", tag=TAG,
          body=SubscriptionResults, response=SubscriptionList, idempotent=True,
          errors=["UNAUTHENTICATED", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"],
          operation_id="recordMySubscriptions")
@member_required
@idempotent
async def record_subscriptions(request: Request) -> HTTPResponse:
    body = parse_body(request, SubscriptionResults)
    member = await current_member(request)
    items = await inbound.record_subscriptions(member_id=member.id, accepted=body.accepted, banned=body.banned)
    return ok({"items": items})


@bp.get("/me/subscriptions")
@endpoint(summary="Sends left per subscribe-message template", tag=TAG, response=SubscriptionList,
          errors=["UNAUTHENTICATED"], operation_id="listMySubscriptions")
@member_required
async def list_subscriptions(request: Request) -> HTTPResponse:
    member = await current_member(request)
    return ok({"items": await inbound.subscriptions(member_id=member.id)})
