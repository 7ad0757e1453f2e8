"""Test stacks: every test that asks for ``stack`` runs on both backends.

- ``sqlite``: a SQLite file and the in-process key-value store (the embedded default);
- ``postgres``: a fresh PostgreSQL database built from the aerich migrations, and real Redis
  under a per-run key prefix.

Each stack starts the real app once, as a real server on a loopback port inside the test event
loop, and tests talk to it over HTTP (``stack.http``) or call services directly. Each test starts
from empty tables, an empty key prefix and a manual clock. With ``CI=true`` a missing PostgreSQL or
Redis fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis import asyncio as aioredis
from sanic import Sanic

from backend import clock
from backend.loyalty import program
from backend.settings import Settings, load_settings
from jobs import lifecycle
from jobs import tags as auto_tags
from notifications import policy, templates

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgres")
TEST_PII_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TEST_SECRET = "test-secret-key-" + "x" * 32
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Monday

Sanic.test_mode = True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" not in metafunc.fixturenames:
        return
    backends = list(BACKENDS)
    if metafunc.definition.get_closest_marker("postgres_only"):
        backends = ["postgres"]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ["sqlite"]
    metafunc.parametrize("stack", backends, indirect=True, scope="session")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _postgres_up() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await conn.close()
        client = aioredis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()
    except Exception as exc:  # any failure to reach either service
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Stack:
    name: str
    settings: Settings
    app: Sanic
    base_url: str
    http: httpx.AsyncClient
    clock: clock.ManualClock
    wechat: Any  # tests.fakes.wechat.FakeWeChat
    sms: Any = None  # tests.fakes.tencent_sms.FakeTencentSms
    smtp: Any = None  # tests.fakes.smtp.FakeSmtp
    env: dict[str, str] | None = None  # the environment the app was configured from (for subprocesses)

    @property
    def dispatcher(self) -> Any:
        return self.app.ctx.dispatcher

    @property
    def kv(self) -> Any:
        return self.app.ctx.kv

    @property
    def pii(self) -> Any:
        return self.app.ctx.pii

    def url(self, path: str) -> str:
        return self.base_url + path


def stack_environment(name: str, tmp: Path, wechat: Any, wechat_base: str, sms: Any = None,
                      smtp_address: tuple[str, int] | None = None, wechatpay: Any = None,
                      **extra: str) -> dict[str, str]:
    env = {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp),
        "SECRET_KEY": TEST_SECRET,
        "PII_KEY": TEST_PII_KEY,
        "LOG_LEVEL": "WARNING",
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_API_BASE": wechat_base,
        "WECHAT_TIMEOUT_S": "2",
        "WECHAT_PUSH_TOKEN": "push-token-for-tests",
        "MAX_BODY_BYTES": "65536",
        # Every answer is checked against its route's declared contract (backend.http.contract).
        "CONTRACT_CHECK": os.environ.get("CONTRACT_CHECK", "1"),
    }
    if sms is not None:
        env.update({"SMS_PROVIDER": "tencent", "SMS_API_BASE": sms.base_url, "SMS_SECRET_ID": sms.secret_id,
                    "SMS_SECRET_KEY": sms.secret_key, "SMS_SDK_APP_ID": sms.sdk_app_id, "SMS_SIGN_NAME": "测试商城"})
    if smtp_address is not None:
        env.update({"SMTP_HOST": smtp_address[0], "SMTP_PORT": str(smtp_address[1]), "SMTP_TLS": "none",
                    "SMTP_FROM": "会员中心 <member@shop.test>"})
    if wechatpay is not None:
        merchant = wechatpay.merchant_settings()
        env.update({"WECHATPAY_MCHID": merchant["mchid"], "WECHATPAY_SERIAL_NO": merchant["serial_no"],
                    "WECHATPAY_PRIVATE_KEY": merchant["private_key_pem"], "WECHATPAY_APIV3_KEY": merchant["apiv3_key"],
                    "WECHATPAY_PLATFORM_SERIAL": merchant["platform_serial"],
                    "WECHATPAY_PLATFORM_KEY": merchant["platform_key_pem"], "WECHATPAY_API_BASE": merchant["api_base"],
                    "WECHATPAY_NOTIFY_URL": "https://shop.test/api/v1/callbacks/wechatpay"})
    if name == "sqlite":
        env["DATABASE_URL"] = f"sqlite://{tmp / 'test.sqlite3'}"
    env.update(extra)
    return env


async def start_server(app: Sanic) -> tuple[Any, int]:
    port = _free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    return server, port


async def stop_server(server: Any) -> None:
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


@pytest.fixture(scope="session")
def fake_wechat() -> Any:
    from tests.fakes.wechat import FakeWeChat

    fake = FakeWeChat()
    base = fake.start()
    yield fake, base
    fake.stop()


@pytest.fixture(scope="session")
def fake_sms() -> Any:
    from tests.fakes.tencent_sms import FakeTencentSms

    fake = FakeTencentSms()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_wechatpay(fake_wechat: Any) -> Any:
    from tests.fakes.wechatpay import FakeWeChatPay

    wechat, _ = fake_wechat
    fake = FakeWeChatPay(appid=wechat.app_id)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_smtp() -> Any:
    from tests.fakes.smtp import FakeSmtp

    fake = FakeSmtp()
    address = fake.start()
    yield fake, address
    fake.stop()


@pytest.fixture(scope="session")
async def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                fake_wechat: Any, fake_sms: Any, fake_smtp: Any, fake_wechatpay: Any) -> AsyncIterator[Stack]:
    from backend.app import create_app
    from backend.cli import migrate

    name = request.param
    wechat, wechat_base = fake_wechat
    tmp = tmp_path_factory.mktemp(name)
    extra: dict[str, str] = {}
    database = None
    if name == "postgres":
        problem = await _postgres_up()
        if problem:
            if IN_CI:
                pytest.fail(f"CI=true but PostgreSQL/Redis are not reachable: {problem}")
            pytest.skip(f"PostgreSQL/Redis not reachable ({problem}); set them up to run the postgres stack")
        database = f"mp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        extra = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
                 "REDIS_URL": REDIS_TEST_URL, "REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}:"}
    smtp, smtp_address = fake_smtp
    env = stack_environment(name, tmp, wechat, wechat_base, sms=fake_sms, smtp_address=smtp_address,
                            wechatpay=fake_wechatpay, **extra)
    settings = load_settings(env)
    if name == "postgres":
        # The schema comes from the migrations, as in production: a missing migration fails here.
        await migrate(settings)
    manual = clock.ManualClock(START)
    clock.install(manual)
    app = create_app(settings, configure_logs=False)
    from tests.support_routes import bp as support_bp

    app.blueprint(support_bp)
    server, port = await start_server(app)
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 limits=httpx.Limits(max_connections=200)) as http:
        yield Stack(name, settings, app, base_url, http, manual, wechat, fake_sms, smtp, env)
    await stop_server(server)
    clock.reset()
    if database:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def _truncate_all() -> None:
    from tortoise import Tortoise, connections

    conn = connections.get("default")
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()
              if model._meta.db_table != "aerich"]
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        await conn.execute_script("".join(f"DELETE FROM {table};" for table in tables)
                                  + "DELETE FROM sqlite_sequence;")


async def _clear_kv(stack: Stack) -> None:
    kv = stack.kv
    if hasattr(kv, "client"):
        keys = [key async for key in kv.client.scan_iter(match=kv.prefix + "*", count=500)]
        if keys:
            await kv.client.delete(*keys)
    else:
        kv._data.clear()
        kv._sets.clear()


@pytest.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    await _truncate_all()
    await _clear_kv(stack)
    program.forget()
    policy.forget()
    templates.forget()
    auto_tags.forget()
    lifecycle.forget()
    stack.clock.set(START)
    stack.wechat.reset()
    stack.sms.reset()
    stack.smtp.reset()
    yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def gather(*aws: Any) -> Any:
    return asyncio.gather(*aws)
