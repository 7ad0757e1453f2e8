"""Marketer and admin console API under /api/v1/admin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.expressions import Q, Subquery

from backend.errors import field_errors
from backend.http import console_members as members_view
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import MAX_LIMIT, Page, PageQuery, page
from backend.http.read_models import ConsentState, CounterField, MemberProfile
from backend.http.validation import Body, Id, Id32, parse_body, parse_query
from backend.members import custom_fields, merge, service
from backend.members.errors import MemberNotFound
from backend.members.models import CustomFieldDef, Member, MemberEvent
from backend.stores import service as stores
from backend.stores.models import AuditLog, StaffAccount
from backend.stores.models import Store as StoreRow
from jobs.audience_models import MemberTag

bp = Blueprint("console", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
MEMBER = [*AUTH, "MEMBER_NOT_FOUND"]
Role = Literal["admin", "marketer", "clerk"]
# What audit rows name: an action like ``coupon_template.status``, a target type like ``coupon_template``.
DOTTED = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


def _sane_time(value: datetime) -> datetime:
    if not datetime(2000, 1, 1, tzinfo=UTC) <= value <= datetime(2100, 1, 1, tzinfo=UTC):
        raise ValueError("时间应在 2000-01-01 与 2100-01-01 之间")
    return value


FilterTime = Annotated[AwareDatetime, AfterValidator(_sane_time),
                       Field(description="ISO 8601 with an offset, e.g. 2026-03-01T00:00:00+08:00 "
                                         "(encode `+` as %2B in a query string) or …Z")]


class MemberQuery(PageQuery):
    phone: str | None = Field(None, min_length=1, max_length=20, description="exact, any common notation")
    member_no: str | None = Field(None, min_length=1, max_length=20, description="exact card number")
    tag_id: Id32 | None = Field(None, description="members carrying this tag (manual or automatic)")


class ConsoleMember(MemberProfile):
    """A member as the console shows them, the phone masked (admins reveal it: POST …/phone/reveal, audited)."""

    status: Literal["active", "merged", "deleted"]


class ConsoleMemberRow(ConsoleMember):
    """A member in the console's search list, with the columns it shows."""

    tier: str = Field(description="the tier code")
    tier_name: str
    points_balance: int
    balance_cents: int = Field(description="stored value: principal plus bonus")
    last_order_at: datetime | None = Field(description="when the latest order was placed")


class ConsoleMemberPage(Page[ConsoleMemberRow]):
    pass


class ConsoleMemberDetail(ConsoleMember):
    merged_into_id: int | None = Field(description="the member this one was merged into")
    consents: list[ConsentState]


class TimelineEvent(Out):
    id: int
    type: str = Field(description="registered, order_placed, points_earned, coupon_redeemed, tier_changed, …")
    channel: str | None
    store_id: int | None
    payload: dict[str, Any] = Field(description="the event's own fields")
    created_at: datetime


class TimelinePage(Page[TimelineEvent]):
    pass


class MemberMergeResult(Out):
    merge_id: int
    survivor_id: int
    merged_id: int
    moved: dict[str, Any] = Field(description="what moved to the survivor: identities, events, points, coupons, …")
    created_at: datetime


class CustomField(CounterField):
    id: int
    active: bool


class CustomFieldList(Page[CustomField]):
    """Every definition, oldest first (one page: ``next_cursor`` is always null)."""


class Store(Out):
    id: int
    code: str
    name: str
    active: bool


class StorePage(Page[Store]):
    pass


class Staff(Out):
    id: int
    username: str
    role: Role
    store_id: int | None = Field(description="a clerk's store")
    active: bool


class StaffPage(Page[Staff]):
    pass


