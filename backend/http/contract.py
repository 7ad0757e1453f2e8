"""The served contract: path parameter types, the OpenAPI 3.1 document, and the response check.

The document is built from the routes and what each declared with ``@endpoint``; schemas come from
pydantic (JSON Schema 2020-12, OpenAPI 3.1's dialect) as shared components. With ``CONTRACT_CHECK`` on
(tests and development), every answer is checked against its route's declaration: an undeclared status,
an undeclared error code or a body its model refuses becomes a 500 that names the mismatch.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from backend.errors import CATALOGUE, InternalError
from backend.http.docs import Error, Operation, error_catalogue_schema, operation_of

log = logging.getLogger("backend.contract")

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Path segments: a value outside its pattern or range matches no route, so it is a 404, never a 500.
PATH_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "id": (r"^[0-9]{1,19}$", {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}),
    "id32": (r"^[0-9]{1,10}$", {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX}),
    "order_no": (r"^[A-Za-z0-9_\-.]{1,64}$", {"type": "string", "pattern": r"^[A-Za-z0-9_\-.]{1,64}$"}),
    "key": (r"^[a-z][a-z0-9_]{1,39}$", {"type": "string", "pattern": r"^[a-z][a-z0-9_]{1,39}$"}),
    "token": (r"^[A-Za-z0-9_\-.=]{1,200}$", {"type": "string", "pattern": r"^[A-Za-z0-9_\-.=]{1,200}$"}),
}
_MAXIMA = {"id": INT64_MAX, "id32": INT32_MAX}
_PARAM = re.compile(r"<([a-z_]+)(?::([a-z0-9_]+))?>")
_NAMED_STATUS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 404: "Not found"}


def _cast(label: str) -> Any:
    maximum = _MAXIMA.get(label)
    # The router matches a typed segment by its cast alone (it does not apply the pattern), so the cast
    # checks the pattern: an order_no with "%" or 5,000 characters matches no route.
    pattern = re.compile(PATH_TYPES[label][0])

    def cast(value: str) -> Any:
        if not pattern.fullmatch(value):
            raise ValueError(value)
        if maximum is None:
            return value
        number = int(value)
        if not 1 <= number <= maximum:
            raise ValueError(value)
        return number

    cast.__name__ = f"cast_{label}"
    return cast


def install_path_types(app: Sanic) -> None:
    for label, (pattern, _schema) in PATH_TYPES.items():
        app.router.register_pattern(label, _cast(label), pattern)


class _Schemas(GenerateJsonSchema):
    """Integers say how wide they are: int32 when the bounds fit, int64 otherwise (amounts reach 10^10)."""

    def int_schema(self, schema: Any) -> dict[str, Any]:
        out = super().int_schema(schema)
        low = out.get("minimum", out.get("exclusiveMinimum", -INT64_MAX))
        high = out.get("maximum", out.get("exclusiveMaximum", INT64_MAX))
        out["format"] = "int32" if -(2**31) <= low and high <= INT32_MAX else "int64"
        return out


def _routes(app: Sanic) -> list[tuple[str, str, Any, Operation]]:
    found = []
    for route in app.router.routes:
        op = operation_of(route.handler)
        if op is None:
            continue
        for method in sorted(route.methods):
            if method in ("HEAD", "OPTIONS"):
                continue
            found.append(("/" + route.path.lstrip("/"), method.lower(), route, op))
    return sorted(found, key=lambda item: (item[0], item[1]))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: drop the ``null`` branch pydantic gives optional fields."""
    branches = schema.get("anyOf")
    if branches:
        rest = [branch for branch in branches if branch.get("type") != "null"]
        if len(rest) == 1:
            merged = {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
            if merged.get("default", 0) is None:
                del merged["default"]  # a null default says nothing a query string can send
            return merged
    return schema


def _error_response(codes: list[str]) -> dict[str, Any]:
    return {"description": " / ".join(codes),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _answer(answer: Any, ref: dict[str, Any] | None, status: int) -> dict[str, Any]:
    description = _NAMED_STATUS.get(status, "OK")
    if answer is None:
        return {"description": description}
    if isinstance(answer, str | tuple):
        return {"description": description, "content": {media: {"schema": _file_schema(media)}
                                                         for media in _media_types(answer)}}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _media_types(answer: str | tuple[str, ...]) -> tuple[str, ...]:
    return (answer,) if isinstance(answer, str) else answer


def _file_schema(media: str) -> dict[str, Any]:
    """Text answers are strings; anything else (an XLSX file) is bytes."""
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


def error_codes(op: Operation, *, has_path_params: bool) -> list[str]:
    codes = set(op.errors)
    if has_path_params:
        codes.add("NOT_FOUND")
    if op.body is not None or op.upload:
        codes.add("PAYLOAD_TOO_LARGE")
    if op.security:
        codes.add("UNAUTHENTICATED")
    return sorted(codes)


def build_document(app: Sanic, *, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route declared with ``@endpoint``."""
    routes = _routes(app)
    models: list[tuple[type[BaseModel], str]] = [(Error, "serialization")]
    for _path, _method, _route, op in routes:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.query is not None:
            models.append((op.query, "validation"))
        models.extend((answer, "serialization") for answer in op.responses.values()
                      if isinstance(answer, type))
    unique = list(dict.fromkeys(models))
    refs, defs = models_json_schema(unique, ref_template="#/components/schemas/{model}",
                                    schema_generator=_Schemas)
    components = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    seen_ids: dict[str, str] = {}
    query_models: set[str] = set()
    for path, method, _route, op in routes:
        params: list[dict[str, Any]] = []
        doc_path = path
        for name, label in _PARAM.findall(path):
            schema = dict(PATH_TYPES[label][1]) if label in PATH_TYPES else {"type": "string"}
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
            doc_path = doc_path.replace(f"<{name}:{label}>" if label else f"<{name}>", "{" + name + "}")
        if op.query is not None:
            query_ref = refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1]
            query_models.add(query_ref)
            query_schema = components[query_ref]
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                entry = {"name": name, "in": "query", "required": name in required,
                         "schema": _without_null(prop)}
                if prop.get("description"):
                    entry["description"] = prop["description"]
                params.append(entry)
        if op.idempotent:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": "Retries with the same key and body answer the first response.",
                           "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                                      "pattern": r"^[\x21-\x7e]+$"}})
        for name, text in op.headers.items():
            params.append({"name": name, "in": "header", "required": False, "description": text,
                           "schema": {"type": "string", "maxLength": 256}})
        operation_id = op.operation_id or f"{method}{path}"
        if operation_id in seen_ids:
            raise RuntimeError(f"operation id {operation_id} used by {seen_ids[operation_id]} and {path}")
        seen_ids[operation_id] = path
        responses: dict[str, Any] = {}
        for status, answer in sorted(op.responses.items()):
            ref = refs.get((answer, "serialization")) if isinstance(answer, type) else None
            responses[str(status)] = _answer(answer, ref, status)
            if op.links and status < 300:
                responses[str(status)]["links"] = {
                    target: {"operationId": target, "parameters": parameters}
                    for target, parameters in sorted(op.links.items())}
        codes_here = error_codes(op, has_path_params=bool(_PARAM.search(path)))
        by_status: dict[int, list[str]] = {}
        for code in codes_here:
            by_status.setdefault(CATALOGUE[code][0], []).append(code)
        for status, codes in sorted(by_status.items()):
            if str(status) in responses:  # declared as an answer of its own (an HTML page for a bad link)
                continue
            responses[str(status)] = _error_response(codes)
        entry: dict[str, Any] = {"operationId": operation_id, "summary": op.summary, "tags": [op.tag],
                                 "responses": responses, "x-error-codes": codes_here}
        if op.description:
            entry["description"] = op.description
        if params:
            entry["parameters"] = params
        if op.body is not None:
            body_ref = refs[(op.body, "validation")]
            body_schema = components[body_ref["$ref"].rsplit("/", 1)[-1]]
            # An empty body is read as {}: optional only for an object whose fields are all optional.
            optional = body_schema.get("type") == "object" and not body_schema.get("required")
            entry["requestBody"] = {"required": not optional,
                                    "content": {"application/json": {"schema": body_ref}}}
        if op.upload:
            entry["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in op.upload}}
        if op.security:
            entry["security"] = [{scheme: []} for scheme in op.security]
        paths.setdefault(doc_path, {})[method] = entry
    for path_item in paths.values():
        for entry in path_item.values():
            for answer in entry["responses"].values():
                missing = set(answer.get("links", {})) - set(seen_ids)
                if missing:
                    raise RuntimeError(f"{entry['operationId']} links to unknown operations {sorted(missing)}")
    for name in query_models:
        # Query models are spread into parameters; keep them only if a body or answer refers to them.
        if not any(f'"#/components/schemas/{name}"' in repr(value) for key, value in components.items()
                   if key != name):
            components.pop(name, None)
    components["ErrorCode"] = error_catalogue_schema()
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "member_token": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": "A shopper's token from POST /api/v1/mp/session"},
                "staff_token": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                "description": "A staff token from POST /api/v1/staff/session"},
                "app_signature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                                  "description": "HMAC-SHA256 with X-App-Key, X-Timestamp and X-Nonce; "
                                                 "see the README's Integrations section"},
            },
        },
        "tags": [{"name": tag} for tag in sorted({op.tag for *_rest, op in routes})],
    }


def check_response(request: Request, response: HTTPResponse) -> HTTPResponse:
    """The answer agrees with its route's declaration, or a 500 naming the mismatch (tests, development)."""
    route = request.route
    op = operation_of(route.handler) if route else None
    if op is None:
        return response
    status = response.status
    problem = None
    if status < 400 or status in op.responses:
        if status not in op.responses:
            problem = f"status {status} is not declared (declared: {sorted(op.responses)})"
        else:
            answer = op.responses[status]
            if isinstance(answer, type):
                try:
                    answer.model_validate_json(response.body or b"", strict=False)
                except ValidationError as exc:
                    problem = f"body does not match {answer.__name__}: {exc.errors(include_url=False)[:5]}"
            elif isinstance(answer, str | tuple) and not any(
                    (response.content_type or "").startswith(media) for media in _media_types(answer)):
                problem = f"content type {response.content_type} is not {' or '.join(_media_types(answer))}"
    else:
        try:
            code = Error.model_validate_json(response.body or b"").error.code
        except ValidationError:
            code = None
        declared = error_codes(op, has_path_params=bool(_PARAM.search(route.path)))
        if code is None:
            problem = f"error answer {status} is not in the error shape"
        elif code not in declared:
            problem = f"error code {code} is not declared (declared: {declared})"
        elif CATALOGUE.get(code, (status,))[0] != status:
            problem = f"error code {code} answered with {status}"
    if problem is None:
        return response
    log.error("contract mismatch on %s %s: %s", request.method, request.path, problem)
    from backend.http.errors import render

    return render(InternalError("响应与接口约定不符", details={"contract": problem, "route": route.path}))
