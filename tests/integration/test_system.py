"""Health, readiness, metrics, the OpenAPI document and the error shape for every failure kind."""

import pytest


async def test_healthz_and_readyz_answer_when_everything_is_up_and_name_the_store_really_used(stack):
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200
    if stack.name == "postgres":
        expected = {"checks": {"database": "ok", "redis": "ok"}, "backends": {"database": "postgres", "store": "redis"}}
    else:  # the in-process store is not reported as Redis
        expected = {"checks": {"database": "ok", "store": "ok"}, "backends": {"database": "sqlite", "store": "memory"}}
    assert ready.json() == {"status": "ready", **expected}


async def test_unknown_route_is_a_404_in_the_error_shape(stack):
    response = await stack.http.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "请求的资源不存在",
                                         "details": {"path": "/api/v1/no/such/thing"}}}


async def test_wrong_method_is_a_405_in_the_error_shape(stack):
    response = await stack.http.delete("/api/v1/staff/session")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_validation_failure_names_each_field(stack):
    response = await stack.http.post("/api/v1/staff/session", json={"username": "", "extra": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["details"]["fields"] == {"username": "长度不足", "password": "必填", "extra": "不支持的字段"}


async def test_a_body_that_is_not_json_is_a_400(stack):
    response = await stack.http.post("/api/v1/staff/session", content=b"{not json",
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"


async def test_a_body_over_the_configured_size_is_a_413(stack):
    response = await stack.http.post("/api/v1/staff/session", content=b"x" * (stack.settings.max_body_bytes + 1),
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_unexpected_error_is_a_500_with_the_request_id_and_no_internals(stack):
    response = await stack.http.get("/test/boom", headers={"X-Request-ID": "req-abc-123"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-abc-123"
    assert response.json() == {"error": {"code": "INTERNAL_ERROR", "message": "服务器内部错误",
                                         "details": {"request_id": "req-abc-123"}}}
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


async def test_every_response_carries_a_request_id(stack):
    response = await stack.http.get("/healthz")
    assert len(response.headers["X-Request-ID"]) == 32


async def test_metrics_count_requests_by_route_and_status(stack):
    await stack.http.get("/healthz")
    await stack.http.get("/api/v1/nowhere")
    text = (await stack.http.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}' in text


@pytest.mark.sqlite_only
async def test_openapi_document_lists_paths_security_and_every_error_code(stack):
    response = await stack.http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    operation = spec["paths"]["/api/v1/staff/session"]["post"]
    assert "INVALID_CREDENTIALS" in operation["x-error-codes"]
    assert "401" in operation["responses"] and "400" in operation["responses"]
    codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
    for code in ("VALIDATION_FAILED", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "IDEMPOTENCY_IN_FLIGHT",
                 "IDEMPOTENCY_KEY_REUSED", "RATE_LIMITED", "DEPENDENCY_UNAVAILABLE", "PAYLOAD_TOO_LARGE"):
        assert code in codes
    assert set(spec["components"]["securitySchemes"]) == {"member_token", "staff_token", "app_signature"}
