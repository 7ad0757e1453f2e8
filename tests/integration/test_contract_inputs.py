"""Input rules every route shares: query strings, cursors and signature headers."""

from __future__ import annotations

import json

from tests.factories import bearer, make_app_key, member_token, signed_headers


async def test_a_query_name_the_route_does_not_take_is_refused_not_ignored(stack):
    _, token = await member_token(stack)
    response = await stack.http.get("/api/v1/mp/me/points/ledger?limt=5", headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"limt": "不支持的参数"}


async def test_a_blank_filter_is_a_value_and_a_blank_cursor_is_the_first_page(stack):
    _, token = await member_token(stack)
    blank_status = await stack.http.get("/api/v1/mp/me/coupons?status=", headers=bearer(token))
    assert blank_status.status_code == 400 and "status" in blank_status.json()["error"]["details"]["fields"]
    first_page = await stack.http.get("/api/v1/mp/me/points/ledger?cursor=&limit=5", headers=bearer(token))
    assert first_page.status_code == 200 and first_page.json()["next_cursor"] is None
    bad_cursor = await stack.http.get("/api/v1/mp/me/points/ledger?cursor=%C2%B2", headers=bearer(token))
    assert bad_cursor.status_code == 400


async def test_a_signature_timestamp_in_other_digits_is_a_401_not_a_500(stack):
    key_id, secret = await make_app_key(stack)
    body = json.dumps({"phone": "13800138000"}).encode()
    path = "/api/v1/integrations/members/lookup"
    headers = signed_headers(key_id, secret, "POST", path, body)
    headers["X-Timestamp"] = "²³¹".encode()  # type: ignore[assignment]  # UTF-8 bytes on the wire
    response = await stack.http.post(path, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "malformed_signature_headers"
