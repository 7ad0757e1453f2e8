"""``python -m bench.webhook_sink``: the loopback webhook receiver (``tests/fakes/webhook_receiver.py``) in a
process of its own, for the ``webhooks`` benchmark.

Apart from the workers and the baseline loop, its request threads (one per keep-alive connection) do not
take turns with them for one interpreter lock. It is the tests' fake, unchanged: every delivery's Standard
Webhooks signature is verified with the reference library (``standardwebhooks``, which also refuses a
``webhook-timestamp`` more than 5 minutes off) and recorded; it answers 200 at once. Only its listen backlog
is deeper and its answers leave without Nagle's delay (see ``main``). It prints one JSON
line (its URL), then answers commands read from stdin with one JSON line each:

- ``secret whsec_...``: verify signatures with this secret (the endpoint's, answered once by ``create_endpoint``);
- ``reset``: forget what was received so far (between the project's run and the baseline's), keep the secrets;
- ``stats``: requests, distinct ``webhook-id`` values, repeats, requests whose signature did not verify or
  whose body's ``id`` is not their ``webhook-id``, answers by status, CPU seconds used;
- ``digests``: ``{webhook-id: sha256 of the body}`` of every distinct id, and the ids whose copies differ.

It exits when stdin closes, so it never outlives the harness.
"""

from __future__ import annotations

import hashlib
import json
import socketserver
import sys
import time
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes.webhook_receiver import FakeWebhookReceiver, Received


def _received(fake: FakeWebhookReceiver) -> list[Received]:
    with fake._lock:  # a snapshot: handler threads append under the same lock
        return list(fake.received)


def stats(fake: FakeWebhookReceiver) -> dict[str, Any]:
    received = _received(fake)
    ids = Counter(item.headers.get("webhook-id", "") for item in received)
    mislabelled = 0
    for item in received:
        try:
            if item.json.get("id") != item.headers.get("webhook-id"):
                mislabelled += 1
        except ValueError:
            mislabelled += 1
    return {
        "requests": len(received),
        "distinct_ids": len(ids),
        "repeats": len(received) - len(ids),
        "repeated_ids": sum(1 for n in ids.values() if n > 1),
        "unverified": sum(1 for item in received if not item.verified_by),
        "mislabelled": mislabelled,
        "answered": {str(code): n for code, n in Counter(item.answered for item in received).items()},
        "cpu_s": time.process_time(),
    }


def digests(fake: FakeWebhookReceiver) -> dict[str, Any]:
    seen: dict[str, str] = {}
    differing: set[str] = set()
    for item in _received(fake):
        msg_id = item.headers.get("webhook-id", "")
        digest = hashlib.sha256(item.body).hexdigest()
        if seen.setdefault(msg_id, digest) != digest:
            differing.add(msg_id)
    return {"digests": seen, "differing": sorted(differing)}


# Two socketserver defaults that a receiver under load does not keep (as tests/fakes/tencent_sms.py does not):
# a listen backlog of 5, which 32 connections opened at once (the baseline's start) overflow, and some are
# reset (httpx ReadError); and Nagle's algorithm on the answers, whose body (a second write after the
# headers) then waits for the client's delayed ACK: 40 ms an answer, and both sides would measure that.
LISTEN_BACKLOG = 256


def main() -> int:
    # This process only (the tests' fake is unchanged): its handler and server classes inherit these.
    ThreadingHTTPServer.request_queue_size = LISTEN_BACKLOG
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    fake = FakeWebhookReceiver()
    url = fake.start()
    print(json.dumps({"url": url}), flush=True)
    try:
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "secret" and argument:
                with fake._lock:
                    fake.secrets.append(argument)
                answer: Any = {"ok": True}
            elif command == "reset":
                with fake._lock:
                    fake.received.clear()
                answer = {"ok": True}
            elif command == "stats":
                answer = stats(fake)
            elif command == "digests":
                answer = digests(fake)
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
