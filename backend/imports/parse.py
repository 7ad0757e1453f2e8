"""Reading an import file (CSV in UTF-8 or GBK, XLSX, JSON Lines) into rows, and each row into clean values.

The file's header names the columns, in English or in Chinese (``COLUMNS``); unknown columns are an
error of the whole file (a typo would otherwise drop data silently). Each row becomes ``Row``: its
number as a spreadsheet shows it (the header is row 1), the normalised values and its problems, one
per column with a reason in Chinese and never the value itself.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from backend.members.models import CONSENT_CHANNELS, CONSENT_PURPOSES

FORMATS = ("csv", "xlsx", "jsonl")
MAX_ROWS = 2_000_000

# Column key → the names a header may use for it (lower-cased English, or Chinese).
COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "手机号", "手机", "手机号码"),
    "name": ("name", "nickname", "姓名", "昵称"),
    "gender": ("gender", "性别"),
    "birthday": ("birthday", "生日", "出生日期"),
    "email": ("email", "邮箱", "电子邮箱"),
    "legacy_no": ("legacy_no", "member_no", "原会员号", "会员卡号", "卡号"),
    "tier": ("tier", "等级", "会员等级"),
    "points": ("points", "积分"),
    "points_expires_at": ("points_expires_at", "积分到期日", "积分有效期"),
    "stored_principal": ("stored_principal", "储值本金", "储值余额"),
    "stored_bonus": ("stored_bonus", "储值赠送", "赠送余额"),
    "registered_at": ("registered_at", "注册日期", "注册时间", "入会日期"),
    "store": ("store", "store_code", "注册门店", "门店编码", "门店"),
    "tags": ("tags", "标签"),
    "consent_source": ("consent_source", "授权来源"),
    "consent_at": ("consent_at", "授权时间"),
}
CONSENT_COLUMNS = [f"consent_{c}_{p}" for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES]
_CONSENT_NAMES = {"sms": "短信", "email": "邮件", "wechat": "微信"}
_PURPOSE_NAMES = {"marketing": "营销", "service": "服务"}
for _key in CONSENT_COLUMNS:
    _, _channel, _purpose = _key.split("_")
    _label = f"{_CONSENT_NAMES[_channel]}{_PURPOSE_NAMES[_purpose]}授权"
    COLUMNS[_key] = (_key, _label)
    COLUMNS[f"{_key}_source"] = (f"{_key}_source", f"{_label}来源")
    COLUMNS[f"{_key}_at"] = (f"{_key}_at", f"{_label}时间")
_ALIASES = {alias: key for key, aliases in COLUMNS.items() for alias in aliases}
CUSTOM_PREFIXES = ("cf_", "custom.", "自定义:")

_YES = {"1", "true", "yes", "y", "是", "同意", "已授权", "granted"}
_NO = {"0", "false", "no", "n", "否", "不同意", "未授权", "withdrawn"}
_GENDERS = {"男": "male", "m": "male", "male": "male", "女": "female", "f": "female", "female": "female",
            "未知": "unknown", "保密": "unknown", "unknown": "unknown"}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SCIENTIFIC = re.compile(r"^(\d)\.(\d+)[eE]\+?(\d+)$")
_EXCEL_EPOCH = date(1899, 12, 30)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_SPLIT = re.compile(r"[,，、;；|]")


class FileProblem(ValueError):
    """The file as a whole cannot be read (encoding, format, header): nothing of it is imported."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass
class Row:
    row_no: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def problem(self, column: str, reason: str) -> None:
        self.errors.append({"column": column, "reason": reason})


@dataclass
class Table:
    format: str
    encoding: str | None
    columns: list[str]  # the keys, in the file's order
    rows: Iterator[tuple[int, dict[str, Any]]]  # (row number, raw values by key)


def detect_format(filename: str, content: bytes) -> str:
    lowered = filename.lower()
    if lowered.endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        return "xlsx"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "csv"


def decode_text(content: bytes) -> tuple[str, str]:
    """UTF-8 (with or without the BOM Excel writes), else GB18030, the superset of the GBK Excel saves in China."""
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise FileProblem("文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV") from None


def column_key(header: str) -> str | None:
    name = (header or "").strip().lstrip("\ufeff")
    key = _ALIASES.get(name.lower()) or _ALIASES.get(name)
    if key:
        return key
    for prefix in CUSTOM_PREFIXES:
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            return "cf_" + name[len(prefix):].strip()
    return None


def _keys(headers: list[Any]) -> list[str]:
    keys, unknown, seen = [], [], set()
    for header in headers:
        text = "" if header is None else str(header).strip()
        if not text:
            keys.append("")
            continue
        key = column_key(text)
        if key is None:
            unknown.append(text)
        elif key in seen:
            raise FileProblem(f"列「{text}」重复", column=text)
        else:
            seen.add(key)
        keys.append(key or "")
    if unknown:
        raise FileProblem(f"无法识别的列：{'、'.join(unknown[:10])}", columns=unknown[:50])
    if "phone" not in seen:
        raise FileProblem("缺少手机号列（phone / 手机号）")
    return keys


def read_table(filename: str, content: bytes) -> Table:
    fmt = detect_format(filename, content)
    if fmt == "xlsx":
        return _read_xlsx(content)
    if fmt == "jsonl":
        return _read_jsonl(content)
    return _read_csv(content)


