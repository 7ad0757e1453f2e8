"""``python -m bench.sms_loop``: one process of the ``dispatch`` benchmark's baseline, a bare send loop.

It reads the SMS the project's workers sent (``--payloads``: JSON lines of message id, phone, provider
template id, parameters and text, as the workers rendered them), keeps its share (every ``--of``-th from
``--part``) as ``Outgoing`` objects, and builds the SMS channel as the worker does
(``notifications.providers.build_channels`` from the environment: the same ``TencentSms`` and connection
pool, the same fake). It prints ``ready``; on ``go`` (stdin) it sends them with ``--concurrency`` sends in
flight: a TC3 signature and an HTTP POST each, nothing else (no database, rules, rendering or logs of the
worker). Then one JSON line: when it started and finished (``time.monotonic()``: one clock for every
process of the machine), its CPU seconds and the outcomes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from backend.settings import load_settings
from notifications.channels.base import Outgoing
from notifications.providers import build_channels


def outgoing(line: str) -> Outgoing:
    item = json.loads(line)
    return Outgoing(message_id=item["id"], channel="sms", purpose=item["purpose"], to=item["phone"],
                    sms_template_id=item["template_id"], sms_params=tuple(item["params"]), text=item["text"])


async def send_all(messages: list[Outgoing], concurrency: int) -> dict[str, object]:
    channel = build_channels(load_settings(), None)["sms"]
    outcomes: Counter[str] = Counter()
    pending = iter(messages)

    async def sender() -> None:
        for message in pending:  # one shared iterator: each message is taken by exactly one sender
            outcomes[(await channel.send(message)).outcome] += 1

    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go": every process starts at once
    cpu, started = time.process_time(), time.monotonic()
    try:
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        finished = time.monotonic()
    finally:
        await channel.close()
    return {"started": started, "finished": finished, "cpu_s": time.process_time() - cpu,
            "sent": len(messages), "outcomes": dict(outcomes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sms_loop", description=__doc__.split("\n")[0])
    parser.add_argument("--payloads", type=Path, required=True)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--of", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    with args.payloads.open() as lines:
        messages = [outgoing(line) for n, line in enumerate(lines) if n % args.of == args.part]
    print(json.dumps(asyncio.run(send_all(messages, args.concurrency))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
