"""Stored-value top-ups paid with WeChat Pay: the mini-program's routes under /api/v1/mp/wallet and WeChat
Pay's notification callback (``backend.payments.service``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import clock
from backend.http.auth import member_required
from backend.http.common import ok
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body
from backend.loyalty import orders
from backend.loyalty import program as programs
from backend.payments import service as payments
from backend.payments.errors import NotificationInvalid
from backend.payments.wechatpay import SignatureInvalid

bp = Blueprint("miniprogram_payments", url_prefix="/api/v1/mp")
callbacks = Blueprint("payment_callbacks", url_prefix="/api/v1/callbacks")
TAG = "shopper"
MAX_TOPUP_CENTS = 5_000_000  # 50 000 yuan at once


class TopupOption(Out):
    min_amount_cents: int = Field(description="from this amount on ...")
    bonus_cents: int = Field(description="... this bonus is added (the best matching plan applies)")
    name: str | None
    ends_at: datetime | None = Field(description="the plan's last moment, when it has one")


class TopupOptions(Out):
    enabled: bool = Field(description="whether top-ups can be paid here (WeChat Pay configured)")
    options: list[TopupOption] = Field(description="the program's top-up plans that apply online now, less those "
                                                   "whose per-member limit the member has reached")
    max_amount_cents: int


class PaidTopupRequest(Body):
    amount_cents: int = Field(ge=100, le=MAX_TOPUP_CENTS, description="principal to top up, in fen (≥ 1 yuan)")


class PayParams(Out):
    """Pass as they are to ``wx.requestPayment``."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str = Field(description="prepay_id=…")
    signType: Literal["RSA"]
    paySign: str


class TopupPayment(Out):
    out_trade_no: str
    kind: Literal["topup"]
    status: Literal["pending", "paid", "closed"] = Field(
        description="pending until WeChat Pay reports the payment; closed when its time limit passed unpaid")
    amount_cents: int
    bonus_cents: int = Field(description="the bonus credited with the principal once paid")
    expires_at: datetime = Field(description="pay before this; the order is closed after it")
    paid_at: datetime | None
    payment: PayParams | None = Field(description="when the order was just made: what wx.requestPayment needs")


@bp.get("/wallet/topup-options")
@endpoint(summary="Top-up plans that apply online now (amount and bonus), and whether they can be paid here", tag=TAG,
          response=TopupOptions, errors=["UNAUTHENTICATED"], operation_id="getTopupOptions")
@member_required
async def topup_options(request: Request) -> HTTPResponse:
    program = await programs.load()
    used = await orders.topup_plans_used(request.ctx.member_id, program)
    options = [{"min_amount_cents": plan.min_amount_cents, "bonus_cents": plan.bonus_cents, "name": plan.name,
                "ends_at": plan.ends_at.isoformat() if plan.ends_at else None}
               for plan in program.topup_plans("online", clock.now())
               if plan.per_member_limit is None or used.get(plan.code or "", 0) < plan.per_member_limit]
    return ok({"enabled": payments.enabled(), "options": options, "max_amount_cents": MAX_TOPUP_CENTS})


@bp.post("/wallet/topups")
@endpoint(summary="Top up stored value with WeChat Pay: the order and the signed wx.requestPayment parameters",
          tag=TAG, body=PaidTopupRequest, response=TopupPayment, status=201,
          errors=["UNAUTHENTICATED", "WECHATPAY_DISABLED", "WECHAT_ACCOUNT_REQUIRED", "PAYMENT_GATEWAY_UNAVAILABLE",
                  "PAYMENT_REFUSED"],
          operation_id="startTopup",
          description="The balance changes when WeChat Pay reports the payment (its notification, or a query "
                      "of the order when none comes), once per payment; poll `GET /wallet/topups/{out_trade_no}` "
                      "after `wx.requestPayment` succeeds.")
@member_required
async def start_topup(request: Request) -> HTTPResponse:
    body = parse_body(request, PaidTopupRequest)
    return ok(await payments.start_topup(member_id=request.ctx.member_id, amount_cents=body.amount_cents), 201)


@bp.get("/wallet/topups/<out_trade_no:order_no>")
@endpoint(summary="A top-up's state; a pending one is asked of WeChat Pay first", tag=TAG, response=TopupPayment,
          errors=["UNAUTHENTICATED", "PAYMENT_NOT_FOUND"], operation_id="getTopup")
@member_required
async def get_topup(request: Request, out_trade_no: str) -> HTTPResponse:
    return ok(await payments.get(request.ctx.member_id, out_trade_no))


class EncryptedResource(Body):
    original_type: str = Field(max_length=32)
    algorithm: Literal["AEAD_AES_256_GCM"]
    ciphertext: str = Field(max_length=65536)
    associated_data: str = Field("", max_length=256)
    nonce: str = Field(max_length=64)


class WeChatPayNotice(Body):
    """As WeChat Pay posts it, with the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers."""

    id: str = Field(max_length=64)
    create_time: str = Field(max_length=40)
    resource_type: str = Field(max_length=32)
    event_type: str = Field(max_length=64, description="TRANSACTION.SUCCESS, REFUND.SUCCESS, …")
    summary: str = Field("", max_length=128)
    resource: EncryptedResource


@callbacks.post("/wechatpay")
@endpoint(summary="WeChat Pay notifications (payments and refunds): signature verified, resource decrypted, "
                  "each payment credited once", tag="callbacks", body=WeChatPayNotice, response=None, status=204,
          errors=["WECHATPAY_SIGNATURE_INVALID", "WECHATPAY_DISABLED"], operation_id="receiveWeChatPayNotification",
          description="Set as `notify_url` (WECHATPAY_NOTIFY_URL). A notification whose signature does not verify "
                      "with the platform key, is more than 5 minutes old or does not decrypt answers 401 and "
                      "changes nothing; WeChat Pay retries any answer that is not 2xx.")
async def wechatpay_notification(request: Request) -> HTTPResponse:
    gateway = payments.client()
    try:
        note = gateway.notification(request.headers, request.body)
    except SignatureInvalid as exc:
        raise NotificationInvalid(details={"reason": exc.code}) from None
    if note.resource_type == "transaction":
        await payments.settle(note.resource)
    elif note.resource_type == "refund":
        await payments.refund_settled(note.resource)
    return HTTPResponse(status=204)