def _read_csv(content: bytes) -> Table:
    text, encoding = decode_text(content)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise FileProblem("文件是空的") from None
    keys = _keys(headers)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            yield number, {key: cells[i] if i < len(cells) else None for i, key in enumerate(keys) if key}

    return Table("csv", encoding, [k for k in keys if k], rows())


def _read_xlsx(content: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # a damaged or password-protected workbook
        raise FileProblem("无法打开 Excel 文件：请另存为 .xlsx 后重试", error=type(exc).__name__) from None
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        headers = list(next(values))
    except StopIteration:
        raise FileProblem("工作表是空的") from None
    keys = _keys(headers)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, cells in enumerate(values, start=2):
            if not any(cell not in (None, "") for cell in cells):
                continue
            yield number, {key: cells[i] if i < len(cells) else None for i, key in enumerate(keys) if key}
        book.close()

    return Table("xlsx", None, [k for k in keys if k], rows())


def _read_jsonl(content: bytes) -> Table:
    text, _ = decode_text(content)
    lines = text.splitlines()
    keys: list[str] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise FileProblem(f"第 {number} 行不是合法的 JSON", row=number) from None
        if not isinstance(obj, dict):
            raise FileProblem(f"第 {number} 行应为 JSON 对象", row=number)
        mapped: dict[str, Any] = {}
        for name, value in obj.items():
            if name in ("consents", "custom_fields") and isinstance(value, dict):
                prefix = "consent_" if name == "consents" else "cf_"
                for inner, inner_value in value.items():
                    mapped[prefix + str(inner)] = inner_value
                continue
            key = column_key(str(name))
            if key is None:
                raise FileProblem(f"第 {number} 行有无法识别的字段：{name}", row=number, column=name)
            mapped[key] = value
        for key in mapped:
            if key not in keys:
                keys.append(key)
        parsed.append((number, mapped))
    if "phone" not in keys:
        raise FileProblem("缺少手机号字段（phone）")
    return Table("jsonl", None, keys, iter(parsed))


# --- values ---

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def phone_text(value: Any) -> str:
    """The phone as digits; a number Excel shows as ``1.38E+10`` has lost digits and is refused."""
    if isinstance(value, bool):
        raise ValueError("手机号格式不正确")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("手机号格式不正确")
        return str(int(value))
    text = _text(value).replace(" ", "").replace("-", "")
    match = _SCIENTIFIC.match(text)
    if match:
        whole, fraction, exponent = match.group(1), match.group(2), int(match.group(3))
        if len(fraction) > exponent or len(whole) + exponent != 11 or len(fraction) != exponent:
            raise ValueError("手机号被 Excel 显示为科学计数法，已丢失位数：请把该列设为文本后重新导出")
        return whole + fraction
    if text.endswith(".0") and text[:-2].isdigit():
        return text[:-2]
    return text


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if isinstance(value, int | float) or (text.isdigit() and 4 <= len(text) <= 5):
        serial = int(float(text))
        if 1 <= serial <= 80000:  # an Excel serial day number (1900 date system)
            return _EXCEL_EPOCH + timedelta(days=serial)
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not match:
        raise ValueError("日期格式应为 YYYY-MM-DD（也可 2024/3/5、2024年3月5日）")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError("日期不存在") from None


def parse_datetime(value: Any, tz: ZoneInfo) -> datetime:
    """A date (midnight) or a date and time, in the merchant's time zone unless it says otherwise."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    text = _text(value)
    if "T" in text and ("+" in text[10:] or text.endswith("Z")):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    match = _DATE.match(text)
    if match and match.group(4):
        try:
            moment = datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)), int(match.group(4)),
                              int(match.group(5)), int(match.group(6) or 0), tzinfo=tz)
        except ValueError:
            raise ValueError("时间不存在") from None
        return moment.astimezone(UTC)
    return datetime.combine(parse_date(value), time(0), tzinfo=tz).astimezone(UTC)


def parse_cents(value: Any) -> int:
    """Yuan with at most two decimals (``1,234.50``, ``¥100``) → cents; never negative."""
    if isinstance(value, bool):
        raise ValueError("应为金额（元）")
    text = _text(value).replace(",", "").replace("，", "").lstrip("¥￥").removesuffix("元").strip()
    try:
        amount = Decimal(text) if not isinstance(value, float) else Decimal(repr(value))
    except InvalidOperation:
        raise ValueError("应为金额（元），最多两位小数") from None
    if not amount.is_finite():
        raise ValueError("应为金额（元），最多两位小数")
    if amount < 0:
        raise ValueError("金额不能为负数")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError("金额最多两位小数（分）")
    if cents > 10**12:
        raise ValueError("金额过大")
    return int(cents)


def parse_points(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("积分应为整数")
    text = _text(value).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("积分应为整数") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError("积分应为整数")
    if number < 0:
        raise ValueError("积分不能为负数")
    if number > 10**12:
        raise ValueError("积分过大")
    return int(number)


def parse_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError("应为 是 / 否（或 1 / 0、true / false）")


def parse_gender(value: Any) -> str:
    gender = _GENDERS.get(_text(value).lower())
    if gender is None:
        raise ValueError("性别应为 男 / 女 / 未知")
    return gender


def parse_tags(value: Any) -> list[str]:
    names = [part.strip() for part in _TAG_SPLIT.split(_text(value)) if part.strip()]
    for name in names:
        if len(name) > 64 or ":" in name:
            raise ValueError("标签最长 64 个字符，且不能包含冒号")
    return list(dict.fromkeys(names))


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
