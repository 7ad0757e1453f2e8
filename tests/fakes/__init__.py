"""Loopback fakes of outside systems, spoken to over real sockets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class LoopbackFake:
    """A fake's HTTP server on a free loopback port, served from a daemon thread: ``_serve`` starts it and
    sets ``base_url``; ``stop`` shuts it."""

    _server: ThreadingHTTPServer | None = None
    base_url = ""

    def _serve(self, handler: type[BaseHTTPRequestHandler], name: str) -> str:
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, name=name, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
