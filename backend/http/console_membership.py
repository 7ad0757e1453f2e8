"""Console API for paid membership (付费会员): the plans and the cooling-off rule, a member's membership, refunds of a
period within the cooling-off rule, under /api/v1/admin."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import audit
from backend.coupons.models import CouponTemplate
from backend.errors import ValidationFailed
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, member_or_404, ok
from backend.http.console_loyalty import _parse, _update
from backend.http.console_payments import Refund
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body
from backend.idempotency import idempotent
from backend.loyalty import program as programs
from backend.membership import service as membership
from backend.payments import service as payments
from miniprogram_api.membership import CurrentMembership

bp = Blueprint("console_membership", url_prefix="/api/v1/admin")
TAG = "console"


class MembershipSettingsUpdate(Body):
    plans: list[programs.MembershipPlan] = Field(max_length=10, description="codes unique; a plan taken off sale "
                                                                            "(on_sale false) keeps its periods")
    refund_days: int = Field(7, ge=0, le=90, description="cooling-off days after a purchase in which an admin can "
                                                        "refund a period none of whose benefits was used")


class MembershipSettings(Out):
    plans: list[programs.MembershipPlan]
    refund_days: int


def _settings(program: programs.Program) -> dict[str, object]:
    return program.membership.model_dump(mode="json")


@bp.get("/membership-plans")
@endpoint(summary="Paid membership plans (price per period, benefits, monthly coupon pack) and the refund rule",
          tag=TAG, response=MembershipSettings, errors=STAFF_AUTH_ERRORS, operation_id="getMembershipPlans")
@staff_required(*CONSOLE)
async def get_plans(request: Request) -> HTTPResponse:
    return ok(_settings(await programs.load()))


@bp.put("/membership-plans")
@endpoint(summary="Replace the paid membership plans and the refund rule (validated; audited)", tag=TAG,
          body=MembershipSettingsUpdate, response=MembershipSettings, errors=STAFF_AUTH_ERRORS,
          operation_id="putMembershipPlans",
          description="Periods already bought keep the benefits their plan had when bought. Every coupon template "
                      "of a monthly pack must exist.")
@staff_required(*ADMIN)
async def put_plans(request: Request) -> HTTPResponse:
    body = _parse(request, MembershipSettingsUpdate)
    wanted = {item.template_id for plan in body.plans for item in plan.monthly_coupons}
    known = set(await CouponTemplate.filter(id__in=list(wanted)).values_list("id", flat=True)) if wanted else set()
    missing = {f"plans.{i}.monthly_coupons.{j}.template_id": "券模板不存在"
               for i, plan in enumerate(body.plans) for j, item in enumerate(plan.monthly_coupons)
               if item.template_id not in known}
    seen: set[str] = set()
    for i, plan in enumerate(body.plans):
        if plan.code in seen:
            missing[f"plans.{i}.code"] = "会员方案代码不能重复"
        seen.add(plan.code)
        templates = [item.template_id for item in plan.monthly_coupons]
        for j, template_id in enumerate(templates):
            if template_id in templates[:j]:
                missing[f"plans.{i}.monthly_coupons.{j}.template_id"] = "同一券模板只能出现一次，请调整张数"
    if missing:
        raise ValidationFailed(details={"fields": missing})
    program = await _update(request, "membership", {"membership": body.model_dump(mode="json")})
    return ok(_settings(program))


class MembershipRefundRequest(Body):
    reason: str = Field(min_length=1, max_length=80)


@bp.get("/members/<member_id:id>/membership")
@endpoint(summary="The member's paid membership: whether it runs, until when, and every period bought", tag=TAG,
          response=CurrentMembership, errors=[*STAFF_AUTH_ERRORS, "MEMBER_NOT_FOUND"],
          operation_id="getMemberMembership")
@staff_required(*CONSOLE)
async def member_membership(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    return ok(await membership.status(member_id))


@bp.post("/membership-orders/<out_trade_no:order_no>/refunds")
@endpoint(summary="Refund a paid membership period in full through WeChat Pay, within the cooling-off rule", tag=TAG,
          body=MembershipRefundRequest, response=Refund, status=201, idempotent=True,
          operation_id="refundMembership",
          errors=[*STAFF_AUTH_ERRORS, "PAYMENT_NOT_FOUND", "PAYMENT_NOT_REFUNDABLE", "MEMBERSHIP_NOT_REFUNDABLE",
                  "WECHATPAY_DISABLED", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"],
          description="Only the member's last period, at most `refund_days` after it was bought, and only when none of "
                      "its benefits was used (no monthly pack issued from it, no order placed while it ran); "
                      "`details.reason` says which rule refused it. The period is removed at once; `processing` "
                      "until WeChat Pay reports the refund, `failed` (and the period given back) when it refuses "
                      "or closes it.")
@staff_required(*ADMIN)
@idempotent
async def refund_membership(request: Request, out_trade_no: str) -> HTTPResponse:
    body = parse_body(request, MembershipRefundRequest)
    refund = await payments.refund_membership(out_trade_no=out_trade_no, reason=body.reason,
                                              actor=audit.Actor.staff(request.ctx.staff.id))
    return ok(refund, 201)
