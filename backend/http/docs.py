"""``@endpoint``: one decorator for the OpenAPI entry of a route (summary, tag, body, errors).

Every route names the error codes it can answer; the served document lists them on the operation
(``x-error-codes``) and the full catalogue as the ``ErrorCode`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import OperationStore

from backend.errors import CATALOGUE

COMMON = ("VALIDATION_FAILED", "DEPENDENCY_UNAVAILABLE", "INTERNAL_ERROR")


def endpoint(*, summary: str, tag: str, body: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, errors: Iterable[str] = (),
             description: str | None = None, idempotent: bool = False) -> Callable[[Any], Any]:
    codes = sorted({*COMMON, *errors})
    unknown = [code for code in codes if code not in CATALOGUE]
    if unknown:
        raise RuntimeError(f"undeclared error codes on {summary!r}: {unknown}")

    def decorate(handler: Any) -> Any:
        text = description or ""
        if idempotent:
            text += "\n\nAccepts an `Idempotency-Key` header (same key and body: the first response again)."
        handler = openapi.definition(summary=summary, tag=tag, description=text.strip() or None,
                                     body={"application/json": body} if body else None)(handler)
        if response is not None:
            handler = openapi.response(200, {"application/json": response}, "OK")(handler)
        statuses: dict[int, list[str]] = {}
        for code in codes:
            statuses.setdefault(CATALOGUE[code][0], []).append(code)
        for status, names in sorted(statuses.items()):
            handler = openapi.response(status, {"application/json": ErrorBody}, " / ".join(names))(handler)
        if idempotent:
            handler = openapi.parameter("Idempotency-Key", str, "header")(handler)
        setattr(OperationStore()[handler], "x-error-codes", codes)
        return handler

    return decorate


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_catalogue_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "enum": sorted(CATALOGUE),
        "description": "Stable error codes. " + "; ".join(
            f"`{code}` ({status}): {message}" for code, (status, message) in sorted(CATALOGUE.items())),
    }
