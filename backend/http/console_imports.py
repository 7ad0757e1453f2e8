"""Console API for member imports under /api/v1/admin/imports: upload (the dry run), the report, run, undo.

Admins only; every step audited. The upload is the file itself as the request body (streamed, up to
``IMPORT_MAX_BYTES``); the run and the undo go on in the background and the import's status tells how far
they are (the console polls it). ``python -m backend import-members FILE`` does the same from a shell.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from backend.errors import PayloadTooLarge
from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import CSV, Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import Body, parse_body, parse_query
from backend.imports import service
from backend.imports.models import IMPORT_STATUSES, MemberImport, MemberImportRow
from backend.members.models import CHANNELS
from jobs import runs

log = logging.getLogger("backend.imports")

bp = Blueprint("console_imports", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
ONE = [*AUTH, "IMPORT_NOT_FOUND"]
# Any content type is read (the format comes from the file name and its first bytes); the document names the
# generic one, which client generators turn into a bytes argument.
UPLOAD_TYPES = ("application/octet-stream",)


class ImportUploadQuery(BaseModel):
    filename: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00-\x1f]+$",
                          description="the file's name: .csv (UTF-8 or GBK), .xlsx or .jsonl")
    channel: Literal[tuple(CHANNELS)] = Field("pos", description="the imported members' registration channel")  # type: ignore[valid-type]
    skip_invalid: bool = Field(False, description="let the run write the valid rows of a file with invalid ones")


class ImportRunBody(Body):
    skip_invalid: bool | None = Field(None, description="write the valid rows although some are invalid")


class StoreTotals(Out):
    members: int
    principal_cents: int
    bonus_cents: int
    points: int


class ImportTotals(Out):
    create: int = Field(0, description="new members")
    join: int = Field(0, description="rows whose phone is a member already: added to that member")
    points: int = 0
    principal_cents: int = 0
    bonus_cents: int = 0
    consents: int = 0
    by_store: dict[str, StoreTotals] = Field(default_factory=dict, description="by store code ('' : none)")
    by_tier: dict[str, int] = Field(default_factory=dict)


class ImportProblem(Out):
    row_no: int = Field(description="as a spreadsheet shows it: the header is row 1")
    column: str
    reason: str


class ImportView(Out):
    id: int
    filename: str
    format: Literal["csv", "xlsx", "jsonl"]
    encoding: str | None
    status: Literal[tuple(IMPORT_STATUSES)]  # type: ignore[valid-type]
    channel: str
    skip_invalid: bool
    rows_total: int
    rows_valid: int
    rows_invalid: int
    rows_done: int = Field(description="rows the run has passed so far")
    totals: ImportTotals = Field(description="what the run creates (the dry run's figures)")
    counts: dict[str, Any] = Field(description="what the run did: created, joined, failed; rows by status")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    undone_at: datetime | None


class ImportDetail(ImportView):
    problems: list[ImportProblem] = Field(description="the first 100 problems; errors.csv has them all")


async def _view(imp: MemberImport) -> dict[str, Any]:
    out = service.view(imp)
    out["rows_done"] = await MemberImportRow.filter(import_id=imp.id, row_no__lte=imp.cursor).count() \
        if imp.cursor else 0
    return out


async def _read_upload(request: Request) -> bytes:
    limit = request.app.ctx.settings.import_max_bytes
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


@bp.post("/imports", stream=True)
@endpoint(summary="Upload a member file: every row is checked (the dry run), nothing is imported yet", tag=TAG,
          query=ImportUploadQuery, response=ImportDetail, status=201, upload=UPLOAD_TYPES,
          errors=[*AUTH, "IMPORT_FILE_INVALID", "IMPORT_ALREADY_IMPORTED"], operation_id="createImport",
          description="The body is the file. Columns: see README (手机号 is the key). The answer has the totals "
                      "the run would create and the first problems; `errors.csv` lists every problem.",
          links={op: {"import_id": "$response.body#/id"} for op in ("getImport", "runImport")})
@staff_required(*ADMIN)
async def create_import(request: Request) -> HTTPResponse:
    query = parse_query(request, ImportUploadQuery)
    content = await _read_upload(request)
    imp = await service.create(filename=query.filename, content=content,
                               options=service.Options(channel=query.channel, skip_invalid=query.skip_invalid),
                               actor=staff_actor(request), pii=request.app.ctx.pii, tz=request.app.ctx.settings.tz)
    return ok({**await _view(imp), "problems": await service.problems(imp.id)}, status=201)


@bp.get("/imports")
@endpoint(summary="Member imports, newest first", tag=TAG, query=PageQuery, response=Page[ImportView], errors=AUTH,
          operation_id="listImports")
@staff_required(*ADMIN)
async def list_imports(request: Request) -> HTTPResponse:
    result = await page(request, MemberImport.all(), lambda imp: imp)
    result["items"] = [await _view(imp) for imp in result["items"]]
    return ok(result)


@bp.get("/imports/<import_id:id32>")
@endpoint(summary="One import: status, progress, totals and the first problems", tag=TAG, response=ImportDetail,
          errors=ONE, operation_id="getImport")
@staff_required(*ADMIN)
async def get_import(request: Request, import_id: int) -> HTTPResponse:
    imp = await service.get(import_id)
    return ok({**await _view(imp), "problems": await service.problems(imp.id)})


@bp.get("/imports/<import_id:id32>/errors.csv")
@endpoint(summary="Every problem of an import as CSV (行号, 列, 原因), for Excel", tag=TAG, response=CSV, errors=ONE,
          operation_id="getImportErrors")
@staff_required(*ADMIN)
async def import_errors(request: Request, import_id: int) -> HTTPResponse:
    text = await service.error_report(import_id)
    return raw(text.encode("utf-8"), content_type="text/csv; charset=utf-8",
               headers={"Content-Disposition": f"attachment; filename=\"import-{import_id}-errors.csv\""})


def _spawn(request: Request, work: Any, what: str, import_id: int) -> None:
    async def background() -> None:
        try:
            await work()
        except Exception:  # the import's status and error say what happened; the log has the rest
            log.exception("import %s failed in the background", what, extra={"import_id": import_id})

    # A plain task kept referenced on the app: if the process stops mid-run, the job's lease runs out and the
    # scheduler's maintenance resumes the import from its cursor.
    tasks: set[asyncio.Task[None]] = request.app.ctx.__dict__.setdefault("import_tasks", set())
    task = asyncio.get_running_loop().create_task(background(), name=f"import-{what}-{import_id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


@bp.post("/imports/<import_id:id32>/run")
@endpoint(summary="Run an import in the background (resumes a failed one where it stopped)", tag=TAG,
          body=ImportRunBody, response=ImportView, status=202,
          errors=[*ONE, "IMPORT_HAS_ERRORS", "IMPORT_STATE"], operation_id="runImport")
@staff_required(*ADMIN)
async def run_import(request: Request, import_id: int) -> HTTPResponse:
    body = parse_body(request, ImportRunBody)
    imp = await service.start(import_id=import_id, actor=staff_actor(request), skip_invalid=body.skip_invalid)
    if imp.status == "running":
        ctx, settings = request.app.ctx, request.app.ctx.settings
        _spawn(request, lambda: service.run(import_id=import_id, pii=ctx.pii, tz=settings.tz, kv=ctx.kv,
                                            owner=runs.new_owner(), lease_s=settings.job_lease_s), "run", import_id)
    return ok(await _view(imp), status=202)


@bp.post("/imports/<import_id:id32>/undo")
@endpoint(summary="Undo an import, all or nothing, while none of its members has changed since", tag=TAG,
          response=ImportView, errors=[*ONE, "IMPORT_STATE", "IMPORT_MEMBERS_CHANGED"], operation_id="undoImport")
@staff_required(*ADMIN)
async def undo_import(request: Request, import_id: int) -> HTTPResponse:
    imp = await service.undo(import_id=import_id, actor=staff_actor(request), pii=request.app.ctx.pii)
    return ok(await _view(imp))


