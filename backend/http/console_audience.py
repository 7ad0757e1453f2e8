"""Console API for tags and segments under /api/v1/admin."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.errors import ValidationFailed
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import endpoint
from backend.http.pagination import MAX_LIMIT, PageQuery, page
from backend.http.validation import Body, parse_body, parse_query
from jobs import segments, tags
from jobs.audience_models import Segment, Tag

bp = Blueprint("console_audience", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
RULE_DOC = ("A rule node is {\"all\": [nodes]}, {\"any\": [nodes]}, {\"not\": node} or a condition "
            "{\"field\", \"op\", \"value\"[, \"within_days\"]}; an invalid rule answers SEGMENT_RULE_INVALID "
            "with the path of each problem in details.fields.")


class TagCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    code: str | None = Field(None, min_length=1, max_length=64, description="defaults to the name; no \":\"")


class TagMembers(Body):
    member_ids: list[int] = Field(min_length=1, max_length=10_000)


class SegmentCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=200)
    rule: Any = Field(description="the rule tree")


class SegmentPut(Body):
    name: str | None = Field(None, min_length=1, max_length=64)
    description: str | None = Field(None, max_length=200)
    rule: Any = None


class RuleBody(Body):
    rule: Any = Field(description="the rule tree")


def _tz(request: Request) -> str:
    return request.app.ctx.settings.timezone


class TagQuery(PageQuery):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="items per page")
    kind: Literal["manual", "auto"] | None = None
    group: str | None = Field(None, max_length=20)


@bp.get("/tags")
@endpoint(query=TagQuery, summary="Tags with their member counts, newest first (?kind=manual|auto, ?group=rfm…)", tag=TAG,
          errors=AUTH)
@staff_required(*CONSOLE)
async def list_tags(request: Request) -> HTTPResponse:
    params = parse_query(request, TagQuery)
    query = Tag.all()
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
@endpoint(summary="Create a manual tag", tag=TAG, body=TagCreate, errors=[*AUTH, "TAG_CODE_TAKEN"])
@staff_required(*CONSOLE)
async def create_tag(request: Request) -> HTTPResponse:
    body = parse_body(request, TagCreate)
    tag = await tags.create_tag(name=body.name, code=body.code, actor=staff_actor(request))
    return ok(tags.render(tag, 0), status=201)


@bp.post("/tags/<tag_id:id32>/members")
@endpoint(summary="Apply a manual tag to members (idempotent); unknown or inactive ids are listed", tag=TAG,
          body=TagMembers, errors=[*AUTH, "TAG_NOT_FOUND", "TAG_NOT_MANUAL"])
@staff_required(*CONSOLE)
async def tag_members(request: Request, tag_id: int) -> HTTPResponse:
    body = parse_body(request, TagMembers)
    return ok(await tags.tag_members(tag_id=tag_id, member_ids=body.member_ids, actor=staff_actor(request)))


@bp.delete("/tags/<tag_id:id32>/members/<member_id:id>")
@endpoint(summary="Remove a manual tag from a member (idempotent)", tag=TAG,
          errors=[*AUTH, "TAG_NOT_FOUND", "TAG_NOT_MANUAL"])
@staff_required(*CONSOLE)
async def untag_member(request: Request, tag_id: int, member_id: int) -> HTTPResponse:
    removed = await tags.untag_member(tag_id=tag_id, member_id=member_id, actor=staff_actor(request))
    return ok({"removed": removed})


@bp.get("/members/<member_id:id>/tags")
@endpoint(summary="A member's tags, manual and automatic", tag=TAG, errors=[*AUTH, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def member_tags(request: Request, member_id: int) -> HTTPResponse:
    return ok({"items": await tags.tags_of(member_id=member_id)})


@bp.post("/tags/recompute")
@endpoint(summary="Recompute the automatic tags now (as the nightly job does); counts per group and tag",
          tag=TAG, errors=AUTH)
@staff_required(*ADMIN)
async def recompute(request: Request) -> HTTPResponse:
    return ok(await tags.recompute_auto_tags())


@bp.get("/tag-settings")
@endpoint(summary="Thresholds of the automatic tags (RFM, value classes, activity, spending bands)", tag=TAG,
          errors=AUTH)
@staff_required(*CONSOLE)
async def get_settings(request: Request) -> HTTPResponse:
    return ok((await tags.load_settings()).model_dump(mode="json"))


@bp.put("/tag-settings")
@endpoint(summary="Replace the automatic tags' thresholds (audited; applied by the next recompute)", tag=TAG,
          body=tags.TagRules, errors=AUTH)
@staff_required(*ADMIN)
async def put_settings(request: Request) -> HTTPResponse:
    data = request.json if request.body else None
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象")
    try:
        rules = tags.TagRules.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in err["loc"]) or "settings": err["msg"].removeprefix("Value error, ")
                  for err in exc.errors()}
        raise ValidationFailed(details={"fields": fields}) from None
    saved = await tags.save_settings(rules, actor=staff_actor(request))
    return ok(saved.model_dump(mode="json"))


@bp.get("/segments")
@endpoint(query=PageQuery, summary="Saved segments, newest first", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_segments(request: Request) -> HTTPResponse:
    return ok(await page(request, Segment.all(), segments.render))


@bp.post("/segments")
@endpoint(summary="Save a segment (a validated rule tree)", tag=TAG, body=SegmentCreate, description=RULE_DOC,
          errors=[*AUTH, "SEGMENT_RULE_INVALID"])
@staff_required(*CONSOLE)
async def create_segment(request: Request) -> HTTPResponse:
    body = parse_body(request, SegmentCreate)
    segment = await segments.create(name=body.name, rule=body.rule, description=body.description,
                                    actor=staff_actor(request))
    return ok(segments.render(segment), status=201)


@bp.get("/segments/<segment_id:id32>")
@endpoint(summary="One segment", tag=TAG, errors=[*AUTH, "SEGMENT_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_segment(request: Request, segment_id: int) -> HTTPResponse:
    return ok(segments.render(await segments.get_or_raise(segment_id=segment_id)))


@bp.put("/segments/<segment_id:id32>")
@endpoint(summary="Change a segment's name, description or rule", tag=TAG, body=SegmentPut, description=RULE_DOC,
          errors=[*AUTH, "SEGMENT_NOT_FOUND", "SEGMENT_RULE_INVALID"])
@staff_required(*CONSOLE)
async def put_segment(request: Request, segment_id: int) -> HTTPResponse:
    body = parse_body(request, SegmentPut)
    segment = await segments.update(segment_id=segment_id, name=body.name, rule=body.rule,
                                    description=body.description, actor=staff_actor(request))
    return ok(segments.render(segment))


@bp.delete("/segments/<segment_id:id32>")
@endpoint(summary="Delete a segment (not while an unfinished touch uses it)", tag=TAG,
          errors=[*AUTH, "SEGMENT_NOT_FOUND", "SEGMENT_IN_USE"])
@staff_required(*CONSOLE)
async def delete_segment(request: Request, segment_id: int) -> HTTPResponse:
    await segments.delete(segment_id=segment_id, actor=staff_actor(request))
    return ok({"deleted": True})


@bp.post("/segments/<segment_id:id32>/preview")
@endpoint(summary="How many members a saved segment holds now, and 20 of them", tag=TAG,
          errors=[*AUTH, "SEGMENT_NOT_FOUND"])
@staff_required(*CONSOLE)
async def preview_segment(request: Request, segment_id: int) -> HTTPResponse:
    segment = await segments.get_or_raise(segment_id=segment_id)
    return ok(await segments.preview(segments.parse_rule(segment.rule), tz=_tz(request)))


@bp.post("/segments/preview")
@endpoint(summary="Count and 20 sample members of an unsaved rule", tag=TAG, body=RuleBody, description=RULE_DOC,
          errors=[*AUTH, "SEGMENT_RULE_INVALID"])
@staff_required(*CONSOLE)
async def preview_rule(request: Request) -> HTTPResponse:
    body = parse_body(request, RuleBody)
    return ok(await segments.preview(segments.parse_rule(body.rule), tz=_tz(request)))
