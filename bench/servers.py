"""Server processes for the targets: a free loopback port, a readiness probe, a clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import httpx

from bench import Server

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_path(log_dir: Path, name: str) -> Path:
    return log_dir / (re.sub(r"[^\w.-]", "_", name) + ".log")


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@asynccontextmanager
async def running(server: Server, *, name: str, log_dir: Path) -> AsyncIterator[str]:
    """Start ``server`` on a free port, wait until it answers HTTP, yield its base URL, stop it."""
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in server.argv]
    log = log_path(log_dir, name)
    log_file = log.open("wb")
    try:
        # Its own session: Ctrl-C reaches the harness only, which stops servers in order.
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env={**os.environ, **server.env}, stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    finally:
        log_file.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(process, base_url, name=name, log=log)
        yield base_url
    finally:
        await stop(process)


async def _wait_ready(process: asyncio.subprocess.Process, base_url: str, *, name: str, log: Path) -> None:
    """Any HTTP answer (a 404 included) means the listeners ran and the socket serves."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.returncode is not None:
                raise ServerError(f"{name} exited with {process.returncode} before it was ready:\n"
                                  f"{log_tail(log)}")
            try:
                await client.get(base_url + "/")
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{name} did not answer on {base_url} within {READY_TIMEOUT_S}s:\n"
                                  f"{log_tail(log)}")
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (Sanic stops gracefully, runs its after-stop listeners), SIGKILL if it hangs."""
    if process.returncode is not None:
        return
    with suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with suppress(ProcessLookupError):
            process.kill()
        await process.wait()
