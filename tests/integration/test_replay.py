"""Replay protection for signed integration requests outlives the key-value store: a request captured
before Redis restarted (or the one-process server's in-memory store was lost) is refused afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime

import httpx
import pytest
from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from backend.security.nonces import UsedNonce
from tests.conftest import _clear_kv, _free_port
from tests.factories import make_app_key, signed_headers

LOOKUP = "/api/v1/integrations/members/lookup"
BODY = json.dumps({"phone": "13800138000"}).encode()


def captured(key_id: str, secret: str, nonce: str = "captured-nonce-1") -> dict[str, str]:
    return signed_headers(key_id, secret, "POST", LOOKUP, BODY, nonce=nonce)


async def test_a_replay_is_refused_after_the_key_value_store_lost_everything(stack):
    key_id, secret = await make_app_key(stack)
    headers = captured(key_id, secret)
    first = await stack.http.post(LOOKUP, content=BODY, headers=headers)
    assert first.status_code == 404  # accepted: the signature passed, no such member

    await _clear_kv(stack)  # what a Redis restart without persistence (or a new process) leaves
    replay = await stack.http.post(LOOKUP, content=BODY, headers=headers)

    assert replay.status_code == 401
    assert replay.json()["error"]["details"] == {"reason": "nonce_reused"}
    rows = await UsedNonce.filter(app_key=key_id).values("nonce", "signed_at")
    assert rows == [{"nonce": "captured-nonce-1",
                     "signed_at": datetime.fromtimestamp(int(headers["X-Timestamp"]), tz=UTC)}]


async def test_the_same_signed_request_sent_twenty_times_at_once_is_accepted_once(stack):
    key_id, secret = await make_app_key(stack)
    headers = captured(key_id, secret, nonce="racing-nonce-1")

    answers = await asyncio.gather(*(stack.http.post(LOOKUP, content=BODY, headers=headers) for _ in range(20)))

    assert sorted(a.status_code for a in answers) == [401] * 19 + [404]
    assert {a.json()["error"]["details"].get("reason") for a in answers if a.status_code == 401} == {"nonce_reused"}
    assert await UsedNonce.filter(app_key=key_id, nonce="racing-nonce-1").count() == 1


async def test_one_nonce_is_spent_per_app_key_not_across_keys(stack):
    mall, mall_secret = await make_app_key(stack)
    pos, pos_secret = await make_app_key(stack)

    by_mall = await stack.http.post(LOOKUP, content=BODY, headers=captured(mall, mall_secret, "shared-nonce-1"))
    by_pos = await stack.http.post(LOOKUP, content=BODY, headers=captured(pos, pos_secret, "shared-nonce-1"))

    assert by_mall.status_code == 404 and by_pos.status_code == 404
    assert sorted(await UsedNonce.filter(nonce="shared-nonce-1").values_list("app_key", flat=True)) == sorted(
        [mall, pos])


class PrivateRedis:
    """A redis-server of our own, without persistence, that the test kills and starts again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        client = aioredis.from_url(f"redis://127.0.0.1:{self.port}/0", socket_connect_timeout=0.5)
        try:
            for _ in range(50):
                try:
                    await client.ping()
                    return
                except (OSError, redis_errors.ConnectionError):  # the port is not open yet
                    await asyncio.sleep(0.1)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@pytest.mark.postgres_only
async def test_a_request_captured_before_a_redis_restart_is_refused_after_it(stack, tmp_path):
    stack.clock.set(datetime.now(UTC))  # the server process runs on the real clock
    redis = PrivateRedis()
    await redis.start()
    port = _free_port()
    env = {**os.environ, **(stack.env or {}), "DATA_DIR": str(tmp_path), "LOG_LEVEL": "ERROR",
           "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await _until(client, "/readyz", 200)
            key_id, secret = await make_app_key(stack)
            headers = captured(key_id, secret)
            assert (await client.post(LOOKUP, content=BODY, headers=headers)).status_code == 404

            await redis.kill()
            await redis.start()  # same port, empty: no persistence
            await _until(client, "/readyz", 200)
            replay = await client.post(LOOKUP, content=BODY, headers=headers)
            fresh = await client.post(LOOKUP, content=BODY, headers=captured(key_id, secret, "after-restart-1"))

        assert replay.status_code == 401
        assert replay.json()["error"]["details"] == {"reason": "nonce_reused"}
        assert fresh.status_code == 404
        assert await UsedNonce.filter(app_key=key_id).count() == 2
    finally:
        server.terminate()
        await server.wait()
        await redis.kill()


async def _until(client: httpx.AsyncClient, path: str, status: int, within_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (await client.get(path)).status_code == status:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} did not answer {status} within {within_s} s")
