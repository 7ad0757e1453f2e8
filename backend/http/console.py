"""Marketer and admin console API under /api/v1/admin."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.errors import field_errors
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import endpoint
from backend.http.pagination import MAX_LIMIT, PageQuery, page
from backend.http.validation import Body, parse_body
from backend.members import custom_fields, merge, service
from backend.members.errors import MemberNotFound
from backend.members.models import CustomFieldDef, Member, MemberEvent
from backend.stores import service as stores
from backend.stores.models import AuditLog, StaffAccount, Store

bp = Blueprint("console", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS




def _member_view(request: Request, member: Member) -> dict[str, Any]:
    view = service.profile(member)
    view["status"] = member.status
    if request.ctx.staff.role == "admin":  # admins need the full number to help a member; others see it masked
        view["phone_full"] = service.phone_of(member, request.app.ctx.pii)
    return view


class MergeRequest(Body):
    other_id: int = Field(gt=0, description="the member folded into this one")


class StaffProfilePatch(Body):
    nickname: str | None = Field(None, max_length=64)
    gender: Literal["male", "female", "unknown"] | None = None
    birthday: date | None = None
    email: str | None = Field(None, max_length=254)
    custom_fields: dict[str, Any] | None = None


class CustomFieldCreate(Body):
    key: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=64)
    type: Literal["text", "number", "date", "choice"]
    required: bool = False
    choices: list[str] | None = Field(None, max_length=100)
    max_length: int | None = None


class CustomFieldPatch(Body):
    label: str | None = Field(None, min_length=1, max_length=64)
    required: bool | None = None
    choices: list[str] | None = Field(None, max_length=100)
    max_length: int | None = None
    active: bool | None = None


class StoreCreate(Body):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)


class StaffCreate(Body):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Literal["admin", "marketer", "clerk"]
    store_code: str | None = Field(None, max_length=32)


def _field_view(d: CustomFieldDef) -> dict[str, Any]:
    return {"id": d.id, "key": d.key, "label": d.label, "type": d.type, "required": d.required,
            "choices": d.choices, "max_length": d.max_length, "active": d.active}


@bp.get("/members")
@endpoint(query=PageQuery, summary="Search members by phone or member_no (exact), or list the newest", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_members(request: Request) -> HTTPResponse:
    phone, member_no = request.args.get("phone"), request.args.get("member_no")
    if phone:
        member = await service.find_by_phone(phone=phone, pii=request.app.ctx.pii)
        return ok({"items": [_member_view(request, member)] if member else [], "next_cursor": None})
    query = Member.filter(status="active")
    if member_no:
        query = query.filter(member_no=member_no)
    return ok(await page(request, query, lambda m: _member_view(request, m)))


@bp.get("/members/<member_id:id>")
@endpoint(summary="A member's profile, consents and status", tag=TAG, errors=[*AUTH, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_member(request: Request, member_id: int) -> HTTPResponse:
    member = await Member.get_or_none(id=member_id)
    if member is None:
        raise MemberNotFound()
    view = _member_view(request, member)
    view["merged_into_id"] = member.merged_into_id
    view["consents"] = await service.consent_view(member_id=member.id)
    return ok(view)


@bp.patch("/members/<member_id:id>")
@endpoint(summary="Staff edit of a member's profile, including the birthday (audited)", tag=TAG,
          body=StaffProfilePatch, errors=[*AUTH, "MEMBER_NOT_FOUND", "EMAIL_BOUND_ELSEWHERE"])
@staff_required(*ADMIN)
async def patch_member(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, StaffProfilePatch)
    changes = body.model_dump(exclude_unset=True)
    member = await service.update_profile(member_id=member_id, changes=changes, actor=staff_actor(request), staff=True)
    return ok(_member_view(request, member))


@bp.get("/members/<member_id:id>/timeline")
@endpoint(query=PageQuery, summary="The member's events, newest first", tag=TAG, errors=[*AUTH, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def timeline(request: Request, member_id: int) -> HTTPResponse:
    if not await Member.exists(id=member_id):
        raise MemberNotFound()
    return ok(await page(request, MemberEvent.filter(member_id=member_id), lambda e: {
        "id": e.id, "type": e.type, "channel": e.channel, "store_id": e.store_id, "payload": e.payload,
        "created_at": e.created_at.isoformat()}))


@bp.post("/members/<member_id:id>/merge")
@endpoint(summary="Merge another member into this one: identities, assets and history move (audited)", tag=TAG,
          body=MergeRequest, errors=[*AUTH, "MEMBER_NOT_FOUND", "MERGE_NOT_ALLOWED"])
@staff_required(*ADMIN)
async def merge_member(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, MergeRequest)
    record = await merge.merge_members(survivor_id=member_id, merged_id=body.other_id, actor=staff_actor(request))
    return ok({"merge_id": record.id, "survivor_id": record.survivor_id, "merged_id": record.merged_id,
               "moved": record.moved, "created_at": record.created_at.isoformat()})


@bp.get("/custom-fields")
@endpoint(summary="Custom profile field definitions", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_custom_fields(request: Request) -> HTTPResponse:
    return ok({"items": [_field_view(d) for d in await CustomFieldDef.all().order_by("id")], "next_cursor": None})


@bp.post("/custom-fields")
@endpoint(summary="Define a custom profile field (text, number, date or choice)", tag=TAG, body=CustomFieldCreate,
          errors=[*AUTH, "CUSTOM_FIELD_KEY_TAKEN"])
@staff_required(*ADMIN)
async def create_custom_field(request: Request) -> HTTPResponse:
    body = parse_body(request, CustomFieldCreate)
    definition = await custom_fields.create_definition(actor=staff_actor(request), **body.model_dump())
    return ok(_field_view(definition), status=201)


@bp.patch("/custom-fields/<field_id:id32>")
@endpoint(summary="Change a custom field's label, required flag, choices or active flag", tag=TAG,
          body=CustomFieldPatch, errors=[*AUTH, "NOT_FOUND"])
@staff_required(*ADMIN)
async def patch_custom_field(request: Request, field_id: int) -> HTTPResponse:
    body = parse_body(request, CustomFieldPatch)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise field_errors({"body": "没有要修改的字段"})
    definition = await custom_fields.update_definition(field_id=field_id, actor=staff_actor(request), **changes)
    return ok(_field_view(definition))


class StoreQuery(PageQuery):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="items per page")


@bp.get("/stores")
@endpoint(query=StoreQuery, summary="Stores", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_stores(request: Request) -> HTTPResponse:
    return ok(await page(request, Store.all(), lambda s: {"id": s.id, "code": s.code, "name": s.name,
                                                          "active": s.active}))


@bp.post("/stores")
@endpoint(summary="Create a store", tag=TAG, body=StoreCreate, errors=[*AUTH, "STORE_CODE_TAKEN"])
@staff_required(*ADMIN)
async def create_store(request: Request) -> HTTPResponse:
    body = parse_body(request, StoreCreate)
    store = await stores.create_store(code=body.code, name=body.name, actor=staff_actor(request))
    return ok({"id": store.id, "code": store.code, "name": store.name, "active": store.active}, status=201)


@bp.get("/staff")
@endpoint(query=PageQuery, summary="Staff accounts", tag=TAG, errors=AUTH)
@staff_required(*ADMIN)
async def list_staff(request: Request) -> HTTPResponse:
    return ok(await page(request, StaffAccount.all(), lambda s: {
        "id": s.id, "username": s.username, "role": s.role, "store_id": s.store_id, "active": s.active}))


@bp.post("/staff")
@endpoint(summary="Create a staff account (clerks need a store)", tag=TAG, body=StaffCreate,
          errors=[*AUTH, "USERNAME_TAKEN", "STORE_NOT_FOUND"])
@staff_required(*ADMIN)
async def create_staff(request: Request) -> HTTPResponse:
    body = parse_body(request, StaffCreate)
    staff = await stores.create_staff(username=body.username, password=body.password, role=body.role,
                                      store_code=body.store_code, actor=staff_actor(request))
    return ok({"id": staff.id, "username": staff.username, "role": staff.role, "store_id": staff.store_id},
              status=201)


@bp.get("/audit-log")
@endpoint(query=PageQuery, summary="Audit log, newest first; filter by member_id or action", tag=TAG, errors=AUTH)
@staff_required(*ADMIN)
async def audit_log(request: Request) -> HTTPResponse:
    query = AuditLog.all()
    if request.args.get("member_id", "").isdigit():
        query = query.filter(member_id=int(request.args["member_id"]))
    if request.args.get("action"):
        query = query.filter(action=request.args["action"])
    return ok(await page(request, query, lambda a: {
        "id": a.id, "actor_type": a.actor_type, "actor_id": a.actor_id, "action": a.action,
        "member_id": a.member_id, "target_type": a.target_type, "target_id": a.target_id, "before": a.before,
        "after": a.after, "request_id": a.request_id, "created_at": a.created_at.isoformat()}))
