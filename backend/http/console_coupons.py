"""Console API for coupons under /api/v1/admin: templates, their status, batch issue, points mall."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import audit, clock
from backend.coupons import service, views
from backend.coupons.errors import CouponTemplateNotFound, MallItemNotFound
from backend.coupons.models import CouponTemplate, PointsMallItem
from backend.coupons.terms import Terms
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import endpoint
from backend.http.pagination import PageQuery, page
from backend.http.validation import Body, parse_body

bp = Blueprint("console_coupons", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS




class TemplateCreate(Body):
    name: str = Field(min_length=1, max_length=40)
    description: str = Field("", max_length=200)
    terms: Terms
    total_stock: int | None = Field(None, ge=0, le=100_000_000)
    per_member_limit: int | None = Field(None, ge=1, le=10_000)
    per_member_daily_limit: int | None = Field(None, ge=1, le=10_000)
    claimable: bool = False
    claim_tiers: list[str] = Field(default_factory=list, max_length=20)


class TemplatePatch(Body):
    name: str | None = Field(None, min_length=1, max_length=40)
    description: str | None = Field(None, max_length=200)
    terms: Terms | None = None
    total_stock: int | None = Field(None, ge=0, le=100_000_000)
    per_member_limit: int | None = Field(None, ge=1, le=10_000)
    per_member_daily_limit: int | None = Field(None, ge=1, le=10_000)
    claimable: bool | None = None
    claim_tiers: list[str] | None = Field(None, max_length=20)


class StatusChange(Body):
    status: Literal["active", "paused", "ended"]


class IssueRequest(Body):
    member_ids: list[int] | None = Field(None, min_length=1, max_length=10_000)
    segment_id: int | None = Field(None, description="instead of member_ids: everyone the segment selects now")
    batch_id: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,40}$",
                          description="names the batch: issuing it again gives nobody a second coupon")

    @model_validator(mode="after")
    def one_audience(self) -> IssueRequest:
        if (self.member_ids is None) == (self.segment_id is None):
            raise ValueError("请提供 member_ids 或 segment_id 之一")
        return self


class MallItemCreate(Body):
    name: str = Field(min_length=1, max_length=40)
    template_id: int
    points_price: int = Field(gt=0, le=100_000_000)
    active: bool = True


class MallItemPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=40)
    points_price: int | None = Field(None, gt=0, le=100_000_000)
    active: bool | None = None


@bp.get("/coupon-templates")
@endpoint(query=PageQuery, summary="Coupon templates, newest first", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_templates(request: Request) -> HTTPResponse:
    return ok(await page(request, CouponTemplate.all(), views.render_template))


@bp.post("/coupon-templates")
@endpoint(summary="Create a coupon template (draft)", tag=TAG, body=TemplateCreate, errors=AUTH)
@staff_required(*CONSOLE)
async def create_template(request: Request) -> HTTPResponse:
    body = parse_body(request, TemplateCreate)
    template = await service.create_template(
        name=body.name, description=body.description, terms=body.terms, total_stock=body.total_stock,
        per_member_limit=body.per_member_limit, per_member_daily_limit=body.per_member_daily_limit,
        claimable=body.claimable, claim_tiers=body.claim_tiers, actor=staff_actor(request))
    return ok(views.render_template(template), status=201)


@bp.get("/coupon-templates/<template_id:id>")
@endpoint(summary="One coupon template with its issued count", tag=TAG, errors=[*AUTH, "COUPON_TEMPLATE_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_template(request: Request, template_id: int) -> HTTPResponse:
    template = await CouponTemplate.get_or_none(id=template_id)
    if template is None:
        raise CouponTemplateNotFound()
    return ok(views.render_template(template))


@bp.patch("/coupon-templates/<template_id:id>")
@endpoint(summary="Edit a template; coupons already issued keep their terms (audited)", tag=TAG,
          body=TemplatePatch, errors=[*AUTH, "COUPON_TEMPLATE_NOT_FOUND", "COUPON_TEMPLATE_STATE"])
@staff_required(*CONSOLE)
async def patch_template(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, TemplatePatch)
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    template = await service.update_template(template_id=template_id, changes=changes, actor=staff_actor(request))
    return ok(views.render_template(template))


@bp.post("/coupon-templates/<template_id:id>/status")
@endpoint(summary="Activate, pause or end a template (draft → active ⇄ paused → ended)", tag=TAG,
          body=StatusChange, errors=[*AUTH, "COUPON_TEMPLATE_NOT_FOUND", "COUPON_TEMPLATE_STATE"])
@staff_required(*CONSOLE)
async def change_status(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, StatusChange)
    template = await service.set_status(template_id=template_id, status=body.status, actor=staff_actor(request))
    return ok(views.render_template(template))


@bp.post("/coupon-templates/<template_id:id>/issue")
@endpoint(summary="Issue to a list of members or a segment, idempotent per (template, member, batch_id)", tag=TAG,
          body=IssueRequest, errors=[*AUTH, "COUPON_TEMPLATE_NOT_FOUND", "SEGMENT_NOT_FOUND", "COUPON_NOT_CLAIMABLE"])
@staff_required(*CONSOLE)
async def issue(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, IssueRequest)
    if not await CouponTemplate.exists(id=template_id):
        raise CouponTemplateNotFound()
    if body.segment_id is not None:
        from jobs.service import issue_coupons_to_segment

        return ok(await issue_coupons_to_segment(template_id=template_id, segment_id=body.segment_id,
                                                 batch_id=body.batch_id, actor=staff_actor(request),
                                                 tz=request.app.ctx.settings.timezone))
    assert body.member_ids is not None
    result = await service.issue_batch(template_id=template_id, member_ids=list(dict.fromkeys(body.member_ids)),
                                       batch_id=body.batch_id, actor=staff_actor(request),
                                       tz=request.app.ctx.settings.timezone)
    return ok(result)


def _mall_view(item: PointsMallItem) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "template_id": item.template_id, "points_price": item.points_price,
            "active": item.active}


@bp.get("/points-mall")
@endpoint(query=PageQuery, summary="Points mall items", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_mall(request: Request) -> HTTPResponse:
    return ok(await page(request, PointsMallItem.all(), _mall_view))


@bp.post("/points-mall")
@endpoint(summary="Offer a coupon template in the points mall", tag=TAG, body=MallItemCreate,
          errors=[*AUTH, "COUPON_TEMPLATE_NOT_FOUND"])
@staff_required(*CONSOLE)
async def create_mall_item(request: Request) -> HTTPResponse:
    body = parse_body(request, MallItemCreate)
    if not await CouponTemplate.exists(id=body.template_id):
        raise CouponTemplateNotFound()
    item = await PointsMallItem.create(name=body.name, template_id=body.template_id, points_price=body.points_price,
                                       active=body.active, created_at=clock.now())
    await audit.record(actor=staff_actor(request), action="points_mall.create", target_type="points_mall_item",
                       target_id=item.id, after=_mall_view(item))
    return ok(_mall_view(item), status=201)


@bp.patch("/points-mall/<item_id:id>")
@endpoint(summary="Change a points mall item's name, price or availability", tag=TAG, body=MallItemPatch,
          errors=[*AUTH, "MALL_ITEM_NOT_FOUND"])
@staff_required(*CONSOLE)
async def patch_mall_item(request: Request, item_id: int) -> HTTPResponse:
    body = parse_body(request, MallItemPatch)
    item = await PointsMallItem.get_or_none(id=item_id)
    if item is None:
        raise MallItemNotFound()
    changes = {key: getattr(body, key) for key in body.model_fields_set if getattr(body, key) is not None}
    before = _mall_view(item)
    if changes:
        await PointsMallItem.filter(id=item_id).update(**changes)
        item = await PointsMallItem.get(id=item_id)
    await audit.record(actor=staff_actor(request), action="points_mall.update", target_type="points_mall_item",
                       target_id=item_id, before=before, after=_mall_view(item))
    return ok(_mall_view(item))