class AuditQuery(PageQuery):
    member_id: Id | None = Field(None, description="rows about this member: as its subject or its target "
                                                   "(a merge is found from either member)")
    staff_id: Id32 | None = Field(None, description="rows whose actor is this staff account")
    actor_type: Literal["staff", "member", "app", "system"] | None = None
    actor_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                                 description="the actor's id as recorded: a staff or member id, an app key id")
    action: str | None = Field(None, max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$",
                               description="exact (`coupon_template.status`) or a family ending in `.*` "
                                           "(`coupon_template.*`)")
    target_type: str | None = Field(None, max_length=32, pattern=DOTTED,
                                    description="e.g. member, coupon_template, store, staff, loyalty_program")
    target_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    from_: FilterTime | None = Field(None, alias="from", description="at or after (aware ISO 8601)")
    to: FilterTime | None = Field(None, description="before (aware ISO 8601)")

    @model_validator(mode="after")
    def ordered(self) -> AuditQuery:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise ValueError("to 应晚于 from")
        return self


class AuditEntry(Out):
    id: int
    actor_type: Literal["staff", "member", "app", "system"]
    actor_id: str | None
    action: str
    member_id: int | None
    target_type: str | None
    target_id: str | None
    before: Any = Field(description="the state before (JSON), if recorded")
    after: Any = Field(description="the state after (JSON), if recorded")
    request_id: str | None
    created_at: datetime


class AuditPage(Page[AuditEntry]):
    pass



def _member_view(request: Request, member: Member) -> dict[str, Any]:
    view = service.profile(member)
    view["status"] = member.status
    return view


class MemberMergeRequest(Body):
    other_id: Id = Field(description="the member folded into this one")


FieldKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Choice = Annotated[str, Field(min_length=1, max_length=64)]


class ConsoleMemberPatch(Body):
    """Only the fields sent change; ``null`` clears the nickname, birthday or email."""

    nickname: str | None = Field(None, max_length=64)
    gender: Literal["male", "female", "unknown"] | None = Field(None, description="null: unchanged")
    birthday: date | None = Field(None, ge=date(1900, 1, 1), description="not after today")
    email: str | None = Field(None, max_length=254)
    custom_fields: dict[FieldKey, Any] | None = Field(None, max_length=100,
                                                      description="by key; a null or empty value clears one")


class CustomFieldCreate(Body):
    key: FieldKey = Field(description="lower-case letters, digits and _, starting with a letter")
    label: str = Field(min_length=1, max_length=64)
    type: Literal["text", "number", "date", "choice"]
    required: bool = False
    choices: list[Choice] | None = Field(None, max_length=100, description="for choice: the options")
    max_length: int | None = Field(None, ge=1, le=2000, description="for text: the longest value (default 200)")


class CustomFieldPatch(Body):
    """Only the fields sent change; ``null`` clears ``choices`` or ``max_length`` and leaves the others."""

    label: str | None = Field(None, min_length=1, max_length=64)
    required: bool | None = None
    choices: list[Choice] | None = Field(None, max_length=100)
    max_length: int | None = Field(None, ge=1, le=2000)
    active: bool | None = None


class StoreCreate(Body):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=100)


class StaffCreate(Body):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    store_code: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$", description="required for a clerk")


def _field_view(d: CustomFieldDef) -> dict[str, Any]:
    return {"id": d.id, "key": d.key, "label": d.label, "type": d.type, "required": d.required,
            "choices": d.choices, "max_length": d.max_length, "active": d.active}


@bp.get("/members")
@endpoint(query=MemberQuery, summary="Search members by phone, member_no (exact) or tag, or list the newest", tag=TAG,
          response=ConsoleMemberPage, errors=AUTH, operation_id="searchMembers")
@staff_required(*CONSOLE)
async def list_members(request: Request) -> HTTPResponse:
    params = parse_query(request, MemberQuery)
    query = Member.filter(status="active")
    if params.phone:
        member = await service.find_by_phone(phone=params.phone, pii=request.app.ctx.pii)
        query = query.filter(id=member.id if member else 0)
    if params.member_no:
        query = query.filter(member_no=params.member_no)
    if params.tag_id is not None:
        query = query.filter(id__in=Subquery(MemberTag.filter(tag_id=params.tag_id).values("member_id")))
    result = await page(request, query, lambda m: _member_view(request, m), params)
    await members_view.add_list_columns(result["items"])
    return ok(result)


