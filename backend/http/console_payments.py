"""WeChat Pay payments in the console: a member's paid top-ups and memberships, refunds of a top-up's unspent
principal."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import audit
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, member_or_404, ok
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body
from backend.idempotency import idempotent
from backend.payments import service as payments
from backend.payments.models import WeChatPayment, WeChatRefund

bp = Blueprint("console_payments", url_prefix="/api/v1/admin")
TAG = "console"


class Refund(Out):
    out_refund_no: str
    status: Literal["processing", "succeeded", "failed"] = Field(
        description="failed: WeChat Pay refused or closed it, and the wallet was credited back")
    principal_cents: int
    bonus_cents: int = Field(description="the top-up's bonus taken back with it (its share, rounded up)")
    reason: str
    failure: str | None
    created_at: datetime
    settled_at: datetime | None


class Payment(Out):
    out_trade_no: str
    kind: Literal["topup", "membership"] = Field(description="a stored-value top-up or a paid membership period")
    status: Literal["pending", "paid", "closed"]
    amount_cents: int
    bonus_cents: int
    expires_at: datetime
    paid_at: datetime | None
    refunds: list[Refund]


class PaymentList(Out):
    items: list[Payment]


class RefundRequest(Body):
    amount_cents: int | None = Field(None, ge=1, le=5_000_000,
                                     description="principal to refund; absent: all of this top-up that is unspent")
    reason: str = Field(min_length=1, max_length=80)


@bp.get("/members/<member_id:id>/payments")
@endpoint(summary="The member's WeChat Pay top-ups and membership purchases, newest first, with their refunds", tag=TAG,
          response=PaymentList, errors=[*STAFF_AUTH_ERRORS, "MEMBER_NOT_FOUND"], operation_id="listMemberPayments")
@staff_required(*CONSOLE)
async def member_payments(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    rows = await WeChatPayment.filter(member_id=member_id).order_by("-id").limit(100)
    refunds: dict[int, list[dict[str, object]]] = {}
    for refund in await WeChatRefund.filter(payment_id__in=[row.id for row in rows]).order_by("id"):
        refunds.setdefault(refund.payment_id, []).append(payments.refund_view(refund))
    items = [{**{k: v for k, v in payments.view(row).items() if k != "payment"}, "refunds": refunds.get(row.id, [])}
             for row in rows]
    return ok({"items": items})


@bp.post("/payments/<out_trade_no:order_no>/refunds")
@endpoint(summary="Refund a paid top-up's unspent principal through WeChat Pay (its bonus forfeited pro rata)",
          tag=TAG, body=RefundRequest, response=Refund, status=201, idempotent=True, operation_id="refundTopup",
          errors=[*STAFF_AUTH_ERRORS, "PAYMENT_NOT_FOUND", "PAYMENT_NOT_REFUNDABLE", "REFUND_EXCEEDS_UNSPENT",
                  "WECHATPAY_DISABLED", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"],
          description="At most what this top-up brought and the member still holds as principal (not held by an open "
                      "checkout). The wallet is debited at once; `processing` until WeChat Pay reports the "
                      "refund, `failed` (and credited back) when it refuses or closes it.")
@staff_required(*ADMIN)
@idempotent
async def refund_topup(request: Request, out_trade_no: str) -> HTTPResponse:
    body = parse_body(request, RefundRequest)
    refund = await payments.refund_topup(out_trade_no=out_trade_no, amount_cents=body.amount_cents,
                                         reason=body.reason, actor=audit.Actor.staff(request.ctx.staff.id))
    return ok(refund, 201)
