"""Small pieces every HTTP module uses: the JSON response in zh-CN, the staff actor, role sets."""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, json

from backend import audit
from backend.members.errors import MemberNotFound
from backend.members.models import Member

ADMIN = ("admin",)
CONSOLE = ("admin", "marketer")
CLERK = ("clerk", "admin")
STAFF_AUTH_ERRORS = ["UNAUTHENTICATED", "FORBIDDEN"]


def ok(body: Any, status: int = 200) -> HTTPResponse:
    """JSON with Chinese left readable (not \\u-escaped)."""
    return json(body, status=status, ensure_ascii=False)


def staff_actor(request: Request) -> audit.Actor:
    return audit.Actor.staff(request.ctx.staff.id)


async def member_or_404(member_id: int) -> Member:
    """The member a console route names in its path, or MEMBER_NOT_FOUND."""
    member = await Member.get_or_none(id=member_id)
    if member is None:
        raise MemberNotFound()
    return member
