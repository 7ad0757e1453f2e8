"""Schemathesis over the served document, on both stacks: no 5xx, no undeclared status, no answer its
schema refuses, no invalid input accepted.

Every operation is fuzzed with generated valid data (positive) and generated invalid data (negative),
as the caller its security names: a member, a clerk, an admin (and a marketer for the console), or a
signed integration (each request HMAC-signed like a real client). The answers are also checked by the
app's own contract check (``CONTRACT_CHECK``), so a body that drifts from its model fails here too.

Knobs (environment): ``FUZZ_EXAMPLES`` examples per operation and mode (default 12), ``FUZZ_OPS`` a
regular expression over ``operationId`` or path to fuzz only some operations, ``FUZZ_SEED`` to vary the
otherwise fixed examples (the default is reproducible). Failures are collected over every operation and
reported together with a curl command each.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from backend import clock
from backend.members.models import Member
from backend.security import signatures
from backend.stores.models import StaffAccount
from tests.factories import make_app_key, make_staff, member_token, unique

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
ONLY = re.compile(os.environ.get("FUZZ_OPS", ".*"))
SEED = os.environ.get("FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
MODES = {GenerationMode.POSITIVE: CHECKS, GenerationMode.NEGATIVE: NEGATIVE_CHECKS}
# Operations that end the caller's session for every later example (the account is restored between
# operations); they are fuzzed like the others.
MAX_FAILURES_PER_OPERATION = 3


class Callers:
    """The credentials each kind of caller presents, restored before each operation."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.tokens: dict[str, str] = {}
        self.staff: dict[str, Any] = {}
        self.member_id = 0
        self.app_key: tuple[str, str] = ("", "")

    async def prepare(self) -> None:
        for role in ("admin", "marketer", "clerk"):
            staff, token = await make_staff(self.stack, role=role)
            self.staff[role], self.tokens[role] = staff, token
        self.member_id, self.tokens["member"] = await member_token(self.stack)
        self.app_key = await make_app_key(self.stack)

    async def restore(self) -> None:
        """Undo what an operation may have done to the callers (deactivated staff, an erased member)."""
        for role, staff in list(self.staff.items()):
            row = await StaffAccount.get_or_none(id=staff.id)
            if row is None or not row.active or row.role != role or row.token_version != staff.token_version:
                staff, token = await make_staff(self.stack, role=role, username=unique(role))
                self.staff[role], self.tokens[role] = staff, token
        member = await Member.get_or_none(id=self.member_id)
        if member is None or member.status != "active":
            await self._relax_custom_fields()
            self.member_id, self.tokens["member"] = await member_token(self.stack)
        self.app_key = await make_app_key(self.stack)

    async def _relax_custom_fields(self) -> None:
        """Fields the fuzzer made required would refuse the next registration: an admin makes them optional."""
        admin = {"Authorization": f"Bearer {self.tokens['admin']}"}
        listed = (await self.stack.http.get("/api/v1/admin/custom-fields", headers=admin)).json()
        for field in listed.get("items", []):
            if field.get("required"):
                answer = await self.stack.http.patch(f"/api/v1/admin/custom-fields/{field['id']}",
                                                     json={"required": False}, headers=admin)
                assert answer.status_code == 200, answer.text

    def headers_for(self, path: str, role: str | None) -> dict[str, str]:
        if role is None:
            if path.startswith("/api/v1/mp/"):
                role = "member"
            elif path.startswith("/api/v1/store/"):
                role = "clerk"
            elif path.startswith("/api/v1/admin/"):
                role = "admin"
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


def _send(session: requests.Session, case: Any, base_url: str, callers: Callers, role: str | None,
          signed: bool) -> requests.Response:
    """Send one case; a connection reset is retried (twice at most) on a new connection.

    The server closes a connection on a request it refuses before reading it all (a header its parser
    rejects, a body over the limit) and the operating system then resets it under the part still being
    sent, so whether the client reads the refusal first is timing. Such a case is sent again on a fresh
    connection; a case reset three times fails the run, named.
    """
    for _ in range(3):
        try:
            return _send_once(session, case, base_url, callers, role, signed)
        except requests.ConnectionError as exc:
            session.close()  # drops every pooled connection; the next request opens a new one
            error = exc
    raise AssertionError(f"connection reset three times: {case.method} {case.formatted_path}: {error}")


