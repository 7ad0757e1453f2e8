"""A loopback webhook receiver: a real HTTP server that verifies every delivery's Standard Webhooks
signature with the reference library (``standardwebhooks``) and records what it got.

Answers come from ``rule`` (a function of the JSON body that may name an answer), the scripted queue
(``script``: status, headers, delay) and then ``mode`` (200 by default): fail with 500, answer slowly, 410, or 429/503 with ``Retry-After`` on demand.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    verified_by: list[str]  # the secrets (of ``secrets``) whose signature verified

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def signatures(self) -> list[str]:
        return self.headers.get("webhook-signature", "").split(" ")


class FakeWebhookReceiver:
    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self.script: deque[Answer] = deque()
        self.mode = Answer()
        self.rule: Callable[[Any], Answer | None] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with fake._lock:
                    answer = fake.rule(json.loads(body)) if fake.rule else None
                    if answer is None:
                        answer = fake.script.popleft() if fake.script else fake.mode
                    secrets = list(fake.secrets)
                verified = []
                for secret in secrets:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(secret)
                    except WebhookVerificationError:
                        pass
                with fake._lock:  # on arrival: a slow answer belongs to the test that asked for it
                    fake.received.append(Received(self.path, headers, body, answer.status, verified))
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                payload = b'{"ok":true}'
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a slow answer past its timeout)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url("/hook")

    def url(self, path: str = "/hook") -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.received.clear()
            self.script.clear()
            self.mode = Answer()
            self.rule = None

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def of_type(self, type_: str) -> list[Received]:
        return [item for item in self.received if item.json.get("type") == type_]
