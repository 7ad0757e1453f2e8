"""Server processes for real: ``serve --workers 2`` killed with SIGKILL takes its workers with it and a
restart on the same port serves at once; the one-command server runs the scheduler itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from jobs.models import JobRun, Touch
from notifications.models import Message
from tests.conftest import _free_port
from tests.factories import bearer
from tests.notify_helpers import add_promo, admin_token, shopper

START_WITHIN_S = 90  # a worker imports the whole app; on a busy two-core machine that has taken 20 s


async def serve(env: dict[str, str], port: int, log: Path, *args: str) -> asyncio.subprocess.Process:
    # A session of its own: when a worker misses its start-up ack, Sanic kills its whole process group.
    # Output to a file, not a pipe: workers that outlive the process would hold a pipe, and wait(), open.
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend", "serve", "--port", str(port), *args, env=env, start_new_session=True,
            stdout=asyncio.subprocess.DEVNULL, stderr=out)


async def until_up(client: httpx.AsyncClient, process: asyncio.subprocess.Process, log: Path,
                   path: str = "/healthz") -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise AssertionError(tail(log))
        try:
            if (await client.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"the server did not answer {path} within {START_WITHIN_S} s")


async def until_workers_ready(log: Path, workers: int) -> None:
    """Both workers serving (a SIGTERM while one still starts leaves Sanic's main process spinning)."""
    for _ in range(START_WITHIN_S * 5):
        if tail(log, 0).count('"Worker ready') >= workers:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {workers} workers ready: {tail(log)}")


def tail(log: Path, chars: int = 3000) -> str:
    text = log.read_text(errors="replace")
    return text[-chars:] if chars else text


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == str(pid):
                found.append(int(entry.name))
    return found


def _stat(pid: int) -> list[str] | None:
    """(state, parent pid, ...) of a process, None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def running(pids: list[int]) -> list[int]:
    # A zombie (state Z) has exited and holds nothing; only its parent's reaping is left.
    return [pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"]


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


@pytest.mark.postgres_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_sigkill_of_the_server_takes_its_workers_down_and_a_restart_on_the_port_serves(stack, tmp_path):
    env = {**os.environ, **(stack.env or {}), "DATA_DIR": str(tmp_path), "LOG_LEVEL": "INFO"}
    port = _free_port()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = await serve(env, port, first_log, "--workers", "2")
    spawned: list[int] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        try:
            await until_up(client, first, first_log)
            await until_workers_ready(first_log, 2)
            spawned = children(first.pid)  # two workers, the multiprocessing manager and its resource tracker
            assert len(spawned) >= 3, spawned

            first.send_signal(signal.SIGKILL)
            await first.wait()
            killed_at = time.monotonic()
            for _ in range(200):  # 10 s at most
                if not running(spawned):
                    break
                await asyncio.sleep(0.05)
            gone_after_s = time.monotonic() - killed_at
        finally:
            if first.returncode is None:
                os.killpg(first.pid, signal.SIGKILL)
                await first.wait()
            leftovers = running(spawned)
            for pid in leftovers:  # without the fix they would serve on, long after this test
                os.kill(pid, signal.SIGKILL)
        assert leftovers == [], f"still running {gone_after_s:.1f} s after the kill: {leftovers}"
        assert gone_after_s < 5

        second = await serve(env, port, second_log, "--workers", "2")
        try:
            await until_up(client, second, second_log)
            await until_workers_ready(second_log, 2)
            assert (await client.get("/readyz")).json()["checks"] == {"database": "ok", "redis": "ok"}
        finally:
            await stop(second)
        assert "Address already in use" not in tail(second_log)


@pytest.mark.sqlite_only
async def test_the_one_command_server_runs_a_scheduled_touch_without_a_scheduler_process(stack, tmp_path):
    # given: members, a promotion and a one-off touch for everyone with a phone, not yet scheduled
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(2)]
    segment = await stack.http.post("/api/v1/admin/segments", headers=bearer(admin), json={
        "name": "有手机号", "rule": {"field": "has_phone", "op": "eq", "value": True}})
    touch = await stack.http.post("/api/v1/admin/touches", headers=bearer(admin), json={
        "name": "春季促销", "channels": ["sms"], "template_key": "promo",
        "audience": {"segment_id": segment.json()["id"]}, "schedule": {"at": stack.clock.now().isoformat()}})
    assert touch.status_code == 201, touch.text
    touch_id = touch.json()["id"]

    # when: one web process on the same database (SQLite, in-process store) with the scheduler in it,
    # and the touch is scheduled in the console afterwards
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR", "SCHEDULER_IN_APP": "true",
           "SCHEDULER_REFRESH_S": "1"}
    port, log = _free_port(), tmp_path / "serve.log"
    server = await serve(env, port, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await until_up(client, server, log, "/readyz")
            ready = (await client.get("/readyz")).json()
        scheduled = await stack.http.post(f"/api/v1/admin/touches/{touch_id}/schedule", headers=bearer(admin))
        assert scheduled.status_code == 200, scheduled.text
        for _ in range(150):  # 30 s at most
            if await JobRun.exists(job=f"touch:{touch_id}", status="done"):
                break
            await asyncio.sleep(0.2)
    finally:
        await stop(server)

    # then: the run happened once, in that process, and queued the touch's messages
    assert ready["checks"] == {"database": "ok", "store": "ok"}
    assert ready["backends"] == {"database": "sqlite", "store": "memory"}
    runs = await JobRun.filter(job=f"touch:{touch_id}").values("status", "counts")
    assert [r["status"] for r in runs] == ["done"], runs
    assert (await Touch.get(id=touch_id)).status == "finished"
    assert sorted(await Message.filter(touch_id=touch_id).values_list("member_id", flat=True)) == sorted(members)