def _send_once(session: requests.Session, case: Any, base_url: str, callers: Callers, role: str | None,
               signed: bool) -> requests.Response:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    kwargs.setdefault("headers", {})
    if signed:
        if "json" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
            kwargs["headers"].setdefault("Content-Type", "application/json")
        prepared = session.prepare_request(requests.Request(**{k: v for k, v in kwargs.items()
                                                               if k in ("method", "url", "headers", "params",
                                                                        "data", "cookies")}))
        body = prepared.body or b""
        body = body.encode() if isinstance(body, str) else body
        key_id, secret = callers.app_key
        ts, nonce = str(int(clock.now().timestamp())), secrets.token_hex(12)
        prepared.headers.update({"X-App-Key": key_id, "X-Timestamp": ts, "X-Nonce": nonce,
                                 "X-Signature": signatures.sign(secret, prepared.method, prepared.path_url, ts,
                                                                nonce, body)})
        return session.send(prepared, timeout=30)
    kwargs["headers"].update(callers.headers_for(case.path, role))
    return session.request(**kwargs, timeout=30)


CREDENTIALS = {"authorization", "x-app-key", "x-timestamp", "x-nonce", "x-signature"}


def _negates_only_credentials(case: Any, secured: bool) -> bool:
    """A negative case whose only invalid part is a credential header, which this harness replaces."""
    meta = case.meta
    negated = {location for location, component in (meta.components.items() if meta else ())
               if component.mode.is_negative}
    if not negated or not negated <= {ParameterLocation.HEADER}:
        return False
    data = meta.phase.data
    names = {getattr(data, "parameter", None),
             *(getattr(mutation, "parameter", None) for mutation in getattr(data, "mutations", ()))}
    names.discard(None)
    if names:
        return all(str(name).lower() in CREDENTIALS for name in names)
    return secured


def _runner(operation: Any, mode: Any, checks: list[Any], send: Any, label: str, failures: list[str],
            examples: int, path_parameters: dict[str, Any] | None = None) -> Any:
    seen: set[str] = set()

    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=SEED is None,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
                         print_blob=False)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        if len(seen) >= MAX_FAILURES_PER_OPERATION:
            return
        secured = bool(operation.definition.raw.get("security"))
        if mode is GenerationMode.NEGATIVE and _negates_only_credentials(case, secured):
            return  # credentials are put on here, so a generated invalid one is never sent
        response = send(case)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                if isinstance(failure, AcceptedNegativeData) and response.status_code == 413:
                    continue  # refused as too large before it was read: a rejection schemathesis does not count
                title = f"{failure.title}: {failure.message}"[:300]
                if title in seen:
                    continue
                seen.add(title)
                failures.append(f"[{mode.value}] {label}: {title}\n"
                                f"    {response.status_code} {response.text[:300]}\n"
                                f"    {case.as_curl_command(headers=dict(response.request.headers))}")

    return run


def _fuzz(operation: Any, base_url: str, callers: Callers, role: str | None, examples: int,
          modes: dict[Any, list[Any]]) -> list[str]:
    """Run every mode over one operation in this (non-loop) thread; the failures, described."""
    failures: list[str] = []
    signed = _is_signed(operation)
    session = requests.Session()
    for mode, checks in modes.items():
        run = _runner(operation, mode, checks, lambda case: _send(session, case, base_url, callers, role, signed),
                      f"{operation.label} as {role or 'default'}", failures, examples)
        if SEED is not None:
            run = hypothesis.seed(int(SEED))(run)
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # Nothing to make invalid: an operation without parameters or body has no negative data.
            if mode is not GenerationMode.NEGATIVE:
                raise
    session.close()
    return failures


