"""``python -m bench.fake_sms``: the loopback fake of Tencent SMS (``tests/fakes/tencent_sms.py``) in a process
of its own, for the ``dispatch`` benchmark.

Apart from the workers and the baseline loop, its request threads (one per keep-alive connection) do not
take turns with them for one interpreter lock. It is the tests' fake, unchanged: every request's TC3
signature is recomputed and checked, every send recorded. It prints one JSON line (its URL and the
credentials to sign with), then answers commands read from stdin with one JSON line each:

- ``reset``: forget the calls and sends recorded so far (between the project's run and the baseline's);
- ``stats``: calls, sends, distinct SessionContext values, answers other than ``Ok``, CPU seconds used;
- ``contexts``: the SessionContext of every send, in order received.

It exits when stdin closes, so it never outlives the harness.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Any

from tests.fakes.tencent_sms import FakeTencentSms


def stats(fake: FakeTencentSms) -> dict[str, Any]:
    """What the fake saw since the last reset (read while no request is in flight)."""
    contexts = Counter(str(sent["session_context"]) for sent in fake.sent)
    return {
        "calls": len(fake.calls),
        "sent": len(fake.sent),
        "distinct_contexts": len(contexts),
        "repeated_contexts": sum(1 for n in contexts.values() if n > 1),
        "late": sum(1 for sent in fake.sent if sent["late"]),
        "not_ok": {code: n for code, n in fake.stats.items() if code not in ("calls", "sent")},
        "cpu_s": time.process_time(),
    }


def main() -> int:
    fake = FakeTencentSms()
    url = fake.start()
    print(json.dumps({"url": url, "secret_id": fake.secret_id, "secret_key": fake.secret_key,
                      "sdk_app_id": fake.sdk_app_id}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                fake.reset()
                answer: Any = {"ok": True}
            elif command == "stats":
                answer = stats(fake)
            elif command == "contexts":
                answer = [str(sent["session_context"]) for sent in fake.sent]
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
