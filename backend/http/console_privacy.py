"""Console API for PIPL requests made at a counter or by phone: an admin exports or erases any member,
including shoppers who never used the mini-program. Admins only; each export and erasure is audited
with its reason, and an erasure must name the member it erases (``confirm``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.validation import Body, parse_body, parse_query
from backend.members import privacy
from miniprogram_api.answers import MemberExport  # the same document as the member's own export

bp = Blueprint("console_privacy", url_prefix="/api/v1/admin")
TAG = "console"


class ExportQuery(BaseModel):
    reason: str = Field(min_length=2, max_length=200, description="why the data is exported (kept in the audit log)")


class EraseRequest(Body):
    confirm: str = Field(min_length=1, max_length=20, description="the member's card number (member_no) or id")
    reason: str = Field(min_length=2, max_length=200, description="why (kept in the audit log)")


class ErasureResult(Out):
    member_id: int
    status: Literal["deleted"]
    erased_at: datetime
    erased: dict[str, int] = Field(description="rows removed or masked, by kind (identities, events, messages, ...)")


@bp.get("/members/<member_id:id>/export")
@endpoint(summary="Export everything held about a member (PIPL), on the member's request; audited", tag=TAG,
          query=ExportQuery, response=MemberExport, errors=[*STAFF_AUTH_ERRORS, "MEMBER_NOT_FOUND"],
          operation_id="exportMember")
@staff_required(*ADMIN)
async def export_member(request: Request, member_id: int) -> HTTPResponse:
    query = parse_query(request, ExportQuery)
    return ok(await privacy.export_member(member_id=member_id, pii=request.app.ctx.pii, actor=staff_actor(request),
                                          reason=query.reason))


@bp.post("/members/<member_id:id>/erase")
@endpoint(summary="Erase a member (PIPL): personal data removed everywhere, identities released; audited",
          tag=TAG, body=EraseRequest, response=ErasureResult, operation_id="eraseMember",
          description="Ledgers, orders and coupons stay under the member id, without personal data. Erasing an "
                      "erased member again runs the scrub again. A member merged into another is erased through "
                      "the member it was merged into.",
          errors=[*STAFF_AUTH_ERRORS, "MEMBER_NOT_FOUND", "ERASURE_NOT_CONFIRMED", "ERASURE_NOT_ALLOWED"])
@staff_required(*ADMIN)
async def erase_member(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, EraseRequest)
    return ok(await privacy.erase_member(member_id=member_id, actor=staff_actor(request), pii=request.app.ctx.pii,
                                         confirm=body.confirm, reason=body.reason))