@bp.get("/members/<member_id:id>")
@endpoint(summary="A member's profile, consents and status", tag=TAG, response=ConsoleMemberDetail, errors=MEMBER,
          operation_id="getMember")
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
          body=ConsoleMemberPatch, response=ConsoleMember, errors=[*MEMBER, "EMAIL_BOUND_ELSEWHERE"],
          operation_id="updateMember")
@staff_required(*ADMIN)
async def patch_member(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, ConsoleMemberPatch)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("gender", "") is None:  # the column holds no null
        del changes["gender"]
    if changes.get("custom_fields", {}) is None:
        del changes["custom_fields"]
    member = await service.update_profile(member_id=member_id, changes=changes, actor=staff_actor(request), staff=True)
    return ok(_member_view(request, member))


@bp.get("/members/<member_id:id>/timeline")
@endpoint(query=PageQuery, summary="The member's events, newest first", tag=TAG, response=TimelinePage,
          errors=MEMBER, operation_id="getMemberTimeline")
@staff_required(*CONSOLE)
async def timeline(request: Request, member_id: int) -> HTTPResponse:
    if not await Member.exists(id=member_id):
        raise MemberNotFound()
    return ok(await page(request, MemberEvent.filter(member_id=member_id), lambda e: {
        "id": e.id, "type": e.type, "channel": e.channel, "store_id": e.store_id, "payload": e.payload,
        "created_at": e.created_at.isoformat()}))


@bp.post("/members/<member_id:id>/merge")
@endpoint(summary="Merge another member into this one: identities, assets and history move (audited)", tag=TAG,
          body=MemberMergeRequest, response=MemberMergeResult, errors=[*MEMBER, "MERGE_NOT_ALLOWED"],
          operation_id="mergeMembers")
@staff_required(*ADMIN)
async def merge_member(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, MemberMergeRequest)
    record = await merge.merge_members(survivor_id=member_id, merged_id=body.other_id, actor=staff_actor(request))
    return ok({"merge_id": record.id, "survivor_id": record.survivor_id, "merged_id": record.merged_id,
               "moved": record.moved, "created_at": record.created_at.isoformat()})


@bp.get("/custom-fields")
@endpoint(summary="Custom profile field definitions", tag=TAG, response=CustomFieldList, errors=AUTH,
          operation_id="listCustomFields")
@staff_required(*CONSOLE)
async def list_custom_fields(request: Request) -> HTTPResponse:
    return ok({"items": [_field_view(d) for d in await CustomFieldDef.all().order_by("id")], "next_cursor": None})


@bp.post("/custom-fields")
@endpoint(summary="Define a custom profile field (text, number, date or choice)", tag=TAG, body=CustomFieldCreate,
          response=CustomField, status=201, errors=[*AUTH, "CUSTOM_FIELD_KEY_TAKEN"],
          operation_id="createCustomField")
@staff_required(*ADMIN)
async def create_custom_field(request: Request) -> HTTPResponse:
    body = parse_body(request, CustomFieldCreate)
    definition = await custom_fields.create_definition(actor=staff_actor(request), **body.model_dump())
    return ok(_field_view(definition), status=201)


@bp.patch("/custom-fields/<field_id:id32>")
@endpoint(summary="Change a custom field's label, required flag, choices or active flag", tag=TAG,
          body=CustomFieldPatch, response=CustomField, errors=[*AUTH, "NOT_FOUND"],
          operation_id="updateCustomField")
@staff_required(*ADMIN)
async def patch_custom_field(request: Request, field_id: int) -> HTTPResponse:
    body = parse_body(request, CustomFieldPatch)
    changes = {key: value for key, value in body.model_dump(exclude_unset=True).items()
               if value is not None or key in ("choices", "max_length")}
    if not changes:
        raise field_errors({"body": "没有要修改的字段"})
    definition = await custom_fields.update_definition(field_id=field_id, actor=staff_actor(request), **changes)
    return ok(_field_view(definition))


class StoreQuery(PageQuery):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="items per page")


