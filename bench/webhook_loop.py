"""``python -m bench.webhook_loop``: one process of the ``webhooks`` benchmark's baseline, a bare signed-POST loop.

It reads the events the project's workers delivered (``--payloads``: JSON lines of ``webhook-id`` and the
body, as ``backend.webhooks.delivery.body_of`` builds it from the event row), keeps its share (every
``--of``-th from ``--part``), and takes the worker's HTTP client (``WebhookWorker(settings).client``: the
same ``httpx.AsyncClient``, timeout, redirects and user agent) and the endpoint's secret (environment
``BENCH_WEBHOOK_SECRET``). It prints ``ready``; on ``go`` (stdin) it POSTs them to ``--url`` with
``--concurrency`` requests in flight: the Standard Webhooks headers (``backend.webhooks.signing.headers``,
signed at send time with the wall clock, as the worker signs) and an HTTP POST each, nothing else (no
database, claim, lease, URL check or write-back of the worker). Then one JSON line: when it started and
finished (``time.monotonic()``: one clock for every process of the machine), its CPU seconds and the
answers (status codes, or the exception's type).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from backend.settings import load_settings
from backend.webhooks import signing
from backend.webhooks.delivery import WebhookWorker


async def post_all(events: list[tuple[str, str]], url: str, secret: str, concurrency: int) -> dict[str, object]:
    worker = WebhookWorker(load_settings())
    client = worker.client
    outcomes: Counter[str] = Counter()
    pending = iter(events)

    async def sender() -> None:
        for msg_id, body in pending:  # one shared iterator: each event is taken by exactly one sender
            head = signing.headers(msg_id=msg_id, timestamp=int(time.time()), body=body, secrets_=[secret])
            try:
                response = await client.post(url, content=body.encode(),
                                             headers={**head, "content-type": "application/json"})
                outcomes[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1

    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go": every process starts at once
    cpu, started = time.process_time(), time.monotonic()
    try:
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        finished = time.monotonic()
    finally:
        await worker.close()
    return {"started": started, "finished": finished, "cpu_s": time.process_time() - cpu,
            "posted": len(events), "outcomes": dict(outcomes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_loop", description=__doc__.split("\n")[0])
    parser.add_argument("--payloads", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--of", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    secret = os.environ["BENCH_WEBHOOK_SECRET"]
    with args.payloads.open() as lines:
        events = [(item["id"], item["body"]) for n, item in enumerate(map(json.loads, lines)) if n % args.of == args.part]
    print(json.dumps(asyncio.run(post_all(events, args.url, secret, args.concurrency))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
