"""A loopback fake of the WeChat server API, for the real wechatpy client to talk to over HTTP.

Speaks jscode2session, the access token (cgi-bin/token and cgi-bin/stable_token), getuserphonenumber
and subscribe-message send, with WeChat's habits: errors are HTTP 200 with ``errcode``/``errmsg``,
codes work once, and a bad access token is errcode 40001.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token")


class FakeWeChat:
    def __init__(self, app_id: str = "wxtestapp0000001", app_secret: str = "test-secret") -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._tokens: set[str] = set()
        self.reset()

    def reset(self) -> None:
        """Forget codes, failures and records between tests; issued tokens stay valid (they are WeChat's)."""
        with self._lock:
            self._codes: dict[str, dict[str, Any]] = {}
            self._phone_codes: dict[str, str] = {}
            self._used: set[str] = set()
            self._failures: list[list[Any]] = []  # [path_suffix, errcode, errmsg, times left]
            self.down = False
            self.delay_s = 0.0
            self.token_fetches = 0
            self.calls: list[tuple[str, dict[str, Any]]] = []
            self.sent: list[dict[str, Any]] = []

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- test controls -------------------------------------------------------------------------------

    def add_code(self, code: str, *, openid: str, unionid: str | None = None,
                 session_key: str | None = None) -> str:
        session_key = session_key or base64.b64encode(secrets.token_bytes(16)).decode()
        with self._lock:
            self._codes[code] = {"openid": openid, "unionid": unionid, "session_key": session_key}
            self._used.discard(code)
        return session_key

    def add_phone_code(self, phone_code: str, phone: str) -> None:
        with self._lock:
            self._phone_codes[phone_code] = phone

    def encrypt_phone(self, *, session_key: str, phone: str, app_id: str | None = None) -> tuple[str, str]:
        """The legacy getPhoneNumber payload: AES-128-CBC with the session_key, PKCS#7, base64."""
        payload = json.dumps({
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": {"appid": app_id or self.app_id, "timestamp": int(time.time())},
        }).encode()
        iv = secrets.token_bytes(16)
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
        data = encryptor.update(padder.update(payload) + padder.finalize()) + encryptor.finalize()
        return base64.b64encode(data).decode(), base64.b64encode(iv).decode()

    def fail_next(self, path_suffix: str, errcode: int, errmsg: str = "fake error", times: int = 1) -> None:
        with self._lock:
            self._failures.append([path_suffix, errcode, errmsg, times])

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- the server side -----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        args: dict[str, Any] = dict(parse_qsl(url.query))
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            try:
                body = json.loads(request.rfile.read(length))
                args.update(body if isinstance(body, dict) else {})
            except ValueError:
                pass
        with self._lock:
            self.calls.append((url.path, args))
            if url.path in TOKEN_PATHS:
                self.token_fetches += 1
            down, delay = self.down, self.delay_s
        if delay:
            time.sleep(delay)
        if down:
            return self._reply(request, 502, b"<html>502 Bad Gateway</html>", "text/html")
        with self._lock:
            answer = self._injected_failure(url.path) or self._route(url.path, args)
        # WeChat sends jscode2session answers as text/plain; clients must parse the JSON regardless.
        ctype = "text/plain" if url.path.endswith("jscode2session") else "application/json; encoding=utf-8"
        self._reply(request, 200, json.dumps(answer, ensure_ascii=False).encode(), ctype)

    def _injected_failure(self, path: str) -> dict[str, Any] | None:
        for failure in self._failures:
            if path.endswith(failure[0]) and failure[3] > 0:
                failure[3] -= 1
                return {"errcode": failure[1], "errmsg": failure[2]}
        return None

    def _route(self, path: str, args: dict[str, Any]) -> dict[str, Any]:
        if path in TOKEN_PATHS:
            return self._issue_token(args)
        if path == "/sns/jscode2session":
            return self._code2session(args)
        if path in ("/wxa/business/getuserphonenumber", "/cgi-bin/message/subscribe/send"):
            token = args.get("access_token")
            if not token:
                return {"errcode": 41001, "errmsg": "access_token missing"}
            if token not in self._tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            if path.endswith("getuserphonenumber"):
                return self._phone_number(args)
            self.sent.append({k: v for k, v in args.items() if k != "access_token"})
            return {"errcode": 0, "errmsg": "ok"}
        return {"errcode": 404, "errmsg": f"fake WeChat has no {path}"}

    def _issue_token(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if args.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if args.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        # Real WeChat voids the previous token 5 minutes after a new fetch; here tokens live until
        # expire_tokens(), which stands in for both that and the 2-hour expiry.
        token = "ACCESS_" + secrets.token_hex(16)
        self._tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def _code2session(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if args.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        code = args.get("js_code", "")
        if not code:
            return {"errcode": 41008, "errmsg": "missing code"}
        if code in self._used:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in self._codes:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self._used.add(code)
        # Success has no errcode at all; unionid only when the app is bound to an open platform account.
        entry = self._codes[code]
        return {k: v for k, v in entry.items() if v is not None}

    def _phone_number(self, args: dict[str, Any]) -> dict[str, Any]:
        code = args.get("code")
        if not code:
            return {"errcode": 47001, "errmsg": "data format error"}
        # Unknown, expired and used phone codes all answer 40029 (no separate "used" code here).
        phone = self._phone_codes.pop(code, None)
        if phone is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        # phoneNumber carries a country code only for numbers outside mainland China.
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": self.app_id}}}

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Type", ctype)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
