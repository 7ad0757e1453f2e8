"""The processes of ``python -m backend serve --workers N``: workers die with the serving process.

Sanic's main process binds the port and spawns the workers (and a multiprocessing manager process
for their shared state). Killed with SIGKILL it runs no cleanup, and its children would go on
serving and holding the port, so a restart fails with ``Address already in use``. Each worker
therefore asks the kernel for SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), checks its
parent every second as well (other systems, and a parent that died before the request), stops
gracefully (the listening socket closes first), and once stopped ends the orphaned manager. A new
``serve`` waits a few seconds for the port rather than failing while the old workers finish.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

log = logging.getLogger("backend.serving")

SERVE_PID = "MEMBER_PLATFORM_SERVE_PID"  # the serving process, as its workers inherit it
MANAGER = "MEMBER_PLATFORM_SERVE_MANAGER"  # "pid:start time" of Sanic's multiprocessing manager
PR_SET_PDEATHSIG = 1


def prepare_main(app: Any) -> None:
    """In the serving process, before Sanic spawns anything: let the workers know who their parent is."""
    os.environ[SERVE_PID] = str(os.getpid())

    @app.main_process_ready
    async def remember_manager(app: Any) -> None:
        # Started before this listener, the workers after it: they inherit the variable.
        for child in multiprocessing.active_children():
            started = _start_time(child.pid or 0)
            if child.name.startswith("SyncManager") and started:
                os.environ[MANAGER] = f"{child.pid}:{started}"


def parent_if_worker() -> int | None:
    """The serving process' pid when this process is one of its workers, else None."""
    serving = os.environ.get(SERVE_PID, "")
    return int(serving) if serving.isdigit() and int(serving) != os.getpid() else None


def die_with_parent(app: Any, parent: int) -> None:
    """In a worker: stop when ``parent`` dies, however it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed", extra={"errno": ctypes.get_errno()})
    if os.getppid() != parent:  # it died before the kernel was asked
        os._exit(1)

    @app.before_server_start
    async def watch(app: Any) -> None:
        # A plain task, not one of Sanic's: it ends with the server without a warning about it.
        app.ctx.parent_watch = asyncio.get_running_loop().create_task(_watch_parent(parent))

    @app.before_server_stop
    async def unwatch(app: Any) -> None:
        app.ctx.parent_watch.cancel()

    @app.after_server_stop
    async def end_orphans(app: Any) -> None:
        if os.getppid() != parent:
            _end_manager()


async def _watch_parent(parent: int) -> None:
    while True:  # polling: there is nothing to wait on for another process' death
        await asyncio.sleep(1)
        if os.getppid() != parent:
            break
    log.warning("the serving process is gone: stopping this worker", extra={"parent": parent})
    os.kill(os.getpid(), signal.SIGTERM)  # the same graceful stop as a signal from the kernel


def _end_manager() -> None:
    pid, _, started = os.environ.get(MANAGER, "").partition(":")
    # The start time guards against a recycled pid: only the manager this server started is ended.
    if pid.isdigit() and started and _start_time(int(pid)) == started:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass


def _start_time(pid: int) -> str | None:
    """A process' start time in clock ticks since boot (field 22 of /proc/PID/stat); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 else None


def wait_for_port(host: str, port: int, within_s: float = 10.0) -> None:
    """Return once ``host:port`` can be bound; a killed server's workers may need a moment to let go."""
    deadline, waited = time.monotonic() + within_s, False
    while True:
        try:
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                return  # let the server's own bind report it
            if not waited:
                log.warning("port in use: waiting for it", extra={"port": port, "within_s": within_s})
                waited = True
            time.sleep(0.1)
