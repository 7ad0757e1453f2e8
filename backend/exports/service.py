"""An export: its columns, its rows in keyset batches, its file name and its audit row; and the two ways out,
CSV chunks as the batches come or one finished XLSX file.

The HTTP routes (``backend.http.console_exports``) and the CLI (``python -m backend export``) run the same
exports. Every export is audited (``export.<kind>``: who, the format and the filters) before its first row is
read; once the last row is out the row's ``after.rows`` holds the count (it stays null for an export cut short).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

from backend import audit, clock
from backend.exports.errors import XLSX_MAX_ROWS, ExportTooLarge
from backend.exports.writers import Column, CsvWriter, XlsxWriter
from backend.stores.models import AuditLog

Format = Literal["csv", "xlsx"]
BATCH = 1000  # rows read per keyset step


@dataclass
class Export:
    kind: str  # members | balances | ledgers | coupons: the audit action is export.<kind>
    title: str  # 会员, 资产余额, 积分流水 …: the sheet's title and the file name's start
    slug: str  # the same in ASCII, for clients that cannot read filename*
    period: str  # the date part of the file name
    columns: list[Column]
    batches: AsyncIterator[list[list[Any]]]
    filters: dict[str, Any]  # as audited (JSON)
    rows: int = field(default=0, init=False)

    def filenames(self, fmt: Format) -> tuple[str, str]:
        """(the Chinese file name, the ASCII one)."""
        return f"{self.title}-{self.period}.{fmt}", f"{self.slug}-{self.period}.{fmt}"


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a merchant-time day, in UTC (as the database holds times)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def today(tz: ZoneInfo) -> date:
    return clock.now().astimezone(tz).date()


async def begin(*, export: Export, fmt: Format, actor: audit.Actor) -> AuditLog:
    """The audit row of an export, written before any row is read."""
    return await audit.record(actor=actor, action=f"export.{export.kind}", target_type="export",
                              target_id=export.kind, after={"format": fmt, "filters": export.filters, "rows": None})


async def finish(*, entry: AuditLog, export: Export) -> None:
    """The export got to its end: its audit row says how many rows it held."""
    await AuditLog.filter(id=entry.id).update(after={**(entry.after or {}), "rows": export.rows})


async def csv_chunks(export: Export, tz: ZoneInfo) -> AsyncIterator[bytes]:
    """The heading with the first batch, then one chunk per batch."""
    writer = CsvWriter(export.columns, tz)
    head = writer.header()
    async for batch in export.batches:
        export.rows += len(batch)
        yield head + writer.rows(batch)
        head = b""
    if head:
        yield head  # no rows: the heading alone


async def build_xlsx(export: Export, tz: ZoneInfo) -> IO[bytes]:
    """The whole XLSX file, at its start. Built before a byte is sent, so a failure is still an error answer;
    past Excel's row limit it is ``EXPORT_TOO_LARGE``. The CPU work runs off the event loop."""
    writer = XlsxWriter(export.columns, tz, export.title)
    try:
        async for batch in export.batches:
            export.rows += len(batch)
            if export.rows > XLSX_MAX_ROWS:
                raise ExportTooLarge(details={"max_rows": XLSX_MAX_ROWS})
            await asyncio.to_thread(writer.rows, batch)
        return await asyncio.to_thread(writer.save)
    except BaseException:
        _discard(writer)
        raise


async def write_file(export: Export, fmt: Format, path: str | os.PathLike[str], tz: ZoneInfo) -> None:
    """The export into a file (the CLI): the same bytes the HTTP route answers."""
    built = await build_xlsx(export, tz) if fmt == "xlsx" else None
    out = await asyncio.to_thread(open, path, "wb")
    try:
        if built is not None:
            with built:
                await asyncio.to_thread(shutil.copyfileobj, built, out)
        else:
            async for chunk in csv_chunks(export, tz):
                await asyncio.to_thread(out.write, chunk)
    finally:
        out.close()


def _discard(writer: XlsxWriter) -> None:
    """Remove the temporary file openpyxl keeps the sheet in (saving removes it; a failed build would not)."""
    sheet_writer = getattr(writer.sheet, "_writer", None)
    if sheet_writer is None:
        return
    with contextlib.suppress(Exception):  # closing a half-written XML stream may complain; the file goes anyway
        sheet_writer.close()
    with contextlib.suppress(FileNotFoundError):
        os.remove(sheet_writer.out)
