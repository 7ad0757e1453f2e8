"""``@endpoint``: each route's contract — body, query, path, answers and error codes — as typed models.

The served OpenAPI document (``backend.http.contract``) is generated from what ``@endpoint`` records, and
the handlers validate with the same models (``parse_body`` and ``parse_query`` refuse a model the route
did not declare), so the document cannot drift from the code. Every route names the error codes it can
answer; the document lists them per operation (``x-error-codes``) and the catalogue as ``ErrorCode``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from backend.errors import CATALOGUE

# Codes any operation can answer: a bad input, a dependency outage, a request over the size limit.
COMMON = ("VALIDATION_FAILED", "DEPENDENCY_UNAVAILABLE", "INTERNAL_ERROR")
# Non-JSON answers: a media type instead of a model, or a tuple of them when the caller picks one (an export
# as CSV or XLSX); the document lists each under the status.
HTML, TEXT, CSV = "text/html", "text/plain", "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Answer = type[BaseModel] | str | tuple[str, ...] | None


@dataclass
class Operation:
    """What one route accepts and answers; read by the document builder and the contract check."""

    summary: str
    tag: str
    description: str | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, Answer]
    errors: list[str]
    idempotent: bool
    operation_id: str | None
    security: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    upload: tuple[str, ...] = ()  # media types of a raw request body (a file), read by a streaming handler


def _camel(name: str) -> str:
    head, *rest = name.strip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def endpoint(*, summary: str, tag: str, body: type[BaseModel] | None = None,
             query: type[BaseModel] | None = None, response: Answer = None, status: int = 200,
             responses: Mapping[int, Answer] | None = None, errors: Iterable[str] = (),
             description: str | None = None, idempotent: bool = False, operation_id: str | None = None,
             headers: Mapping[str, str] | None = None,
             links: Mapping[str, Mapping[str, str]] | None = None,
             upload: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Declare a route's contract. ``response`` answers with ``status``; ``responses`` when there are several
    success statuses (``{200: Joined, 201: Created}``); ``None`` as an answer means no body (204); a media
    type (``CSV``) or a tuple of them (``(CSV, XLSX)``) answers a file.
    ``links`` name the operations the success answer feeds, with their path parameters taken from the
    answer: ``{"getCouponTemplate": {"template_id": "$response.body#/id"}}`` (OpenAPI links). ``upload``
    names the media types of a raw file body (the route streams it: ``@bp.post(..., stream=True)``)."""
    codes = sorted({*COMMON, *errors})
    unknown = [code for code in codes if code not in CATALOGUE]
    if unknown:
        raise RuntimeError(f"undeclared error codes on {summary!r}: {unknown}")
    answers: dict[int, Answer] = dict(responses) if responses else {status: response}
    if operation_id is not None and not re.fullmatch(r"[a-z][A-Za-z0-9]+", operation_id):
        raise RuntimeError(f"operation id {operation_id!r} should be lowerCamelCase")

    def decorate(handler: Any) -> Any:
        text = description or ""
        if idempotent:
            text += "\n\nAccepts an `Idempotency-Key` header (same key and body: the first response again)."
        security = list(getattr(handler, "__security__", ()))
        handler.__operation__ = Operation(
            summary=summary, tag=tag, description=text.strip() or None, body=body, query=query,
            responses=answers, errors=codes, idempotent=idempotent,
            operation_id=operation_id or _camel(handler.__name__), security=security,
            headers=dict(headers or {}), links={k: dict(v) for k, v in (links or {}).items()},
            upload=tuple(upload))
        return handler

    return decorate


def secured(scheme: str) -> Callable[[Any], Any]:
    """Mark a handler as needing ``scheme`` (one of the document's security schemes)."""

    def mark(handler: Any) -> Any:
        handler.__security__ = (*getattr(handler, "__security__", ()), scheme)
        return handler

    return mark


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, "__operation__", None)


class Out(BaseModel):
    """Base of every response model: the contract check refuses fields the model does not name."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Out):
    code: str
    message: str
    details: dict[str, Any]


class Error(Out):
    """The one error shape: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


def error_catalogue_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "enum": sorted(CATALOGUE),
        "description": "Stable error codes. " + "; ".join(
            f"`{code}` ({status}): {message}" for code, (status, message) in sorted(CATALOGUE.items())),
    }