async def test_every_operation_survives_the_fuzzer(stack):
    # Given the served document and a caller of every kind
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    callers = Callers(stack)
    await callers.prepare()
    operations = [result.ok() for result in schema.get_all_operations()]
    chosen = [op for op in operations
              if ONLY.search(op.definition.raw.get("operationId", "")) or ONLY.search(op.path)]
    assert chosen, f"FUZZ_OPS={ONLY.pattern!r} matches no operation"
    failures: list[str] = []
    fuzzed = 0
    for operation in chosen:
        roles: list[str | None] = [None]
        if operation.path.startswith("/api/v1/admin/"):
            roles.append("marketer")
        for role in roles:
            # When every operation is fuzzed as its caller
            await callers.restore()
            # The marketer pass checks the role's answers (403 or the same as an admin's): fewer examples.
            examples, modes = (EXAMPLES, MODES) if role is None else (
                max(2, EXAMPLES // 4), {GenerationMode.POSITIVE: CHECKS})
            failures += await asyncio.to_thread(_fuzz, operation, stack.base_url, callers, role, examples, modes)
            fuzzed += 1
    # Then none answered a 5xx, an undeclared status, a body off its schema, or accepted invalid data
    assert fuzzed >= len(chosen)
    assert not failures, f"{len(failures)} failures over {len(chosen)} operations:\n\n" + "\n\n".join(failures)


def _is_signed(operation: Any) -> bool:
    return any("app_signature" in item for item in operation.definition.raw.get("security", []))


def _link_value(expression: str, body: Any) -> Any:
    """``$response.body#/a/b`` read from an answer's JSON (None when it is not there)."""
    prefix = "$response.body#"
    if not expression.startswith(prefix):
        return None
    value = body
    for part in expression[len(prefix):].strip("/").split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _follow_links(operations: dict[str, Any], base_url: str, callers: Callers) -> tuple[list[str], int]:
    """Each linking operation with generated valid data; each answer it links from then feeds the linked
    operations' path parameters, and those run with generated data around them."""
    failures: list[str] = []
    session = requests.Session()
    fed: dict[str, list[dict[str, Any]]] = {}
    for source in operations.values():
        links = {status: answer.get("links", {}) for status, answer in source.definition.raw["responses"].items()
                 if answer.get("links")}
        if not links:
            continue

        def collect(response: requests.Response, links: dict[str, Any] = links) -> None:
            try:
                body = response.json()
            except ValueError:
                return
            for link in links.get(str(response.status_code), {}).values():
                values = {name: _link_value(expr, body) for name, expr in link["parameters"].items()}
                if None not in values.values():
                    fed.setdefault(link["operationId"], []).append(values)

        def send(case: Any, source: Any = source, collect: Any = collect) -> requests.Response:
            response = _send(session, case, base_url, callers, None, _is_signed(source))
            collect(response)
            return response

        _runner(source, GenerationMode.POSITIVE, CHECKS, send, f"{source.label} (link source)", failures,
                max(EXAMPLES, 5))()
    followed = 0
    for target_id, values_list in fed.items():
        target = operations[target_id]
        for values in list({tuple(sorted(v.items())): v for v in values_list}.values())[:3]:
            followed += 1
            _runner(target, GenerationMode.POSITIVE, CHECKS,
                    lambda case, target=target: _send(session, case, base_url, callers, None, _is_signed(target)),
                    f"{target.label} fed {values}", failures, max(2, EXAMPLES // 3),
                    path_parameters=values)()
    session.close()
    return failures, followed


async def test_linked_operations_survive_stateful_fuzzing(stack):
    # Given the document's links (create a template → read, change, issue, claim it; claim → my coupon ...)
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = {op.definition.raw["operationId"]: op for op in (r.ok() for r in schema.get_all_operations())}
    callers = Callers(stack)
    await callers.prepare()
    # When each answer that links feeds the operations it names, as a client would chain them
    failures, followed = await asyncio.to_thread(_follow_links, operations, stack.base_url, callers)
    # Then the chains ran (links produced values) and no step failed a check
    assert followed >= 5, f"only {followed} linked calls could be fed"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)


@pytest.mark.sqlite_only
async def test_the_fuzzer_covers_every_declared_operation(stack):
    # Every route the app serves under /api/v1 is in the document the fuzzer reads.
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = set()
    for route in stack.app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
            continue
        templated = re.sub(r"<([a-z_]+)(?::[a-z0-9_]+)?>", r"{\1}", path)
        served |= {(method, templated) for method in route.methods if method not in ("HEAD", "OPTIONS")}
    assert served - documented == set()
