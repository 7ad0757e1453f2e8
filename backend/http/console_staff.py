"""Console API for staff and stores: change a role or store, reset a password, deactivate; edit a store, under /api/v1/admin."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, Id32, parse_body
from backend.stores import staff_admin

bp = Blueprint("console_staff", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
Role = Literal["admin", "marketer", "clerk"]


class StoreOut(Out):
    id: int
    code: str
    name: str
    active: bool


class StaffOut(Out):
    id: int
    username: str
    role: Role
    store_id: int | None = Field(description="a clerk's store")
    active: bool


class StorePatch(Body):
    """Only the fields sent change. A deactivated store's clerks can no longer log in."""

    name: str | None = Field(None, min_length=1, max_length=100)
    active: bool | None = None

    @model_validator(mode="after")
    def something(self) -> StorePatch:
        if self.name is None and self.active is None:
            raise ValueError("请提供 name 或 active")
        return self


class StaffPatch(Body):
    """Only the fields sent change; ``store_id: null`` unbinds the store (a clerk must keep one)."""

    role: Role | None = None
    store_id: Id32 | None = Field(None, description="the store to bind; null unbinds (not for a clerk)")
    active: bool | None = Field(None, description="false deactivates the account and revokes its tokens at once")

    @model_validator(mode="after")
    def something(self) -> StaffPatch:
        if self.role is None and self.active is None and "store_id" not in self.model_fields_set:
            raise ValueError("请提供 role、store_id 或 active")
        return self


class PasswordReset(Body):
    password: str = Field(min_length=8, max_length=256, description="the new password (at least 8 characters)")


STAFF_ERRORS = [*AUTH, "STAFF_NOT_FOUND"]


@bp.patch("/stores/<store_id:id32>")
@endpoint(summary="Rename a store or change its active flag (audited)", tag=TAG, body=StorePatch,
          response=StoreOut, errors=[*AUTH, "STORE_NOT_FOUND"], operation_id="updateStore")
@staff_required(*ADMIN)
async def patch_store(request: Request, store_id: int) -> HTTPResponse:
    body = parse_body(request, StorePatch)
    store = await staff_admin.update_store(store_id=store_id, name=body.name, active=body.active,
                                           actor=staff_actor(request))
    return ok(staff_admin.store_view(store))


@bp.patch("/staff/<staff_id:id32>")
@endpoint(summary="Change a staff account's role, store or active flag (audited)", tag=TAG, body=StaffPatch,
          response=StaffOut, errors=[*STAFF_ERRORS, "STORE_NOT_FOUND", "STAFF_SELF_CHANGE", "LAST_ADMIN"],
          operation_id="updateStaff",
          description="Deactivating bumps the account's token version: every token it holds is refused at once "
                      "(401). An admin cannot deactivate or demote themselves (`STAFF_SELF_CHANGE`); the last "
                      "active admin cannot be deactivated or demoted (`LAST_ADMIN`). A clerk needs a store.")
@staff_required(*ADMIN)
async def patch_staff(request: Request, staff_id: int) -> HTTPResponse:
    body = parse_body(request, StaffPatch)
    extra = {"store_id": body.store_id} if "store_id" in body.model_fields_set else {}
    staff = await staff_admin.update_staff(staff_id=staff_id, by_staff_id=request.ctx.staff.id, role=body.role,
                                           active=body.active, actor=staff_actor(request), **extra)
    return ok(staff_admin.staff_view(staff))


@bp.post("/staff/<staff_id:id32>/password")
@endpoint(summary="Reset a staff account's password; every token it holds is refused at once (audited)",
          tag=TAG, body=PasswordReset, response=StaffOut, errors=STAFF_ERRORS, operation_id="resetStaffPassword")
@staff_required(*ADMIN)
async def reset_password(request: Request, staff_id: int) -> HTTPResponse:
    body = parse_body(request, PasswordReset)
    staff = await staff_admin.reset_password(staff_id=staff_id, password=body.password, actor=staff_actor(request))
    return ok(staff_admin.staff_view(staff))
