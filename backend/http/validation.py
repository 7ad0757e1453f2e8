"""Request bodies and queries parsed into pydantic models; failures name each field (zh-CN)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sanic import Request

from backend.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

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
}


class Body(BaseModel):
    """Base of every request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _fields(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "body"
        reason = _REASONS.get(err["type"])
        if err["type"] == "value_error":
            reason = str(err.get("ctx", {}).get("error") or err["msg"])
        out.setdefault(name, reason or err["msg"])
    return out


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details={"fields": _fields(exc)}) from None


def parse_body(request: Request, model: type[M]) -> M:
    if not request.body:
        data: Any = {}
    else:
        try:
            data = request.json
        except Exception:
            raise ValidationFailed("请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象")
    return parse(model, data)


def parse_query(request: Request, model: type[M]) -> M:
    return parse(model, {key: request.args.get(key) for key in request.args})
