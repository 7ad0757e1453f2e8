"""WeChat login through the real wechatpy client and the loopback fake WeChat API."""

import pytest

from backend.members.models import WeChatAccount
from tests.factories import bearer, wechat_login


async def test_a_new_wechat_user_gets_a_visitor_session_and_the_session_key_stays_on_the_server(stack):
    stack.wechat.add_code("code-1", openid="o-1", unionid="u-1", session_key="c2Vzc2lvbi1rZXktMTIzNA==")
    response = await stack.http.post("/api/v1/mp/session", json={"code": "code-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["registered"] is False and "member_id" not in body
    assert "c2Vzc2lvbi1rZXktMTIzNA==" not in response.text
    account = await WeChatAccount.get(openid="o-1")
    assert account.unionid == "u-1" and account.member_id is None
    assert account.session_key_enc and "c2Vzc2lvbi1rZXktMTIzNA==" not in account.session_key_enc
    assert stack.pii.decrypt(account.session_key_enc) == "c2Vzc2lvbi1rZXktMTIzNA=="
    # A visitor may register but has no member profile yet.
    assert (await stack.http.get("/api/v1/mp/me", headers=bearer(body["token"]))).status_code == 401


@pytest.mark.parametrize("code", ["never-issued", "used-once"])
async def test_an_invalid_or_reused_code_is_401_wechat_code_invalid(stack, code):
    if code == "used-once":
        stack.wechat.add_code(code, openid="o-2")
        assert (await stack.http.post("/api/v1/mp/session", json={"code": code})).status_code == 200
    response = await stack.http.post("/api/v1/mp/session", json={"code": code})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "WECHAT_CODE_INVALID"


async def test_wechat_busy_or_down_is_a_503(stack):
    stack.wechat.add_code("code-busy", openid="o-3")
    stack.wechat.fail_next("jscode2session", -1, "system busy")
    busy = await stack.http.post("/api/v1/mp/session", json={"code": "code-busy"})
    assert busy.status_code == 503
    assert busy.json()["error"]["code"] == "DEPENDENCY_UNAVAILABLE"
    stack.wechat.down = True
    try:
        down = await stack.http.post("/api/v1/mp/session", json={"code": "code-busy"})
    finally:
        stack.wechat.down = False
    assert down.status_code == 503
    # WeChat is back: the same code now works.
    assert (await stack.http.post("/api/v1/mp/session", json={"code": "code-busy"})).status_code == 200


async def test_logging_in_again_keeps_one_account_and_updates_the_session_key(stack):
    stack.wechat.add_code("a", openid="o-4", session_key="a2V5LW9uZS0xMjM0NTY3OA==")
    stack.wechat.add_code("b", openid="o-4", session_key="a2V5LXR3by0xMjM0NTY3OA==")
    await stack.http.post("/api/v1/mp/session", json={"code": "a"})
    await stack.http.post("/api/v1/mp/session", json={"code": "b"})
    accounts = await WeChatAccount.filter(openid="o-4")
    assert len(accounts) == 1
    assert stack.pii.decrypt(accounts[0].session_key_enc) == "a2V5LXR3by0xMjM0NTY3OA=="


async def test_refresh_tokens_rotate_and_a_reused_one_ends_every_session(stack):
    session = await wechat_login(stack)
    first = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != session["refresh_token"]
    replay = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["error"]["details"] == {"reason": "refresh_reused"}
    # The replay revoked the rotated token too: whoever held the copy is logged out with the owner.
    after = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_a_refresh_token_expires(stack):
    session = await wechat_login(stack)
    stack.clock.advance(stack.settings.member_refresh_ttl_s + 1)
    response = await stack.http.post("/api/v1/mp/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert response.status_code == 401
