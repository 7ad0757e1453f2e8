"""``python -m backend worker``: a notification worker process (any number may run side by side)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from backend import db, testclock
from backend.kv import create_kv
from backend.members.wechat import WeChatGateway
from backend.security.pii import PiiCipher
from backend.settings import Settings
from notifications import rendering
from notifications.dispatch import Dispatcher
from notifications.providers import build_channels, channel_limits

log = logging.getLogger("notifications.worker")


def build_dispatcher(settings: Settings, kv: Any, wechat: WeChatGateway, pii: PiiCipher, *,
                     batch_size: int = 100) -> Dispatcher:
    return Dispatcher(settings=settings, kv=kv, pii=pii, channels=build_channels(settings, wechat),
                      limits=channel_limits(settings), batch_size=batch_size)


async def close_channels(dispatcher: Dispatcher) -> None:
    for channel in dispatcher.channels.values():
        await channel.close()


async def run_worker(settings: Settings, *, once: bool = False, batch_size: int = 100, loops: int = 2) -> int:
    """Deliver due messages until SIGTERM/SIGINT (finishing the batches in flight), or once with ``once``."""
    kv = create_kv(settings.redis_url, settings.redis_prefix)
    wechat = WeChatGateway(settings, kv)
    await db.init_db(settings.database_url, generate_sqlite_schema=settings.uses_sqlite)
    await testclock.start(settings)
    rendering.configure(settings)
    dispatcher = build_dispatcher(settings, kv, wechat, PiiCipher(settings.pii_key), batch_size=batch_size)
    handled = 0
    try:
        if once:
            handled = await dispatcher.drain()
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            log.info("worker started", extra={"worker": dispatcher.worker_id, "batch": batch_size, "loops": loops})
            await dispatcher.run(stop, loops=loops)
            log.info("worker stopped", extra={"worker": dispatcher.worker_id})
    finally:
        await close_channels(dispatcher)
        await wechat.close()
        await kv.close()
        await db.close_db()
    return handled
