"""Console API for bonus-point campaigns under /api/v1/admin/campaigns (marketers and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.errors import field_errors
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import Body, Id32, parse_body
from backend.loyalty import campaigns
from backend.loyalty import program as programs
from backend.loyalty.models import PointsCampaign
from backend.stores.models import Store
from jobs.audience_models import Segment
from jobs.touches import PlanTime

bp = Blueprint("console_campaigns", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
ONE = [*AUTH, "CAMPAIGN_NOT_FOUND"]
Channel = Literal["online", "pos", "miniprogram", "third_party"]
TierCode = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,20}$")]
Category = Annotated[str, Field(min_length=1, max_length=40)]


When = PlanTime  # with its offset, between 2000 and 2100: the touches' time type


class CampaignDoc(Body):
    name: str = Field(min_length=1, max_length=40)
    description: str = Field("", max_length=200)
    enabled: bool = Field(True, description="false: paused (grants nothing until switched on again)")
    starts_at: When
    ends_at: When | None = Field(None, description="null: runs until switched off (a standing earn rule)")
    kind: Literal["multiplier", "fixed"]
    multiplier_pct: int = Field(100, ge=100, le=1000,
                                description="multiplier: 200 = double the earn rule's points (101–1000)")
    bonus_points: int = Field(0, ge=0, le=1_000_000, description="fixed: points added to each matching order")
    min_paid_cents: int = Field(0, ge=0, le=programs.MAX_CENTS, description="orders paying less get nothing")
    channels: list[Channel] = Field(default_factory=list, max_length=4, description="empty: every channel")
    store_ids: list[Id32] = Field(default_factory=list, max_length=1000, description="empty: every store")
    categories: list[Category] = Field(default_factory=list, max_length=200,
                                       description="empty: the whole order; else only these items' part")
    tiers: list[TierCode] = Field(default_factory=list, max_length=20, description="empty: every tier")
    segment_id: Id32 | None = Field(None, description="only members this saved segment selects")
    budget_points: int | None = Field(None, ge=1, le=10_000_000_000, description="null: no budget")

    @model_validator(mode="after")
    def consistent(self) -> CampaignDoc:
        problems: dict[str, str] = {}
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            problems["ends_at"] = "结束时间应晚于开始时间"
        if self.kind == "multiplier" and self.multiplier_pct <= 100:
            problems["multiplier_pct"] = "倍数活动的倍率应大于 100（200 即双倍积分）"
        if self.kind == "fixed" and self.bonus_points <= 0:
            problems["bonus_points"] = "固定加送的积分应大于 0"
        for name in ("channels", "store_ids", "categories", "tiers"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                problems[name] = "不能重复"
        if problems:
            raise field_errors(problems)
        return self


class Campaign(Out):
    id: int
    name: str
    description: str
    enabled: bool
    starts_at: datetime
    ends_at: datetime | None
    kind: Literal["multiplier", "fixed"]
    multiplier_pct: int
    bonus_points: int
    min_paid_cents: int
    channels: list[str]
    store_ids: list[int]
    categories: list[str]
    tiers: list[str]
    segment_id: int | None
    budget_points: int | None
    spent_points: int = Field(description="points granted so far (refunds do not give budget back)")
    status: Literal["scheduled", "running", "paused", "ended", "exhausted"]
    created_at: datetime
    updated_at: datetime


class CampaignPage(Page[Campaign]):
    pass


async def _checked(body: CampaignDoc, *, spent: int = 0) -> dict[str, Any]:
    """The body's values, with the references it names checked against what exists."""
    problems: dict[str, str] = {}
    program = await programs.load()
    unknown = [code for code in body.tiers if code not in {tier.code for tier in program.tiers}]
    if unknown:
        problems["tiers"] = f"没有这些等级：{', '.join(unknown)}"
    if body.store_ids:
        found = set(await Store.filter(id__in=body.store_ids).values_list("id", flat=True))
        missing = [str(i) for i in body.store_ids if i not in found]
        if missing:
            problems["store_ids"] = f"没有这些门店：{', '.join(missing)}"
    if body.segment_id is not None and not await Segment.exists(id=body.segment_id):
        problems["segment_id"] = "人群不存在"
    if body.budget_points is not None and body.budget_points < spent:
        problems["budget_points"] = f"预算不能低于已发放的 {spent} 积分"
    if problems:
        raise field_errors(problems)
    values = body.model_dump()
    if body.kind == "fixed":
        values["multiplier_pct"] = 100
    else:
        values["bonus_points"] = 0
    return values


@bp.get("/campaigns")
@endpoint(query=PageQuery, summary="Bonus-point campaigns, newest first", tag=TAG, response=CampaignPage, errors=AUTH,
          operation_id="listCampaigns")
@staff_required(*CONSOLE)
async def list_campaigns(request: Request) -> HTTPResponse:
    return ok(await page(request, PointsCampaign.all(), campaigns.render))


@bp.post("/campaigns")
@endpoint(summary="Create a bonus-point campaign (audited)", tag=TAG, body=CampaignDoc, response=Campaign,
          status=201, errors=AUTH, operation_id="createCampaign",
          description="Limits left empty match every order. A campaign limited to a segment, a tier or stores "
                      "that do not exist is refused on that field.",
          links={op: {"campaign_id": "$response.body#/id"} for op in ("getCampaign", "updateCampaign")})
@staff_required(*CONSOLE)
async def create_campaign(request: Request) -> HTTPResponse:
    body = parse_body(request, CampaignDoc)
    row = await campaigns.create(await _checked(body), actor=staff_actor(request))
    return ok(campaigns.render(row), status=201)


@bp.get("/campaigns/<campaign_id:id32>")
@endpoint(summary="One bonus-point campaign with what it has granted", tag=TAG, response=Campaign, errors=ONE,
          operation_id="getCampaign")
@staff_required(*CONSOLE)
async def get_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    return ok(campaigns.render(await campaigns.get_or_raise(campaign_id)))


@bp.put("/campaigns/<campaign_id:id32>")
@endpoint(summary="Replace a campaign's settings; what it granted stays granted (audited)", tag=TAG,
          body=CampaignDoc, response=Campaign, errors=ONE, operation_id="updateCampaign",
          description="The budget cannot go below the points already granted.")
@staff_required(*CONSOLE)
async def update_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    body = parse_body(request, CampaignDoc)
    current = await campaigns.get_or_raise(campaign_id)
    row = await campaigns.update(campaign_id, await _checked(body, spent=current.spent_points),
                                 actor=staff_actor(request))
    return ok(campaigns.render(row))
