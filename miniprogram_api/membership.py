"""Paid membership (付费会员) in the mini-program: the plans on sale and the member's membership, buying or renewing a
period with WeChat Pay (the same notification callback and minute job as top-ups settle it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import member_required
from backend.http.common import ok
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body
from backend.loyalty import program as programs
from backend.membership import service as membership
from backend.payments import service as payments
from miniprogram_api.payments import PayParams

bp = Blueprint("miniprogram_membership", url_prefix="/api/v1/mp")
TAG = "shopper"
PAY_ERRORS = ["WECHATPAY_DISABLED", "WECHAT_ACCOUNT_REQUIRED", "PAYMENT_GATEWAY_UNAVAILABLE", "PAYMENT_REFUSED"]


class PackCoupon(Out):
    template_id: int
    count: int


class Benefits(Out):
    discount_pct: int = Field(description="member price rate on the order amount, 95 = 95折, 100 = none; at the "
                                          "counter the better of this and the tier's rate applies")
    points_multiplier_pct: int = Field(description="150 = ×1.5, multiplied with the tier's multiplier")
    free_shipping: bool
    monthly_coupons: list[PackCoupon] = Field(description="the coupon pack issued each month of a paid period")
    coupon_center_priority: bool


class Plan(Out):
    code: str
    name: str
    period: Literal["month", "quarter", "year"]
    price_cents: int
    benefits: Benefits


class Period(Out):
    id: int
    plan_code: str
    plan_name: str
    period: Literal["month", "quarter", "year"]
    price_cents: int
    starts_at: datetime
    ends_at: datetime = Field(description="a merchant-time midnight")
    status: Literal["active", "refunded"]
    refunded_at: datetime | None


class CurrentMembership(Out):
    active: bool = Field(description="a paid period runs now")
    plan_code: str | None = Field(description="the plan of the period running now")
    plan_name: str | None
    benefits: Benefits | None = Field(description="those of the period running now (as when it was bought)")
    ends_at: datetime | None = Field(description="active until then: the end of the last period bought")
    periods: list[Period] = Field(description="newest first")


class MembershipOverview(Out):
    enabled: bool = Field(description="whether a membership can be paid here (WeChat Pay configured)")
    plans: list[Plan] = Field(description="the plans on sale")
    membership: CurrentMembership


class MembershipOrderRequest(Body):
    plan_code: str = Field(pattern=r"^[a-z0-9_]{1,20}$")


class MembershipPayment(Out):
    out_trade_no: str
    kind: Literal["membership"]
    status: Literal["pending", "paid", "closed"] = Field(
        description="pending until WeChat Pay reports the payment; closed when its time limit passed unpaid")
    amount_cents: int
    bonus_cents: int = Field(description="always 0 for a membership")
    expires_at: datetime = Field(description="pay before this; the order is closed after it")
    paid_at: datetime | None
    payment: PayParams | None = Field(description="when the order was just made: what wx.requestPayment needs")


def _plan(plan: programs.MembershipPlan) -> dict[str, object]:
    return {"code": plan.code, "name": plan.name, "period": plan.period, "price_cents": plan.price_cents,
            "benefits": plan.benefits()}


@bp.get("/membership")
@endpoint(summary="Paid membership: the plans on sale and the member's membership (active until when)", tag=TAG,
          response=MembershipOverview, errors=["UNAUTHENTICATED"], operation_id="getMembership")
@member_required
async def overview(request: Request) -> HTTPResponse:
    program = await programs.load()
    return ok({"enabled": payments.enabled(),
               "plans": [_plan(plan) for plan in program.membership.plans if plan.on_sale],
               "membership": await membership.status(request.ctx.member_id)})


@bp.post("/membership/orders")
@endpoint(summary="Buy or renew one period of a paid membership plan with WeChat Pay: the order and the signed "
                  "wx.requestPayment parameters", tag=TAG, body=MembershipOrderRequest, response=MembershipPayment,
          status=201, errors=["UNAUTHENTICATED", "MEMBERSHIP_PLAN_NOT_FOUND", *PAY_ERRORS],
          operation_id="startMembershipOrder",
          description="The period is granted when WeChat Pay reports the payment (its notification, or a query of "
                      "the order when none comes), once per payment. It starts when the current membership ends "
                      "(now when none runs) and ends at merchant midnight; poll "
                      "`GET /membership/orders/{out_trade_no}` after `wx.requestPayment` succeeds.")
@member_required
async def start_order(request: Request) -> HTTPResponse:
    body = parse_body(request, MembershipOrderRequest)
    return ok(await payments.start_membership(member_id=request.ctx.member_id, plan_code=body.plan_code), 201)


@bp.get("/membership/orders/<out_trade_no:order_no>")
@endpoint(summary="A membership order's state; a pending one is asked of WeChat Pay first", tag=TAG,
          response=MembershipPayment, errors=["UNAUTHENTICATED", "PAYMENT_NOT_FOUND"],
          operation_id="getMembershipOrder")
@member_required
async def get_order(request: Request, out_trade_no: str) -> HTTPResponse:
    return ok(await payments.get(request.ctx.member_id, out_trade_no, kind="membership"))
