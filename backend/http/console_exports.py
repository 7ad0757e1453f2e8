"""Console API for exports under /api/v1/admin/exports: members, balances at a date, ledgers, coupons.

Each answers a file, CSV (``format=csv``, the default: UTF-8 with a BOM, streamed batch by batch as the rows are
read) or XLSX (``format=xlsx``: built first, then sent in chunks). Marketers and admins; personal data
(``/exports/members?pii=true``) is for admins only. Every export is audited (``export.<kind>``) before its first
row is read, with the format and the filters; its row count is added once the file is complete.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from sanic import Blueprint, Request

from backend.errors import Forbidden
from backend.exports import assets, coupons, members, service
from backend.exports.errors import MAX_RANGE_DAYS
from backend.exports.writers import CHUNK_BYTES, CsvWriter, XlsxWriter, disposition
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, staff_actor
from backend.http.docs import CSV, XLSX, endpoint
from backend.http.validation import Id, Id32, parse_query

log = logging.getLogger("backend.exports")

bp = Blueprint("console_exports", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
FILE = (CSV, XLSX)
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2100, 1, 1)


DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _day_text(value: Any) -> Any:
    # pydantic's date also takes datetimes ("…T00:00:00Z") and Unix timestamps: a day is YYYY-MM-DD only.
    if isinstance(value, str) and not re.fullmatch(DAY_PATTERN, value):
        raise ValueError("日期格式应为 YYYY-MM-DD")
    return value


def _day_range(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError("日期应在 2000-01-01 与 2100-01-01 之间")
    return value


# A merchant-time calendar day.
Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_day_range),
                Field(json_schema_extra={"pattern": DAY_PATTERN})]


class ExportQuery(BaseModel):
    format: Literal["csv", "xlsx"] = Field("csv", description="csv (UTF-8 with BOM, streamed) or xlsx")


class MemberExportQuery(ExportQuery):
    pii: bool = Field(False, description="add phone (in full), name, gender, birthday, email and custom fields: "
                                         "admins only, audited")
    status: Literal["active", "merged", "deleted", "all"] = Field("active", description="members in this status")
    store_id: Id32 | None = Field(None, description="members who registered at this store")
    tag_id: Id32 | None = Field(None, description="members carrying this tag")


class BalanceExportQuery(ExportQuery):
    at: Day | None = Field(None, description="YYYY-MM-DD, merchant time: the balances at the end of that day; "
                                             "absent or today: now")


class LedgerExportQuery(ExportQuery):
    kind: Literal["points", "wallet"] = Field(description="the points ledger or the stored-value ledger")
    from_: Day = Field(alias="from", description="YYYY-MM-DD, merchant time, inclusive")
    to: Day = Field(description=f"YYYY-MM-DD, merchant time, inclusive; at most {MAX_RANGE_DAYS} days in all")


class CouponExportQuery(ExportQuery):
    status: Literal["available", "redeemed", "expired"] | None = Field(
        None, description="as the coupon shows it (expired once its window is over); absent: every coupon")
    template_id: Id | None = Field(None, description="coupons of this template")


async def _send(request: Request, export: service.Export, fmt: service.Format) -> None:
    """Audit, then answer the file: CSV as the batches come, XLSX once built."""
    tz = request.app.ctx.settings.tz
    entry = await service.begin(export=export, fmt=fmt, actor=staff_actor(request))
    name, fallback = export.filenames(fmt)
    headers = {"Content-Disposition": disposition(name, fallback), "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff"}
    if fmt == "xlsx":
        file = await service.build_xlsx(export, tz)
        try:
            response = await request.respond(content_type=XlsxWriter.media_type, headers=headers)
            while chunk := file.read(CHUNK_BYTES):
                await response.send(chunk)
        finally:
            file.close()
    else:
        chunks = service.csv_chunks(export, tz)
        first = await anext(chunks)  # read before answering: a failure here is still an error answer
        response = await request.respond(content_type=CsvWriter.media_type, headers=headers)
        await response.send(first)
        try:
            async for chunk in chunks:
                await response.send(chunk)
        except Exception:
            # The answer has begun: all that is left is to cut it short, so the client sees an incomplete file.
            log.exception("export cut short", extra={"kind": export.kind, "rows": export.rows})
            raise
    await response.eof()
    await service.finish(entry=entry, export=export)


DESCRIBE = ("The answer is the file (`Content-Disposition: attachment`, named with the date). CSV is UTF-8 "
            "with a BOM and Chinese headings (see README, Exports); XLSX has typed cells. Times are merchant "
            "time, money is yuan with two decimals. Audited.")


@bp.get("/exports/members")
@endpoint(summary="Export members: card number, registration, tier, balances, consents, tags; with pii=true "
                  "(admins) also phone, name, gender, birthday, email, custom fields", tag=TAG,
          query=MemberExportQuery, response=FILE, errors=AUTH, operation_id="exportMembers", description=DESCRIBE)
@staff_required(*CONSOLE)
async def export_members(request: Request) -> None:
    params = parse_query(request, MemberExportQuery)
    if params.pii and request.ctx.staff.role not in ADMIN:
        raise Forbidden("只有管理员可以导出会员个人信息", details={"required_roles": list(ADMIN), "pii": True})
    tz = request.app.ctx.settings.tz
    export = await members.export(pii=params.pii, status=params.status, store_id=params.store_id,
                                  tag_id=params.tag_id, cipher=request.app.ctx.pii,
                                  period=service.today(tz).isoformat())
    await _send(request, export, params.format)


@bp.get("/exports/balances")
@endpoint(summary="Export every member's points and stored value at the end of a day, from the ledgers, "
                  "with a totals row", tag=TAG, query=BalanceExportQuery, response=FILE, errors=AUTH,
          operation_id="exportBalances",
          description=DESCRIBE + " Members with nothing anywhere are left out; the last row (会员号 合计) holds "
                                 "the sums, which equal the sums of the ledgers' entries up to that moment.")
@staff_required(*CONSOLE)
async def export_balances(request: Request) -> None:
    params = parse_query(request, BalanceExportQuery)
    await _send(request, assets.balances(at=params.at, tz=request.app.ctx.settings.tz), params.format)


@bp.get("/exports/ledgers")
@endpoint(summary="Export the points or stored-value ledger entries of a date range (merchant time, inclusive)",
          tag=TAG, query=LedgerExportQuery, response=FILE, errors=[*AUTH, "EXPORT_RANGE_TOO_LONG"],
          operation_id="exportLedgers", description=DESCRIBE)
@staff_required(*CONSOLE)
async def export_ledgers(request: Request) -> None:
    params = parse_query(request, LedgerExportQuery)
    export = assets.ledger(kind=params.kind, first=params.from_, last=params.to, tz=request.app.ctx.settings.tz)
    await _send(request, export, params.format)


@bp.get("/exports/coupons")
@endpoint(summary="Export coupons with their template, holder, status, how they were issued and their times",
          tag=TAG, query=CouponExportQuery, response=FILE, errors=AUTH, operation_id="exportCoupons",
          description=DESCRIBE)
@staff_required(*CONSOLE)
async def export_coupons(request: Request) -> None:
    params = parse_query(request, CouponExportQuery)
    tz = request.app.ctx.settings.tz
    export = coupons.export(status=params.status, template_id=params.template_id,
                            period=service.today(tz).isoformat())
    await _send(request, export, params.format)
