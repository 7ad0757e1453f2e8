"""Request bodies and queries parsed into pydantic models; failures name each field (zh-CN).

Bodies are parsed strictly (no ``true`` or ``"100"`` for an amount); no string may hold a NUL or a lone
surrogate (PostgreSQL refuses them, SQLite would store them); integers fit in 64 bits. A handler may
only parse the body and query models its route declared with ``@endpoint``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sanic import Request

from backend import clock
from backend.errors import ValidationFailed
from backend.http.docs import operation_of

M = TypeVar("M", bound=BaseModel)

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# The earliest business time accepted (orders, events from other systems), and how far ahead of this
# server's clock another system's clock may run.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(minutes=5)

Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
Id32 = Annotated[int, Field(ge=1, le=INT32_MAX)]


def _business_time(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError("时间过早（应不早于 2000-01-01）")
    if value > clock.now() + FUTURE_SKEW:
        raise ValueError("时间不能晚于当前时间")
    return value


# When something happened (an order placed, an event): aware, not before 2000, not in the future.
PastTime = Annotated[AwareDatetime, AfterValidator(_business_time)]

_REASONS = {
    "missing": "必填",
    "extra_forbidden": "不支持的字段",
    "string_too_short": "长度不足",
    "string_too_long": "长度超出限制",
    "string_type": "应为字符串",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "too_long": "项目过多",
    "string_pattern_mismatch": "格式不正确",
    "value_error": "取值不正确",
    "json_invalid": "不是有效的 JSON",
    "timezone_aware": "时间应带时区（如 +08:00）",
    "datetime_parsing": "时间格式应为 ISO 8601（如 2026-03-02T10:00:00+08:00）",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601（如 2026-03-02T10:00:00+08:00）",
    "datetime_type": "时间格式应为 ISO 8601（如 2026-03-02T10:00:00+08:00）",
    "float_type": "应为数字",
    "string_sub_type": "应为字符串",
    "dict_attributes_type": "应为对象",
    "too_short": "项目过少",
}


class Body(BaseModel):
    """Base of every request body: unknown fields are an error, not silently ignored."""

    # Strings are taken as sent: stripping them before the length and pattern checks would accept what the
    # document's maxLength and pattern refuse.
    model_config = ConfigDict(extra="forbid")


def _fields(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "body"
        reason = _REASONS.get(err["type"])
        if err["type"] == "value_error":
            reason = str(err.get("ctx", {}).get("error") or err["msg"])
        out.setdefault(name, reason or err["msg"])
    return out


def _bad_values(value: Any, path: str, out: dict[str, str]) -> None:
    """Integers beyond 64 bits and strings PostgreSQL cannot store, wherever they are in ``value``."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            out.setdefault(path or "body", "数值超出范围")
    elif isinstance(value, str):
        if "\x00" in value or _has_surrogate(value):
            out.setdefault(path or "body", "包含不允许的字符")
    elif isinstance(value, dict):
        for key, item in value.items():
            _bad_values(key, path or "body", out)
            _bad_values(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            _bad_values(item, f"{path}.{index}" if path else str(index), out)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _bad_values(getattr(value, name), f"{path}.{name}" if path else name, out)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_values(value: Any) -> None:
    problems: dict[str, str] = {}
    _bad_values(value, "", problems)
    if problems:
        raise ValidationFailed(details={"fields": problems})


def parse(model: type[M], data: Any) -> M:
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details={"fields": _fields(exc)}) from None
    check_values(parsed)
    return parsed


def _declared(request: Request, model: type[BaseModel], kind: str) -> None:
    route = request.route
    op = operation_of(route.handler) if route else None
    if op is not None and getattr(op, kind) is not model:
        raise RuntimeError(f"{route.path} parses {model.__name__} but declares {getattr(op, kind)}")


def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``, strictly: a JSON number for a number, a JSON boolean for a flag."""
    _declared(request, model, "body")
    raw = request.body or b"{}"
    try:
        parsed = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            raise ValidationFailed("请求体不是有效的 JSON") from None
        if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
            raise ValidationFailed("请求体应为 JSON 对象") from None
        raise ValidationFailed(details={"fields": _fields(exc)}) from None
    check_values(parsed)
    return parsed


def parse_query(request: Request, model: type[M]) -> M:
    """The query string as ``model``: strings converted to the declared types, a blank value is a value
    (``?status=`` is not "no filter"), and a name the route does not take is an error, not ignored."""
    _declared(request, model, "query")
    args = request.get_args(keep_blank_values=True)
    names = {field.alias or name for name, field in model.model_fields.items()}  # ``from`` is ``from_``'s alias
    unknown = sorted(set(args) - names)
    if unknown:
        raise ValidationFailed(details={"fields": {name[:40]: "不支持的参数" for name in unknown[:10]}})
    return parse(model, {key: args.get(key) for key in args})
