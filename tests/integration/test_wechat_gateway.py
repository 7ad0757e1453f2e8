"""The WeChat gateway through the real wechatpy client against the loopback fake WeChat API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.errors import DependencyUnavailable
from backend.kv import MemoryKV, RedisKV
from backend.members.wechat import (
    WeChatCodeInvalid,
    WeChatDecryptFailed,
    WeChatGateway,
    WeChatPhoneCodeInvalid,
    WeChatSession,
)
from backend.settings import Settings, load_settings
from tests.fakes.wechat import FakeWeChat

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SESSION_KEY = base64.b64encode(b"session-key-1234").decode()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"APP_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 40,
                          "PII_KEY": base64.b64encode(b"k" * 32).decode(), **env})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    fake.base = fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(fake: FakeWeChat, tmp_path: Path) -> Settings:
    fake.reset()
    return make_settings(tmp_path, WECHAT_APP_ID=fake.app_id, WECHAT_APP_SECRET=fake.app_secret,
                         WECHAT_API_BASE=fake.base, WECHAT_TIMEOUT_S="1")


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[WeChatGateway]:
    gateway = WeChatGateway(settings, MemoryKV())
    yield gateway
    await gateway.close()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[WeChatGateway]:
    gateway = WeChatGateway(make_settings(tmp_path, WECHAT_API_BASE="http://127.0.0.1:9"), MemoryKV())
    yield gateway
    await gateway.close()


# -- code2session ------------------------------------------------------------------------------------

async def test_a_code_answers_the_users_openid_unionid_and_session_key(gateway, fake):
    fake.add_code("c-ok", openid="o-1", unionid="u-1", session_key=SESSION_KEY)
    session = await gateway.code_to_session("c-ok")
    assert session == WeChatSession(openid="o-1", unionid="u-1", session_key=SESSION_KEY)
    assert SESSION_KEY not in repr(session)
    # code2session needs no access token: none is fetched and none is sent.
    assert fake.token_fetches == 0
    path, args = fake.calls[-1]
    assert path == "/sns/jscode2session"
    assert args == {"appid": fake.app_id, "secret": fake.app_secret, "js_code": "c-ok",
                    "grant_type": "authorization_code"}


async def test_a_user_without_unionid_gets_none(gateway, fake):
    fake.add_code("c-nounion", openid="o-2", session_key=SESSION_KEY)
    assert (await gateway.code_to_session("c-nounion")).unionid is None


async def test_a_reused_code_is_wechat_code_invalid(gateway, fake):
    fake.add_code("c-once", openid="o-3")
    await gateway.code_to_session("c-once")
    with pytest.raises(WeChatCodeInvalid) as caught:
        await gateway.code_to_session("c-once")
    assert (caught.value.code, caught.value.status) == ("WECHAT_CODE_INVALID", 401)
    assert caught.value.details == {"errcode": 40163}


async def test_an_unknown_code_is_wechat_code_invalid(gateway):
    with pytest.raises(WeChatCodeInvalid) as caught:
        await gateway.code_to_session("never-issued")
    assert caught.value.details == {"errcode": 40029}


async def test_a_malformed_code_is_refused_without_asking_wechat(gateway, fake):
    for code in ("", "x" * 129, "line\nbreak"):
        with pytest.raises(WeChatCodeInvalid):
            await gateway.code_to_session(code)
    assert fake.calls == []


async def test_wechat_busy_is_a_503_and_leaves_the_code_usable(gateway, fake):
    fake.add_code("c-busy", openid="o-4")
    fake.fail_next("jscode2session", -1, "system error")
    with pytest.raises(DependencyUnavailable) as caught:
        await gateway.code_to_session("c-busy")
    assert caught.value.status == 503
    assert caught.value.details == {"dependency": "wechat", "errcode": -1, "reason": "errcode"}
    assert (await gateway.code_to_session("c-busy")).openid == "o-4"


async def test_wechat_down_is_a_503(gateway, fake):
    fake.add_code("c-down", openid="o-5")
    fake.down = True
    with pytest.raises(DependencyUnavailable) as caught:
        await gateway.code_to_session("c-down")
    assert caught.value.details == {"dependency": "wechat", "errcode": None, "reason": "http_status"}


async def test_wechat_slower_than_the_timeout_is_a_503(gateway, fake):
    fake.add_code("c-slow", openid="o-6")
    fake.delay_s = 1.5
    with pytest.raises(DependencyUnavailable) as caught:
        await gateway.code_to_session("c-slow")
    assert caught.value.details == {"dependency": "wechat", "errcode": None, "reason": "timeout"}


async def test_an_unreachable_wechat_is_a_503(tmp_path):
    settings = make_settings(tmp_path, WECHAT_APP_ID="wxapp", WECHAT_APP_SECRET="s",
                             WECHAT_API_BASE="http://127.0.0.1:9", WECHAT_TIMEOUT_S="1")
    gateway = WeChatGateway(settings, MemoryKV())
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            await gateway.code_to_session("c-any")
    finally:
        await gateway.close()
    assert caught.value.details == {"dependency": "wechat", "errcode": None, "reason": "connection"}


# -- phone number and the access token ---------------------------------------------------------------

async def test_a_phone_code_answers_the_pure_phone_number(gateway, fake):
    fake.add_phone_code("pc-ok", "13800138000")
    assert await gateway.get_phone_number("pc-ok") == "13800138000"
    path, args = fake.calls[-1]
    assert path == "/wxa/business/getuserphonenumber"
    assert args["code"] == "pc-ok" and args["access_token"].startswith("ACCESS_")


async def test_a_reused_phone_code_is_wechat_phone_code_invalid(gateway, fake):
    fake.add_phone_code("pc-once", "13800138000")
    await gateway.get_phone_number("pc-once")
    with pytest.raises(WeChatPhoneCodeInvalid) as caught:
        await gateway.get_phone_number("pc-once")
    assert (caught.value.code, caught.value.status) == ("WECHAT_PHONE_CODE_INVALID", 422)
    assert caught.value.details == {"errcode": 40029}


async def test_the_access_token_is_fetched_once_and_reused(gateway, fake):
    for n in range(4):
        fake.add_phone_code(f"pc-reuse-{n}", f"1390013900{n}")
        assert await gateway.get_phone_number(f"pc-reuse-{n}") == f"1390013900{n}"
    assert fake.token_fetches == 1
    tokens = {args["access_token"] for path, args in fake.calls if path.endswith("getuserphonenumber")}
    assert len(tokens) == 1


async def test_concurrent_first_calls_fetch_the_token_once(gateway, fake):
    phones = [f"1350013500{n}" for n in range(6)]
    for n, phone in enumerate(phones):
        fake.add_phone_code(f"pc-race-{n}", phone)
    answers = await asyncio.gather(*(gateway.get_phone_number(f"pc-race-{n}") for n in range(6)))
    assert answers == phones
    assert fake.token_fetches == 1


async def test_an_expired_token_is_refreshed_once_and_the_call_retried(gateway, fake):
    fake.add_phone_code("pc-a", "13800138001")
    fake.add_phone_code("pc-b", "13800138002")
    await gateway.get_phone_number("pc-a")
    fake.expire_tokens()
    assert await gateway.get_phone_number("pc-b") == "13800138002"
    assert fake.token_fetches == 2
    phone_calls = [args["access_token"] for path, args in fake.calls if path.endswith("getuserphonenumber")]
    assert len(phone_calls) == 3 and phone_calls[0] == phone_calls[1] != phone_calls[2]


async def test_a_token_rejected_twice_is_a_503_after_one_retry(gateway, fake):
    fake.add_phone_code("pc-rejected", "13800138003")
    fake.fail_next("getuserphonenumber", 40001, "invalid credential", times=2)
    with pytest.raises(DependencyUnavailable) as caught:
        await gateway.get_phone_number("pc-rejected")
    assert caught.value.details["errcode"] == 40001
    assert fake.token_fetches == 2


async def test_a_wrong_app_secret_is_a_503(fake, tmp_path):
    settings = make_settings(tmp_path, WECHAT_APP_ID=fake.app_id, WECHAT_APP_SECRET="wrong",
                             WECHAT_API_BASE=fake.base, WECHAT_TIMEOUT_S="1")
    gateway = WeChatGateway(settings, MemoryKV())
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            await gateway.get_phone_number("pc-any")
    finally:
        await gateway.close()
    assert caught.value.details == {"dependency": "wechat", "errcode": 40125, "reason": "errcode"}


async def test_gateways_sharing_redis_fetch_the_token_once(settings, fake):
    kv = RedisKV(REDIS_URL, prefix=f"test-wechat-{uuid.uuid4().hex[:8]}:")
    try:
        await kv.ping()
    except DependencyUnavailable:
        await kv.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    first, second = WeChatGateway(settings, kv), WeChatGateway(settings, kv)
    try:
        fake.add_phone_code("pc-r1", "13700137001")
        fake.add_phone_code("pc-r2", "13700137002")
        assert await first.get_phone_number("pc-r1") == "13700137001"
        assert await second.get_phone_number("pc-r2") == "13700137002"
        assert fake.token_fetches == 1
        assert (await kv.get(f"wechat:token:{fake.app_id}")).startswith("ACCESS_")
    finally:
        await kv.delete(f"wechat:token:{fake.app_id}")
        await first.close()
        await second.close()
        await kv.close()


# -- legacy encrypted phone data ---------------------------------------------------------------------

def test_encrypted_phone_data_decrypts_to_the_pure_phone_number(gateway, fake):
    encrypted, iv = fake.encrypt_phone(session_key=SESSION_KEY, phone="13900139000")
    assert gateway.decrypt_phone(session_key=SESSION_KEY, encrypted_data=encrypted, iv=iv) == "13900139000"


def test_another_apps_watermark_is_wechat_decrypt_failed(gateway, fake):
    encrypted, iv = fake.encrypt_phone(session_key=SESSION_KEY, phone="13900139000", app_id="wxsomeoneelse")
    with pytest.raises(WeChatDecryptFailed) as caught:
        gateway.decrypt_phone(session_key=SESSION_KEY, encrypted_data=encrypted, iv=iv)
    assert (caught.value.code, caught.value.status) == ("WECHAT_DECRYPT_FAILED", 422)
    assert caught.value.details == {"reason": "watermark_appid_mismatch"}


@pytest.mark.parametrize("encrypted", ["not base64 at all!", base64.b64encode(b"x" * 32).decode(), ""])
def test_garbage_encrypted_data_is_wechat_decrypt_failed(gateway, fake, encrypted):
    _, iv = fake.encrypt_phone(session_key=SESSION_KEY, phone="13900139000")
    with pytest.raises(WeChatDecryptFailed) as caught:
        gateway.decrypt_phone(session_key=SESSION_KEY, encrypted_data=encrypted, iv=iv)
    assert caught.value.details == {"reason": "undecryptable"}


def test_the_wrong_session_key_is_wechat_decrypt_failed(gateway, fake):
    encrypted, iv = fake.encrypt_phone(session_key=SESSION_KEY, phone="13900139000")
    other = base64.b64encode(b"another-key-5678").decode()
    with pytest.raises(WeChatDecryptFailed):
        gateway.decrypt_phone(session_key=other, encrypted_data=encrypted, iv=iv)


# -- sandbox -----------------------------------------------------------------------------------------

async def test_sandbox_login_is_deterministic_per_code(sandbox):
    assert sandbox.app_id == "sandbox"
    first, again = await sandbox.code_to_session("dev-code"), await sandbox.code_to_session("dev-code")
    assert first == again
    digest = hashlib.sha256(b"openid:dev-code").hexdigest()[:24]
    assert first.openid == "sbx_" + digest
    assert first.unionid == "sbxu_" + hashlib.sha256(b"unionid:dev-code").hexdigest()[:24]
    assert base64.b64decode(first.session_key) == hashlib.sha256(b"sk:dev-code").digest()[:16]
    assert (await sandbox.code_to_session("other")).openid != first.openid


async def test_sandbox_code_invalid_is_a_401(sandbox):
    with pytest.raises(WeChatCodeInvalid) as caught:
        await sandbox.code_to_session("invalid")
    assert caught.value.status == 401


async def test_sandbox_phone_code_is_the_phone_number_itself(sandbox):
    assert await sandbox.get_phone_number("13800138000") == "13800138000"
    for bad in ("12800138000", "1380013800", "+8613800138000", "pc-123"):
        with pytest.raises(WeChatPhoneCodeInvalid):
            await sandbox.get_phone_number(bad)


def test_sandbox_cannot_decrypt_encrypted_phone_data(sandbox):
    with pytest.raises(WeChatDecryptFailed) as caught:
        sandbox.decrypt_phone(session_key=SESSION_KEY, encrypted_data="abc", iv="abc")
    assert "沙箱" in caught.value.message
    assert caught.value.details == {"reason": "sandbox_has_no_session_key"}
