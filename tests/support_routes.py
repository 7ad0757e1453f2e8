"""Routes mounted only on the test stack, to exercise the reusable pieces through real HTTP."""

from __future__ import annotations

import asyncio

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from tortoise.transactions import in_transaction

from backend import audit
from backend.errors import Conflict
from backend.http.auth import staff_required
from backend.idempotency import idempotent
from backend.stores.models import AuditLog

bp = Blueprint("test_support", url_prefix="/test")


@bp.post("/idempotent-note")
@staff_required()
@idempotent
async def idempotent_note(request: Request) -> HTTPResponse:
    """Writes one audit row per execution, so a test can count executions."""
    body = request.json or {}
    await asyncio.sleep(float(body.get("sleep", 0)))
    if body.get("fail"):
        raise Conflict("这次失败")
    async with in_transaction() as conn:
        row = await audit.record(actor=audit.Actor.staff(request.ctx.staff.id), action="test.note",
                                 after={"note": body.get("note")}, using_db=conn)
    executions = await AuditLog.filter(action="test.note").count()
    return json({"audit_id": row.id, "executions": executions}, status=201)


@bp.get("/boom")
async def boom(request: Request) -> HTTPResponse:
    raise RuntimeError("secret internal detail that must not leak")
