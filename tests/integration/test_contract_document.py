"""The served document: valid OpenAPI 3.1, complete for every operation, and a client can be generated from it."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.factories import member_token

SUCCESS_WITHOUT_BODY = {"204"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def _refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            found.add(value["$ref"])
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def _integers(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        if value.get("type") == "integer":
            found.append(value)
        for item in value.values():
            found += _integers(item)
    elif isinstance(value, list):
        for item in value:
            found += _integers(item)
    return found


@pytest.mark.sqlite_only
async def test_the_document_is_valid_openapi_3_1_and_complete(stack):
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    # Valid against the version it declares
    assert document["openapi"] == "3.1.0"
    validate(document)
    # No dangling references, no phantom properties
    schemas = document["components"]["schemas"]
    assert {ref for ref in _refs(document) if ref.rsplit("/", 1)[-1] not in schemas} == set()
    assert "model_config" not in json.dumps(document)
    # Every integer says how wide it is; amounts and ids are int64
    assert all(schema.get("format") in ("int32", "int64") for schema in _integers(document))
    operations = _operations(document)
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][A-Za-z0-9]+", i) for i in ids)
    for method, path, op in operations:
        success = {status: answer for status, answer in op["responses"].items() if status.startswith("2")}
        # Every operation documents its success answers, with a schema unless it has no body
        assert success, (method, path)
        for status, answer in success.items():
            assert status in SUCCESS_WITHOUT_BODY or answer.get("content"), (method, path, status)
        # and every error it can answer, in the one shared error shape (an HTML page answers its errors as HTML)
        page = all("text/html" in answer.get("content", {}) for answer in success.values())
        for status, answer in op["responses"].items():
            if not status.startswith("2") and not (page and "text/html" in answer.get("content", {})):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert op["x-error-codes"] and set(op["x-error-codes"]) <= set(schemas["ErrorCode"]["enum"])
        # and a body for every write that takes one: a typed JSON model, or a file (the import upload)
        if method in ("post", "put", "patch") and "requestBody" in op:
            content = op["requestBody"]["content"]
            if "application/json" in content:
                assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
            else:
                assert all(media["schema"] == {"type": "string", "format": "binary"} for media in content.values())


@pytest.mark.sqlite_only
async def test_a_generated_python_client_has_every_operation_and_types_the_asset_view(stack, tmp_path):
    # Given a client generated from the served document by openapi-python-client
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document, ensure_ascii=False))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": [], "project_name_override": "member_platform_client",
                                  "package_name_override": "member_platform_client"}))
    out = tmp_path / "member_platform_client"
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec), "--output-path", str(out),
        "--meta", "none", "--config", str(config), "--fail-on-warning",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(run.communicate(), timeout=300))[0].decode()
    assert run.returncode == 0, output[-3000:]
    # Then every operation has its module
    generated = {p.stem for p in (out / "api").rglob("*.py") if p.stem != "__init__"}
    wanted = {re.sub(r"(?<!^)(?=[A-Z])", "_", op["operationId"]).lower() for _, _, op in _operations(document)}
    assert wanted - generated == set()
    # And the shopper's home screen comes back typed
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("member_platform_client")
        assets_op = next(op for method, path, op in _operations(document)
                         if method == "get" and path == "/api/v1/mp/me/assets")
        module_name = re.sub(r"(?<!^)(?=[A-Z])", "_", assets_op["operationId"]).lower()
        api = importlib.import_module(f"member_platform_client.api.{assets_op['tags'][0]}.{module_name}")
        _, token = await member_token(stack)
        client = client_module.AuthenticatedClient(base_url=stack.base_url, token=token)
        assets = await api.asyncio(client=client)
        assert assets is not None and type(assets).__module__.startswith("member_platform_client.models")
        assert assets.points.balance == 0 and isinstance(assets.balance_cents, int)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("member_platform_client")]:
            del sys.modules[name]
