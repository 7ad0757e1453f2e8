"""Console API for paid membership (付费会员): the plans and the cooling-off rule, under /api/v1/admin."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.coupons.models import CouponTemplate
from backend.errors import ValidationFailed
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, ok
from backend.http.console_loyalty import _parse, _update
from backend.http.docs import Out, endpoint
from backend.http.validation import Body
from backend.loyalty import program as programs

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
