"""One import row's raw cells → clean values and problems, against the merchant's tiers, stores and fields.

The clean values are JSON (dates as ISO strings, money in cents) so they can be stored encrypted with the
row and read back by the run, possibly in another process after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from backend.imports import parse
from backend.imports.parse import Row, blank
from backend.loyalty.program import Program
from backend.members import custom_fields
from backend.members.models import CustomFieldDef
from backend.security.pii import normalize_phone

MAX_TEXT = {"name": 64, "email": 254, "legacy_no": 64, "source": 32}


@dataclass
class Rules:
    """What a row is checked against, loaded once per import."""

    tz: ZoneInfo
    now: datetime
    program: Program
    stores: dict[str, int]  # active store code → id
    fields: dict[str, CustomFieldDef]  # active custom fields by key

    def tier_code(self, text: str) -> str | None:
        for tier in self.program.tiers:
            if text in (tier.code, tier.name):
                return tier.code
        return None


def _end_of_day(day: Any, tz: ZoneInfo) -> datetime:
    """Points "valid until 2026-12-31" may be spent that whole merchant day: they go at the next midnight."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def _custom_value(definition: CustomFieldDef, value: Any) -> Any:
    if definition.type == "number" and isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError("应为数字") from None
        return int(number) if number == number.to_integral_value() else float(number)
    if definition.type == "date" and not isinstance(value, str):
        return parse.parse_date(value).isoformat()
    if definition.type == "date":
        return parse.parse_date(value).isoformat()
    if definition.type in ("text", "choice") and not isinstance(value, str):
        value = parse._text(value)
    return value


def check(row_no: int, raw: dict[str, Any], rules: Rules) -> Row:
    """Every problem of the row (not only the first), and its values where they are clean."""
    row = Row(row_no)
    values = row.values
    tz = rules.tz

    def field(column: str, convert: Any) -> Any:
        value = raw.get(column)
        if blank(value):
            return None
        try:
            return convert(value)
        except ValueError as exc:
            row.problem(column, str(exc))
            return None

    try:
        values["phone"] = normalize_phone(parse.phone_text(raw.get("phone")))
    except ValueError as exc:  # the scientific-notation case, with its own advice
        row.problem("phone", str(exc))
    except Exception:  # normalize_phone's 400 (a DomainError) names the rule
        row.problem("phone", "手机号格式不正确，应为 11 位中国大陆手机号" if not blank(raw.get("phone")) else "必填")

    def text(column: str) -> str | None:
        value = raw.get(column)
        if blank(value):
            return None
        out = parse._text(value)
        if len(out) > MAX_TEXT.get(column, 200):
            row.problem(column, f"最长 {MAX_TEXT.get(column, 200)} 个字符")
            return None
        return out

    if (name := text("name")) is not None:
        values["name"] = name
    if (gender := field("gender", parse.parse_gender)) is not None:
        values["gender"] = gender
    if (birthday := field("birthday", parse.parse_date)) is not None:
        if birthday > rules.now.astimezone(tz).date():
            row.problem("birthday", "生日不能晚于今天")
        elif birthday.year < 1900:
            row.problem("birthday", "生日不能早于 1900 年")
        else:
            values["birthday"] = birthday.isoformat()
    if (email := text("email")) is not None:
        if not parse._EMAIL.match(email):
            row.problem("email", "邮箱格式不正确")
        else:
            values["email"] = email.lower()
    if (legacy := text("legacy_no")) is not None:
        values["legacy_no"] = legacy
    if not blank(raw.get("tier")):
        code = rules.tier_code(parse._text(raw.get("tier")))
        if code is None:
            names = "、".join(f"{t.name}（{t.code}）" for t in rules.program.tiers)
            row.problem("tier", f"未知的会员等级，应为：{names}")
        else:
            values["tier"] = code
    points = field("points", parse.parse_points)
    if points:
        values["points"] = points
    expiry = field("points_expires_at", parse.parse_date)
    if expiry is not None:
        ends = _end_of_day(expiry, tz)
        if ends <= rules.now:
            row.problem("points_expires_at", "积分到期日已过")
        elif not points:
            row.problem("points_expires_at", "没有积分时不应填写积分到期日")
        else:
            values["points_expires_at"] = ends.isoformat()
    principal = field("stored_principal", parse.parse_cents)
    if principal:
        values["principal_cents"] = principal
    bonus = field("stored_bonus", parse.parse_cents)
    if bonus:
        values["bonus_cents"] = bonus
    registered = field("registered_at", lambda v: parse.parse_datetime(v, tz))
    if registered is not None:
        if registered > rules.now:
            row.problem("registered_at", "注册日期不能晚于今天")
        else:
            values["registered_at"] = registered.isoformat()
    if not blank(raw.get("store")):
        code = parse._text(raw.get("store"))
        if code not in rules.stores:
            row.problem("store", "未知的门店编码（应为系统中已有门店的编码）")
        else:
            values["store_id"] = rules.stores[code]
    if (tags := field("tags", parse.parse_tags)):
        values["tags"] = tags
    _consents(raw, rules, row)
    _custom(raw, rules, row)
    return row


def _consents(raw: dict[str, Any], rules: Rules, row: Row) -> None:
    default_source = parse._text(raw.get("consent_source")) or "import"
    default_at = None
    if not blank(raw.get("consent_at")):
        try:
            default_at = parse.parse_datetime(raw.get("consent_at"), rules.tz)
        except ValueError as exc:
            row.problem("consent_at", str(exc))
    consents = []
    for column in parse.CONSENT_COLUMNS:
        if blank(raw.get(column)):
            continue
        try:
            granted = parse.parse_flag(raw.get(column))
        except ValueError as exc:
            row.problem(column, str(exc))
            continue
        source = parse._text(raw.get(f"{column}_source")) or default_source
        if len(source) > MAX_TEXT["source"]:
            row.problem(f"{column}_source", "最长 32 个字符")
            continue
        at = default_at
        if not blank(raw.get(f"{column}_at")):
            try:
                at = parse.parse_datetime(raw.get(f"{column}_at"), rules.tz)
            except ValueError as exc:
                row.problem(f"{column}_at", str(exc))
                continue
        if at is not None and at > rules.now:
            row.problem(f"{column}_at", "授权时间不能晚于现在")
            continue
        _, channel, purpose = column.split("_")
        consents.append({"channel": channel, "purpose": purpose, "granted": granted, "source": source,
                         "at": at.isoformat() if at else None})
    if consents:
        row.values["consents"] = consents


def _custom(raw: dict[str, Any], rules: Rules, row: Row) -> None:
    values: dict[str, Any] = {}
    for column, value in raw.items():
        if not column.startswith("cf_") or blank(value):
            continue
        key = column[3:]
        definition = rules.fields.get(key)
        if definition is None:
            row.problem(column, "未定义的自定义字段（请先在系统中创建该字段）")
            continue
        try:
            coerced = custom_fields.coerce(definition, _custom_value(definition, value))
        except ValueError as exc:
            row.problem(column, str(exc))
            continue
        if coerced not in (None, ""):
            values[key] = coerced
    if values:
        row.values["custom"] = values
