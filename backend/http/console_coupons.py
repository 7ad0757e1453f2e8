"""Console API for coupons under /api/v1/admin: templates, their status, batch issue, points mall."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import audit, clock
from backend.coupons import service, views
from backend.coupons.errors import CouponTemplateNotFound, MallItemNotFound
from backend.coupons.models import CouponTemplate as TemplateRow
from backend.coupons.models import PointsMallItem as MallItemRow
from backend.coupons.terms import Terms
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.read_models import CouponTemplate
from backend.http.validation import Body, Id, Id32, parse_body

bp = Blueprint("console_coupons", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
ONE = [*AUTH, "COUPON_TEMPLATE_NOT_FOUND"]
TierCode = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,20}$")]
# Columns that hold no null: an explicit null for one of them in a PATCH leaves it as it is.
NOT_NULL = ("name", "description", "terms", "claimable", "claim_tiers")


class CouponTemplateCreate(Body):
    name: str = Field(min_length=1, max_length=40)
    description: str = Field("", max_length=200)
    terms: Terms
    total_stock: int | None = Field(None, ge=0, le=100_000_000, description="null: unlimited")
    per_member_limit: int | None = Field(None, ge=1, le=10_000, description="null: no limit")
    per_member_daily_limit: int | None = Field(None, ge=1, le=10_000, description="null: no limit")
    claimable: bool = Field(False, description="shown in the coupon center")
    claim_tiers: list[TierCode] = Field(default_factory=list, max_length=20,
                                        description="tier codes allowed to claim; empty: all")


class CouponTemplatePatch(Body):
    """Only the fields sent change. ``null`` clears a limit or the stock (unlimited); for the other fields
    it changes nothing."""

    name: str | None = Field(None, min_length=1, max_length=40)
    description: str | None = Field(None, max_length=200)
    terms: Terms | None = Field(None, description="replaces the whole terms; coupons already issued keep theirs")
    total_stock: int | None = Field(None, ge=0, le=100_000_000, description="null: unlimited")
    per_member_limit: int | None = Field(None, ge=1, le=10_000, description="null: no limit")
    per_member_daily_limit: int | None = Field(None, ge=1, le=10_000, description="null: no limit")
    claimable: bool | None = None
    claim_tiers: list[TierCode] | None = Field(None, max_length=20)


class CouponTemplateStatusChange(Body):
    status: Literal["active", "paused", "ended"] = Field(
        description="draft → active ⇄ paused → ended; a template whose fixed window is over cannot be activated")


class CouponIssueRequest(Body):
    # 1,000 ids stay far below any body limit; larger audiences are a segment.
    member_ids: list[Id] | None = Field(None, min_length=1, max_length=1000,
                                        description="up to 1,000 members; for more, issue to a segment")
    segment_id: Id32 | None = Field(None, description="instead of member_ids: everyone the segment selects now")
    batch_id: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,40}$",
                          description="names the batch: issuing it again gives nobody a second coupon")

    @model_validator(mode="after")
    def one_audience(self) -> CouponIssueRequest:
        if (self.member_ids is None) == (self.segment_id is None):
            raise ValueError("请提供 member_ids 或 segment_id 之一")
        return self


class PointsMallItemCreate(Body):
    name: str = Field(min_length=1, max_length=40)
    template_id: Id
    points_price: int = Field(gt=0, le=100_000_000)
    active: bool = True


class PointsMallItemPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=40, description="null: unchanged")
    points_price: int | None = Field(None, gt=0, le=100_000_000, description="null: unchanged")
    active: bool | None = Field(None, description="null: unchanged")


class CouponTemplatePage(Page[CouponTemplate]):
    pass


class CouponIssueResult(Out):
    """What an issue did; issuing the same batch again reports the members it had already reached."""

    batch_id: str
    segment_id: int | None = Field(description="the segment issued to; null for listed members")
    issued: int = Field(description="coupons issued by this call")
    already_issued: int | None = Field(description="listed members the batch had already reached; null for a "
                                                   "segment (its members already reached are not counted)")
    failed: dict[str, str] = Field(description="member id → the error code that kept their coupon back (every "
                                               "member after an out-of-stock or unclaimable template included); "
                                               "a segment issue is all or nothing")
    selected: int = Field(description="members the call addressed: the distinct listed ids, or the active members "
                                      "the segment selected when the issue ran")
    skipped: int = Field(description="selected members this call gave no coupon (already reached by the batch, "
                                     "per-member limit, stock, or failed): selected − issued")


class PointsMallItem(Out):
    id: int
    name: str
    template_id: int
    points_price: int
    active: bool


class PointsMallItemPage(Page[PointsMallItem]):
    pass


@bp.get("/coupon-templates")
@endpoint(query=PageQuery, summary="Coupon templates, newest first", tag=TAG, response=CouponTemplatePage,
          errors=AUTH, operation_id="listCouponTemplates")
@staff_required(*CONSOLE)
async def list_templates(request: Request) -> HTTPResponse:
    return ok(await page(request, TemplateRow.all(), views.render_template))


@bp.post("/coupon-templates")
@endpoint(summary="Create a coupon template (draft)", tag=TAG, body=CouponTemplateCreate, response=CouponTemplate,
          status=201, errors=AUTH, operation_id="createCouponTemplate",
          links={op: {"template_id": "$response.body#/id"} for op in (
              "getCouponTemplate", "updateCouponTemplate", "changeCouponTemplateStatus", "issueCoupons",
              "claimCoupon")})
@staff_required(*CONSOLE)
async def create_template(request: Request) -> HTTPResponse:
    body = parse_body(request, CouponTemplateCreate)
    template = await service.create_template(
        name=body.name, description=body.description, terms=body.terms, total_stock=body.total_stock,
        per_member_limit=body.per_member_limit, per_member_daily_limit=body.per_member_daily_limit,
        claimable=body.claimable, claim_tiers=body.claim_tiers, actor=staff_actor(request))
    return ok(views.render_template(template), status=201)


@bp.get("/coupon-templates/<template_id:id>")
@endpoint(summary="One coupon template with its issued count", tag=TAG, response=CouponTemplate, errors=ONE,
          operation_id="getCouponTemplate")
@staff_required(*CONSOLE)
async def get_template(request: Request, template_id: int) -> HTTPResponse:
    template = await TemplateRow.get_or_none(id=template_id)
    if template is None:
        raise CouponTemplateNotFound()
    return ok(views.render_template(template))


@bp.patch("/coupon-templates/<template_id:id>")
@endpoint(summary="Edit a template; coupons already issued keep their terms (audited)", tag=TAG,
          body=CouponTemplatePatch, response=CouponTemplate,
          errors=[*ONE, "COUPON_TEMPLATE_STATE", "COUPON_TEMPLATE_WINDOW_PAST"],
          description="An active template's terms cannot be given a fixed window that is already over "
                      "(COUPON_TEMPLATE_WINDOW_PAST); the stock cannot go below the issued count "
                      "(COUPON_TEMPLATE_STATE).", operation_id="updateCouponTemplate")
@staff_required(*CONSOLE)
async def patch_template(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, CouponTemplatePatch)
    changes = {key: getattr(body, key) for key in body.model_fields_set
               if getattr(body, key) is not None or key not in NOT_NULL}
    template = await service.update_template(template_id=template_id, changes=changes, actor=staff_actor(request))
    return ok(views.render_template(template))


@bp.post("/coupon-templates/<template_id:id>/status")
@endpoint(summary="Activate, pause or end a template (draft → active ⇄ paused → ended)", tag=TAG,
          body=CouponTemplateStatusChange, response=CouponTemplate,
          errors=[*ONE, "COUPON_TEMPLATE_STATE", "COUPON_TEMPLATE_WINDOW_PAST"],
          description="COUPON_TEMPLATE_STATE for a move the lifecycle does not allow; COUPON_TEMPLATE_WINDOW_PAST "
                      "when activating a template whose fixed window has already ended.",
          operation_id="changeCouponTemplateStatus")
@staff_required(*CONSOLE)
async def change_status(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, CouponTemplateStatusChange)
    template = await service.set_status(template_id=template_id, status=body.status, actor=staff_actor(request))
    return ok(views.render_template(template))


@bp.post("/coupon-templates/<template_id:id>/issue")
@endpoint(summary="Issue to a list of members or a segment, idempotent per (template, member, batch_id)", tag=TAG,
          body=CouponIssueRequest, response=CouponIssueResult,
          errors=[*ONE, "SEGMENT_NOT_FOUND", "COUPON_NOT_CLAIMABLE"],
          description="A template that is not active, or whose fixed window has ended, issues nothing: a segment "
                      "issue answers COUPON_NOT_CLAIMABLE, a list issue names the code for each member.",
          operation_id="issueCoupons")
@staff_required(*CONSOLE)
async def issue(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, CouponIssueRequest)
    if not await TemplateRow.exists(id=template_id):
        raise CouponTemplateNotFound()
    if body.segment_id is not None:
        from jobs.service import issue_coupons_to_segment

        tz = request.app.ctx.settings.timezone
        selected = await _segment_size(body.segment_id, tz)
        done = await issue_coupons_to_segment(template_id=template_id, segment_id=body.segment_id,
                                              batch_id=body.batch_id, actor=staff_actor(request), tz=tz)
        selected = max(selected, done["issued"])  # a member who joined between the count and the issue
        return ok({"batch_id": body.batch_id, "segment_id": body.segment_id, "issued": done["issued"],
                   "already_issued": None, "failed": {}, "selected": selected,
                   "skipped": selected - done["issued"]})
    assert body.member_ids is not None
    member_ids = list(dict.fromkeys(body.member_ids))
    result = await service.issue_batch(template_id=template_id, member_ids=member_ids,
                                       batch_id=body.batch_id, actor=staff_actor(request),
                                       tz=request.app.ctx.settings.timezone)
    return ok({"batch_id": body.batch_id, "segment_id": None, **result, "selected": len(member_ids),
               "skipped": len(member_ids) - result["issued"]})


async def _segment_size(segment_id: int, tz: str) -> int:
    """The active members a saved segment selects now (SEGMENT_NOT_FOUND when it is gone)."""
    from backend import db
    from jobs import segments

    where, params = await segments.saved_where(segment_id, now=clock.now(), tz=tz)
    row = await db.fetch_one(f"SELECT COUNT(*) AS n FROM members m WHERE m.status = 'active' AND {where}", *params)
    return int(row["n"]) if row else 0


def _mall_view(item: MallItemRow) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "template_id": item.template_id, "points_price": item.points_price,
            "active": item.active}


@bp.get("/points-mall")
@endpoint(query=PageQuery, summary="Points mall items", tag=TAG, response=PointsMallItemPage, errors=AUTH,
          operation_id="listAdminPointsMallItems")
@staff_required(*CONSOLE)
async def list_mall(request: Request) -> HTTPResponse:
    return ok(await page(request, MallItemRow.all(), _mall_view))


@bp.post("/points-mall")
@endpoint(summary="Offer a coupon template in the points mall", tag=TAG, body=PointsMallItemCreate,
          response=PointsMallItem, status=201, errors=ONE, operation_id="createPointsMallItem",
          links={"updatePointsMallItem": {"item_id": "$response.body#/id"},
                 "exchangePointsMallItem": {"item_id": "$response.body#/id"}})
@staff_required(*CONSOLE)
async def create_mall_item(request: Request) -> HTTPResponse:
    body = parse_body(request, PointsMallItemCreate)
    if not await TemplateRow.exists(id=body.template_id):
        raise CouponTemplateNotFound()
    item = await MallItemRow.create(name=body.name, template_id=body.template_id, points_price=body.points_price,
                                       active=body.active, created_at=clock.now())
    await audit.record(actor=staff_actor(request), action="points_mall.create", target_type="points_mall_item",
                       target_id=item.id, after=_mall_view(item))
    return ok(_mall_view(item), status=201)


@bp.patch("/points-mall/<item_id:id>")
@endpoint(summary="Change a points mall item's name, price or availability", tag=TAG, body=PointsMallItemPatch,
          response=PointsMallItem, errors=[*AUTH, "MALL_ITEM_NOT_FOUND"], operation_id="updatePointsMallItem")
@staff_required(*CONSOLE)
async def patch_mall_item(request: Request, item_id: int) -> HTTPResponse:
    body = parse_body(request, PointsMallItemPatch)
    item = await MallItemRow.get_or_none(id=item_id)
    if item is None:
        raise MallItemNotFound()
    changes = {key: getattr(body, key) for key in body.model_fields_set if getattr(body, key) is not None}
    before = _mall_view(item)
    if changes:
        await MallItemRow.filter(id=item_id).update(**changes)
        item = await MallItemRow.get(id=item_id)
    await audit.record(actor=staff_actor(request), action="points_mall.update", target_type="points_mall_item",
                       target_id=item_id, before=before, after=_mall_view(item))
    return ok(_mall_view(item))
