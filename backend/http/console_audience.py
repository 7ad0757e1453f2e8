"""Console API for tags and segments under /api/v1/admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import MAX_LIMIT, Page, PageQuery, page
from backend.http.validation import Body, Id, parse_body, parse_query
from jobs import audience_models, segment_rules, segments, tags

bp = Blueprint("console_audience", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
RULE_DOC = ("A rule node is {\"all\": [nodes]}, {\"any\": [nodes]}, {\"not\": node} or a condition "
            "{\"field\", \"op\", \"value\"[, \"within_days\"]}; an invalid rule answers SEGMENT_RULE_INVALID "
            "with the path of each problem in details.fields.")


def _valid_rule(value: dict[str, Any]) -> dict[str, Any]:
    # Checked while the body is parsed, so every problem in a rule (an id beyond its column, a number beyond
    # 64 bits) answers SEGMENT_RULE_INVALID with its path, before the generic checks of the body.
    segments.parse_rule(value)
    return value


SegmentRule = Annotated[dict[str, Any], AfterValidator(_valid_rule), Field(description=RULE_DOC)]


class TagCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    code: str | None = Field(None, min_length=1, max_length=64, description="defaults to the name; no \":\"")


class TagMembers(Body):
    member_ids: list[Id] = Field(min_length=1, max_length=10_000)


class SegmentCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=200)
    rule: SegmentRule


class SegmentUpdate(Body):
    name: str | None = Field(None, min_length=1, max_length=64)
    description: str | None = Field(None, max_length=200)
    rule: SegmentRule | None = None


class SegmentRuleBody(Body):
    rule: SegmentRule


class Tag(Out):
    id: int
    code: str
    name: str
    kind: Literal["manual", "auto"]
    group: str = Field(description="rfm | value | activity | channel | store | spend for automatic tags; \"\" for manual")
    created_at: datetime
    member_count: int


class TagPage(Page[Tag]):
    pass


class TaggingResult(Out):
    tagged: int = Field(description="members who carry the tag from now on")
    already: int = Field(description="members who carried it already")
    not_found: list[int] = Field(description="ids of no active member")


class UntagResult(Out):
    removed: bool = Field(description="false when the member did not carry the tag")


class MemberTag(Out):
    id: int
    code: str
    name: str
    kind: Literal["manual", "auto"]
    group: str
    source: Literal["manual", "auto"]
    tagged_at: datetime


class MemberTagList(Out):
    items: list[MemberTag]


class TagChanges(Out):
    added: int
    removed: int


class TagGroupChanges(Out):
    rfm: TagChanges
    value: TagChanges
    activity: TagChanges
    channel: TagChanges
    store: TagChanges
    spend: TagChanges


class TagRecompute(Out):
    at: datetime
    groups: TagGroupChanges
    tags: dict[str, int] = Field(description="members per automatic tag code")


class Segment(Out):
    id: int
    name: str
    description: str
    rule: dict[str, Any] = Field(description=RULE_DOC)
    created_at: datetime
    updated_at: datetime


class SegmentPage(Page[Segment]):
    pass


class SegmentDeleted(Out):
    deleted: bool


class SegmentSampleMember(Out):
    id: int
    member_no: str
    phone: str | None = Field(description="masked: 138****5678")
    nickname: str | None
    tier: str
    tier_name: str


class SegmentPreview(Out):
    count: int
    sample: list[SegmentSampleMember] = Field(description="up to 20 members, newest first")


class ValueChoice(Out):
    value: str
    label: str


class ValueSpec(Out):
    type: Literal["integer", "choice", "list", "range", "boolean", "date", "tier", "tag", "store", "text",
                  "text_or_number", "number_or_date"] = Field(
        description="tier: a tier code (GET /admin/tiers); tag: a tag id or code (GET /admin/tags); "
                    "store: a store id (GET /admin/stores); list: a non-empty list of item; range: [min, max] of item; "
                    "number_or_date: a number or YYYY-MM-DD")
    min: int | str | None = Field(None, description="integer: the least value; date: the first date")
    max: int | str | None = None
    max_length: int | None = None
    max_items: int | None = None
    choices: list[ValueChoice] | None = None
    item: ValueSpec | None = None


class SegmentFieldOp(Out):
    op: str
    label: str
    value: ValueSpec


class SegmentField(Out):
    field: str = Field(description="custom.<key> stands for any custom profile field (GET /admin/custom-fields)")
    label: str
    group: str
    unit: Literal["cents", "points", "days", "orders"] | None = Field(
        description="cents: amounts in fen (show yuan)")
    within_days: bool = Field(description="the condition also takes within_days (a window of the last N days)")
    ops: list[SegmentFieldOp]


class SegmentFields(Out):
    fields: list[SegmentField]
    max_depth: int
    max_conditions: int
    max_values: int
    max_days: int


def _tz(request: Request) -> str:
    return request.app.ctx.settings.timezone


class TagQuery(PageQuery):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="items per page")
    kind: Literal["manual", "auto"] | None = None
    group: str | None = Field(None, max_length=16)


@bp.get("/tags")
@endpoint(query=TagQuery, summary="Tags with their member counts, newest first (?kind=manual|auto, ?group=rfm…)", tag=TAG,
          response=TagPage, errors=AUTH)
@staff_required(*CONSOLE)
async def list_tags(request: Request) -> HTTPResponse:
    params = parse_query(request, TagQuery)
    query = audience_models.Tag.all()
    if params.kind:
        query = query.filter(kind=params.kind)
    if params.group:
        query = query.filter(group=params.group)
    result = await page(request, query, tags.render, params)
    counts = await tags.member_counts([item["id"] for item in result["items"]])
    for item in result["items"]:
        item["member_count"] = counts.get(item["id"], 0)
    return ok(result)


@bp.post("/tags")
@endpoint(summary="Create a manual tag", tag=TAG, body=TagCreate, response=Tag, status=201,
          errors=[*AUTH, "TAG_CODE_TAKEN"])
@staff_required(*CONSOLE)
async def create_tag(request: Request) -> HTTPResponse:
    body = parse_body(request, TagCreate)
    tag = await tags.create_tag(name=body.name, code=body.code, actor=staff_actor(request))
    return ok(tags.render(tag, 0), status=201)


@bp.post("/tags/<tag_id:id32>/members")
@endpoint(summary="Apply a manual tag to members (idempotent); unknown or inactive ids are listed", tag=TAG,
          body=TagMembers, response=TaggingResult, errors=[*AUTH, "TAG_NOT_FOUND", "TAG_NOT_MANUAL"])
@staff_required(*CONSOLE)
async def tag_members(request: Request, tag_id: int) -> HTTPResponse:
    body = parse_body(request, TagMembers)
    return ok(await tags.tag_members(tag_id=tag_id, member_ids=body.member_ids, actor=staff_actor(request)))


@bp.delete("/tags/<tag_id:id32>/members/<member_id:id>")
@endpoint(summary="Remove a manual tag from a member (idempotent)", tag=TAG, response=UntagResult,
          errors=[*AUTH, "TAG_NOT_FOUND", "TAG_NOT_MANUAL"])
@staff_required(*CONSOLE)
async def untag_member(request: Request, tag_id: int, member_id: int) -> HTTPResponse:
    removed = await tags.untag_member(tag_id=tag_id, member_id=member_id, actor=staff_actor(request))
    return ok({"removed": removed})


@bp.get("/members/<member_id:id>/tags")
@endpoint(summary="A member's tags, manual and automatic", tag=TAG, response=MemberTagList,
          errors=[*AUTH, "MEMBER_NOT_FOUND"], operation_id="listMemberTags")
@staff_required(*CONSOLE)
async def member_tags(request: Request, member_id: int) -> HTTPResponse:
    return ok({"items": await tags.tags_of(member_id=member_id)})


@bp.post("/tags/recompute")
@endpoint(summary="Recompute the automatic tags now (as the nightly job does); counts per group and tag",
          tag=TAG, response=TagRecompute, errors=AUTH, operation_id="recomputeTags")
@staff_required(*ADMIN)
async def recompute(request: Request) -> HTTPResponse:
    return ok(await tags.recompute_auto_tags())


@bp.get("/tag-settings")
@endpoint(summary="Thresholds of the automatic tags (RFM, value classes, activity, spending bands)", tag=TAG,
          response=tags.TagRules, errors=AUTH, operation_id="getTagSettings")
@staff_required(*CONSOLE)
async def get_settings(request: Request) -> HTTPResponse:
    return ok((await tags.load_settings()).model_dump(mode="json"))


@bp.put("/tag-settings")
@endpoint(summary="Replace the automatic tags' thresholds (audited; applied by the next recompute)", tag=TAG,
          body=tags.TagRules, response=tags.TagRules, errors=AUTH, operation_id="putTagSettings")
@staff_required(*ADMIN)
async def put_settings(request: Request) -> HTTPResponse:
    rules = parse_body(request, tags.TagRules)
    saved = await tags.save_settings(rules, actor=staff_actor(request))
    return ok(saved.model_dump(mode="json"))


@bp.get("/segment-fields")
@endpoint(summary="What a segment rule may say: each field with its operators and the value each takes", tag=TAG,
          response=SegmentFields, errors=AUTH, operation_id="listSegmentFields",
          description="Generated from the rule compiler's own field table; a condition is "
                      "{field, op, value[, within_days]}.")
@staff_required(*CONSOLE)
async def segment_fields(request: Request) -> HTTPResponse:
    return ok(segment_rules.describe_fields())


@bp.get("/segments")
@endpoint(query=PageQuery, summary="Saved segments, newest first", tag=TAG, response=SegmentPage, errors=AUTH)
@staff_required(*CONSOLE)
async def list_segments(request: Request) -> HTTPResponse:
    return ok(await page(request, audience_models.Segment.all(), segments.render))


@bp.post("/segments")
@endpoint(summary="Save a segment (a validated rule tree)", tag=TAG, body=SegmentCreate, response=Segment,
          status=201, description=RULE_DOC, errors=[*AUTH, "SEGMENT_RULE_INVALID"])
@staff_required(*CONSOLE)
async def create_segment(request: Request) -> HTTPResponse:
    body = parse_body(request, SegmentCreate)
    segment = await segments.create(name=body.name, rule=body.rule, description=body.description,
                                    actor=staff_actor(request))
    return ok(segments.render(segment), status=201)


@bp.get("/segments/<segment_id:id32>")
@endpoint(summary="One segment", tag=TAG, response=Segment, errors=[*AUTH, "SEGMENT_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_segment(request: Request, segment_id: int) -> HTTPResponse:
    return ok(segments.render(await segments.get_or_raise(segment_id=segment_id)))


@bp.put("/segments/<segment_id:id32>")
@endpoint(summary="Change a segment's name, description or rule", tag=TAG, body=SegmentUpdate, response=Segment,
          description=RULE_DOC, errors=[*AUTH, "SEGMENT_NOT_FOUND", "SEGMENT_RULE_INVALID"])
@staff_required(*CONSOLE)
async def put_segment(request: Request, segment_id: int) -> HTTPResponse:
    body = parse_body(request, SegmentUpdate)
    segment = await segments.update(segment_id=segment_id, name=body.name, rule=body.rule,
                                    description=body.description, actor=staff_actor(request))
    return ok(segments.render(segment))


@bp.delete("/segments/<segment_id:id32>")
@endpoint(summary="Delete a segment (not while an unfinished touch uses it)", tag=TAG, response=SegmentDeleted,
          errors=[*AUTH, "SEGMENT_NOT_FOUND", "SEGMENT_IN_USE"])
@staff_required(*CONSOLE)
async def delete_segment(request: Request, segment_id: int) -> HTTPResponse:
    await segments.delete(segment_id=segment_id, actor=staff_actor(request))
    return ok({"deleted": True})


@bp.post("/segments/<segment_id:id32>/preview")
@endpoint(summary="How many members a saved segment holds now, and 20 of them", tag=TAG, response=SegmentPreview,
          errors=[*AUTH, "SEGMENT_NOT_FOUND", "SEGMENT_RULE_INVALID"],
          description="SEGMENT_RULE_INVALID: the saved rule fails the current checks (it was saved before "
                      "them); save the segment again with a valid rule.")
@staff_required(*CONSOLE)
async def preview_segment(request: Request, segment_id: int) -> HTTPResponse:
    segment = await segments.get_or_raise(segment_id=segment_id)
    return ok(await segments.preview(segments.parse_rule(segment.rule), tz=_tz(request)))


@bp.post("/segments/preview")
@endpoint(summary="Count and 20 sample members of an unsaved rule", tag=TAG, body=SegmentRuleBody,
          response=SegmentPreview, description=RULE_DOC, errors=[*AUTH, "SEGMENT_RULE_INVALID"],
          operation_id="previewSegmentRule")
@staff_required(*CONSOLE)
async def preview_rule(request: Request) -> HTTPResponse:
    body = parse_body(request, SegmentRuleBody)
    return ok(await segments.preview(segments.parse_rule(body.rule), tz=_tz(request)))


ValueSpec.model_rebuild()
