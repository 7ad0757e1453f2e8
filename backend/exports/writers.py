"""Row writers: columns with a kind, written as CSV (UTF-8 with a BOM, for Excel in China) or XLSX.

CSV is produced batch by batch, so it streams from the first batch. XLSX is a zip archive whose directory comes
last, and openpyxl writes it only when the workbook is saved: rows go to a write-only workbook (openpyxl keeps
each sheet in a temporary file, so memory stays flat), which is saved into a ``SpooledTemporaryFile`` and sent
from there in chunks.

Values arrive typed (``int``, cents as ``int`` in a money column, aware ``datetime``, ``date``, ``bool``, ``str``)
and leave in merchant time, money in yuan with two decimals (exact: no float is ever made). A text that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading ``'``, in both formats (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

Kind = Literal["text", "int", "money", "time", "date", "flag"]
BOM = "\ufeff"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CHUNK_BYTES = 64 * 1024
SPOOL_BYTES = 8 * 1024 * 1024  # an XLSX larger than this goes to disk before it is sent
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # refused by openpyxl (and by XML)
_WIDTHS = {"text": 16, "int": 10, "money": 12, "time": 20, "date": 12, "flag": 8}


@dataclass(frozen=True)
class Column:
    header: str  # the Chinese heading, the first row of the file
    kind: Kind = "text"
    width: int | None = None  # XLSX column width in characters (a default by kind)


def yuan(cents: int) -> Decimal:
    """``12345`` -> ``Decimal('123.45')``, exactly."""
    return Decimal(int(cents)).scaleb(-2)


def safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def local_time(value: datetime, tz: ZoneInfo) -> datetime:
    """An aware time as the merchant's wall clock, without a zone (spreadsheets hold no zones)."""
    return value.astimezone(tz).replace(tzinfo=None)


def text_cells(columns: list[Column], row: list[Any], tz: ZoneInfo) -> list[str]:
    """One row as the CSV's strings."""
    out = []
    for column, value in zip(columns, row, strict=True):
        if value is None or value == "":
            out.append("")
        elif column.kind == "money":
            out.append(str(yuan(value)))
        elif column.kind == "time":
            out.append(local_time(value, tz).strftime(TIME_FORMAT))
        elif column.kind == "date":
            out.append(value.isoformat())
        elif column.kind == "flag":
            out.append("是" if value else "否")
        elif isinstance(value, str):
            out.append(safe_text(value))
        else:
            out.append(str(value))
    return out


class CsvWriter:
    """UTF-8 with a BOM (Excel then reads the Chinese headings right), comma-separated, CRLF rows (RFC 4180)."""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, columns: list[Column], tz: ZoneInfo) -> None:
        self.columns, self.tz = columns, tz

    def header(self) -> bytes:
        return (BOM + self._lines([[column.header for column in self.columns]])).encode("utf-8")

    def rows(self, rows: list[list[Any]]) -> bytes:
        return self._lines([text_cells(self.columns, row, self.tz) for row in rows]).encode("utf-8")

    @staticmethod
    def _lines(rows: list[list[str]]) -> str:
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()


class XlsxWriter:
    """One sheet in a write-only workbook: typed cells (numbers, yuan as ``0.00``, times), the heading frozen."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def __init__(self, columns: list[Column], tz: ZoneInfo, title: str) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.columns, self.tz = columns, tz
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title=title[:31])
        self.sheet.freeze_panes = "A2"
        for index, column in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width or _WIDTHS[column.kind]
        self._bold = Font(bold=True)
        self.sheet.append([self._cell(column.header, font=self._bold) for column in columns])

    def _cell(self, value: Any, *, number_format: str | None = None, font: Any = None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.sheet, value=value)
        if number_format:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        return cell

    def _value(self, column: Column, value: Any) -> Any:
        if value is None or value == "":
            return None
        if column.kind == "money":
            return self._cell(yuan(value), number_format="0.00")
        if column.kind == "time":
            return self._cell(local_time(value, self.tz), number_format="yyyy-mm-dd hh:mm:ss")
        if column.kind == "date":
            return self._cell(value, number_format="yyyy-mm-dd")
        if column.kind == "flag":
            return "是" if value else "否"
        if isinstance(value, str):
            return safe_text(_ILLEGAL_XML.sub("", value))
        return value

    def rows(self, rows: list[list[Any]]) -> None:
        columns = self.columns
        for row in rows:
            self.sheet.append([self._value(column, value) for column, value in zip(columns, row, strict=True)])

    def save(self) -> IO[bytes]:
        """The finished file, positioned at its start (the caller closes it)."""
        out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            self.book.save(out)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out


def disposition(filename: str, ascii_fallback: str) -> str:
    """``attachment`` with the Chinese name as RFC 6266 / 5987 ``filename*`` and an ASCII one for old clients."""
    return f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"

