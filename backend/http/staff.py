"""Staff session: every staff role logs in here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend.http.auth import STAFF_AUDIENCE
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body
from backend.ratelimit import LoginThrottle
from backend.security import tokens
from backend.stores import service
from backend.stores.models import Store

bp = Blueprint("staff_session", url_prefix="/api/v1/staff")


class StaffLogin(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffStore(Out):
    id: int
    code: str
    name: str


class StaffIdentity(Out):
    id: int
    username: str
    role: Literal["admin", "marketer", "clerk"]
    store: StaffStore | None = Field(description="the store a clerk works at")


class StaffSession(Out):
    token: str
    expires_in: int = Field(description="seconds until the token expires")
    staff: StaffIdentity


@bp.post("/session")
@endpoint(summary="Staff login (admin, marketer, clerk)", tag="staff", body=StaffLogin, response=StaffSession,
          errors=["INVALID_CREDENTIALS", "UNAUTHENTICATED", "RATE_LIMITED"])
async def create_staff_session(request: Request) -> HTTPResponse:
    body = parse_body(request, StaffLogin)
    # Keyed by client address and by account from that address (backend.ratelimit): wrong passwords from
    # anywhere else never delay the real user, and a correct one clears the account's count.
    address = request.remote_addr or request.ip
    async with LoginThrottle(request.app.ctx.kv).attempt(username=body.username, address=address,
                                                         failure=service.InvalidCredentials):
        staff = await service.authenticate_staff(username=body.username, password=body.password)
    settings = request.app.ctx.settings
    token = tokens.issue(settings.secret_key, audience=STAFF_AUDIENCE, subject=str(staff.id),
                         ttl_s=settings.staff_token_ttl_s,
                         claims={"role": staff.role, "store_id": staff.store_id, "ver": staff.token_version})
    store = await Store.get_or_none(id=staff.store_id) if staff.store_id else None
    return json({
        "token": token,
        "expires_in": settings.staff_token_ttl_s,
        "staff": {"id": staff.id, "username": staff.username, "role": staff.role,
                  "store": {"id": store.id, "code": store.code, "name": store.name} if store else None},
    }, ensure_ascii=False)
