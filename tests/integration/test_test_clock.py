"""Test clocks: one admin call moves time forward for every process of a deployment (never in production)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from backend.settings import SettingsError, load_settings
from backend.stores import service as stores
from tests.factories import bearer, make_staff, unique


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _serve(env: dict[str, str]) -> tuple[Any, str]:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(base + "/healthz")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            if process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError((await process.stderr.read()).decode()[-2000:])
            await asyncio.sleep(0.1)


async def test_the_test_clock_is_off_unless_configured(stack):
    # Given the suite's stack, which does not set TEST_CLOCK
    _, token = await make_staff(stack, role="admin")
    # Then the clock reads as the real one and cannot be moved
    view = (await stack.http.get("/api/v1/admin/test-clock", headers=bearer(token))).json()
    assert view["enabled"] is False and view["offset_s"] == 0
    moved = await stack.http.post("/api/v1/admin/test-clock/advance", json={"seconds": 86400}, headers=bearer(token))
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "TEST_CLOCK_DISABLED"
    # And a marketer may not even read it
    _, marketer = await make_staff(stack, role="marketer")
    assert (await stack.http.get("/api/v1/admin/test-clock", headers=bearer(marketer))).status_code == 403


def test_production_refuses_to_start_with_a_test_clock():
    with pytest.raises(SettingsError, match="TEST_CLOCK"):
        load_settings({"APP_ENV": "production", "TEST_CLOCK": "1", "SECRET_KEY": "s" * 48,
                       "PII_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                       "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"})


@pytest.mark.postgres_only
async def test_advancing_the_clock_moves_every_process_of_the_deployment(stack):
    # Given two web processes and the deployment's admin, all on the test clock
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR", "TEST_CLOCK": "1", "TEST_CLOCK_POLL_S": "0.2",
           "WORKER_IN_APP": "0"}
    username, password = unique("admin"), "correct-horse-1"
    await stores.create_staff(username=username, password=password, role="admin", store_code=None)
    first, first_url = await _serve(env)
    second, second_url = await _serve(env)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            login = await client.post(first_url + "/api/v1/staff/session",
                                      json={"username": username, "password": password})
            token = login.json()["token"]
            before = (await client.get(second_url + "/api/v1/admin/test-clock", headers=bearer(token))).json()
            assert before["enabled"] is True and before["offset_s"] == 0
            # When the admin moves time forward 40 days on the first process
            moved = await client.post(first_url + "/api/v1/admin/test-clock/advance", json={"seconds": 40 * 86400},
                                      headers=bearer(token))
            assert moved.status_code == 200, moved.text
            assert moved.json()["offset_s"] == 40 * 86400
            # Then the second process reads the same time within its poll interval: the 12-hour staff token
            # from before the move has expired there, as it would after 40 real days
            await asyncio.sleep(0.6)
            stale = await client.get(second_url + "/api/v1/admin/test-clock", headers=bearer(token))
            assert stale.status_code == 401
            token = (await client.post(second_url + "/api/v1/staff/session",
                                       json={"username": username, "password": password})).json()["token"]
            after = (await client.get(second_url + "/api/v1/admin/test-clock", headers=bearer(token))).json()
            assert after["offset_s"] == 40 * 86400
            shown = datetime.fromisoformat(after["now"])
            assert abs(shown - (datetime.now(UTC) + timedelta(days=40))) < timedelta(minutes=1)
            # And the move was audited
            log = (await client.get(first_url + "/api/v1/admin/audit-log", headers=bearer(token))).json()
            assert any(row["action"] == "test_clock.advance" for row in log["items"])
    finally:
        for process in (first, second):
            process.terminate()
            await process.wait()
    # And a job run started afterwards runs for the moved day
    job = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "run-job", "program:coupon_expiry", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(job.communicate(), timeout=60)
    assert job.returncode == 0, err.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    moved_day = (datetime.now(UTC) + timedelta(days=40)).astimezone(ZoneInfo(stack.settings.timezone)).date()
    assert result["period"] == moved_day.isoformat(), result
