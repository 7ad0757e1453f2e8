"""Admin-defined profile fields: any number, typed and validated on write, no migration per field."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tortoise.exceptions import IntegrityError

from backend import audit, clock
from backend.errors import NotFound, field_errors
from backend.members.errors import CustomFieldKeyTaken
from backend.members.models import CustomFieldDef

TYPES = ("text", "number", "date", "choice")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DEFAULT_TEXT_MAX = 200


def check_definition(*, key: str, label: str, type: str, choices: list[str] | None, max_length: int | None) -> None:
    problems: dict[str, str] = {}
    if not _KEY.match(key or ""):
        problems["key"] = "键为小写字母开头的字母、数字或下划线，最长 40 位"
    if not (label or "").strip():
        problems["label"] = "必填"
    if type not in TYPES:
        problems["type"] = f"类型应为 {' / '.join(TYPES)}"
    if type == "choice" and (not choices or len(set(choices)) != len(choices) or not all(choices)):
        problems["choices"] = "单选字段需要至少一个且不重复的选项"
    if type != "choice" and choices:
        problems["choices"] = "只有单选字段可以设置选项"
    if max_length is not None and not 1 <= max_length <= 2000:
        problems["max_length"] = "长度上限应在 1 到 2000 之间"
    if problems:
        raise field_errors(problems)


async def create_definition(*, key: str, label: str, type: str, required: bool = False,
                            choices: list[str] | None = None, max_length: int | None = None,
                            actor: audit.Actor) -> CustomFieldDef:
    """Define a new custom field."""
    check_definition(key=key, label=label, type=type, choices=choices, max_length=max_length)
    try:
        definition = await CustomFieldDef.create(key=key, label=label.strip(), type=type, required=required,
                                                 choices=choices, max_length=max_length, created_at=clock.now())
    except IntegrityError:
        raise CustomFieldKeyTaken(details={"key": key}) from None
    await audit.record(actor=actor, action="custom_field.create", target_type="custom_field",
                       target_id=definition.id, after={"key": key, "type": type, "required": required})
    return definition


async def update_definition(*, field_id: int, actor: audit.Actor, **changes: Any) -> CustomFieldDef:
    """Change label, required, choices, max length or active; the key and type never change."""
    definition = await CustomFieldDef.get_or_none(id=field_id)
    if definition is None:
        raise NotFound(details={"custom_field": field_id})
    before = {name: getattr(definition, name) for name in changes}
    merged = {"key": definition.key, "label": definition.label, "type": definition.type,
              "choices": definition.choices, "max_length": definition.max_length}
    merged.update({k: v for k, v in changes.items() if k in merged})
    check_definition(**merged)
    for name, value in changes.items():
        setattr(definition, name, value)
    await definition.save()
    await audit.record(actor=actor, action="custom_field.update", target_type="custom_field",
                       target_id=definition.id, before=before, after=changes)
    return definition


async def active_definitions() -> list[CustomFieldDef]:
    return await CustomFieldDef.filter(active=True).order_by("id")


def coerce(definition: CustomFieldDef, value: Any) -> Any:
    """``value`` as ``definition`` stores it; a ValueError names what is wrong (in Chinese)."""
    if value is None:
        return None
    if definition.type == "text":
        if not isinstance(value, str):
            raise ValueError("应为文本")
        limit = definition.max_length or DEFAULT_TEXT_MAX
        if len(value) > limit:
            raise ValueError(f"最长 {limit} 个字符")
        return value.strip()
    if definition.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("应为数字")
        return value
    if definition.type == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise ValueError("日期格式应为 YYYY-MM-DD") from None
    if value not in (definition.choices or []):
        raise ValueError(f"应为以下之一：{'、'.join(definition.choices or [])}")
    return value


async def validate_values(values: dict[str, Any], *, existing: dict[str, Any] | None = None,
                          enforce_required: bool) -> dict[str, Any]:
    """Merge ``values`` into ``existing`` after checking each against its definition."""
    definitions = {d.key: d for d in await active_definitions()}
    problems: dict[str, str] = {}
    merged = dict(existing or {})
    for key, value in (values or {}).items():
        definition = definitions.get(key)
        if definition is None:
            problems[f"custom_fields.{key}"] = "未定义的自定义字段"
            continue
        try:
            coerced = coerce(definition, value)
        except ValueError as exc:
            problems[f"custom_fields.{key}"] = str(exc)
            continue
        if coerced in (None, "") and definition.required:
            problems[f"custom_fields.{key}"] = "必填"
        elif coerced in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = coerced
    if enforce_required:
        for key, definition in definitions.items():
            if definition.required and merged.get(key) in (None, "") and f"custom_fields.{key}" not in problems:
                problems[f"custom_fields.{key}"] = "必填"
    if problems:
        raise field_errors(problems)
    return merged