@bp.get("/stores")
@endpoint(query=StoreQuery, summary="Stores", tag=TAG, response=StorePage, errors=AUTH, operation_id="listStores")
@staff_required(*CONSOLE)
async def list_stores(request: Request) -> HTTPResponse:
    return ok(await page(request, StoreRow.all(), lambda s: {"id": s.id, "code": s.code, "name": s.name,
                                                             "active": s.active}))


@bp.post("/stores")
@endpoint(summary="Create a store", tag=TAG, body=StoreCreate, response=Store, status=201,
          errors=[*AUTH, "STORE_CODE_TAKEN"], operation_id="createStore")
@staff_required(*ADMIN)
async def create_store(request: Request) -> HTTPResponse:
    body = parse_body(request, StoreCreate)
    store = await stores.create_store(code=body.code, name=body.name, actor=staff_actor(request))
    return ok({"id": store.id, "code": store.code, "name": store.name, "active": store.active}, status=201)


@bp.get("/staff")
@endpoint(query=PageQuery, summary="Staff accounts", tag=TAG, response=StaffPage, errors=AUTH,
          operation_id="listStaff")
@staff_required(*ADMIN)
async def list_staff(request: Request) -> HTTPResponse:
    return ok(await page(request, StaffAccount.all(), lambda s: {
        "id": s.id, "username": s.username, "role": s.role, "store_id": s.store_id, "active": s.active}))


@bp.post("/staff")
@endpoint(summary="Create a staff account (clerks need a store)", tag=TAG, body=StaffCreate, response=Staff,
          status=201, errors=[*AUTH, "USERNAME_TAKEN", "STORE_NOT_FOUND"], operation_id="createStaff")
@staff_required(*ADMIN)
async def create_staff(request: Request) -> HTTPResponse:
    body = parse_body(request, StaffCreate)
    staff = await stores.create_staff(username=body.username, password=body.password, role=body.role,
                                      store_code=body.store_code, actor=staff_actor(request))
    return ok({"id": staff.id, "username": staff.username, "role": staff.role, "store_id": staff.store_id,
               "active": staff.active}, status=201)


@bp.get("/audit-log")
@endpoint(query=AuditQuery, summary="Audit log, newest first; filter by member, actor, action, target and time",
          tag=TAG, response=AuditPage, errors=AUTH, operation_id="listAuditLog",
          description="Filters combine (AND). `member_id` finds the rows about a member whether it is the "
                      "row's member or its target (a merge names the survivor as member, the merged one as "
                      "target); `staff_id` is `actor_type=staff&actor_id=<id>`; `from` ≤ created_at < `to`.")
@staff_required(*ADMIN)
async def list_audit_log(request: Request) -> HTTPResponse:
    params = parse_query(request, AuditQuery)
    query = AuditLog.all()
    if params.member_id is not None:
        query = query.filter(Q(member_id=params.member_id)
                             | Q(target_type="member", target_id=str(params.member_id)))
    if params.staff_id is not None:
        query = query.filter(actor_type="staff", actor_id=str(params.staff_id))
    if params.actor_type is not None:
        query = query.filter(actor_type=params.actor_type)
    if params.actor_id is not None:
        query = query.filter(actor_id=params.actor_id)
    if params.action is not None:
        family = params.action.removesuffix(".*")
        query = query.filter(Q(action__startswith=family + ".") if family != params.action
                             else Q(action=params.action))
    if params.target_type is not None:
        query = query.filter(target_type=params.target_type)
    if params.target_id is not None:
        query = query.filter(target_id=params.target_id)
    # In UTC, as stored: SQLite compares the stored text, so an offset other than +00:00 would misorder.
    if params.from_ is not None:
        query = query.filter(created_at__gte=params.from_.astimezone(UTC))
    if params.to is not None:
        query = query.filter(created_at__lt=params.to.astimezone(UTC))
    return ok(await page(request, query, lambda a: {
        "id": a.id, "actor_type": a.actor_type, "actor_id": a.actor_id, "action": a.action,
        "member_id": a.member_id, "target_type": a.target_type, "target_id": a.target_id, "before": a.before,
        "after": a.after, "request_id": a.request_id, "created_at": a.created_at.isoformat()}, params))
