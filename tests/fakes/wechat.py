"""A loopback fake of the WeChat server API, for the real wechatpy client to talk to over HTTP.

Speaks jscode2session, the access token (cgi-bin/token and cgi-bin/stable_token), getuserphonenumber
and subscribe-message send, with WeChat's habits: errors are HTTP 200 with ``errcode``/``errmsg``,
codes work once, and a bad access token is errcode 40001. Subscribe sends are checked like WeChat
checks them (template, openid, field values by type, daily quota, the user's consent) by a small rule
set of its own, so the product's field rules are tested against something they did not write.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token")
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"
_MOMENT = r"(?:[0-9]{4}(?:年[0-9]{1,2}月[0-9]{1,2}日|[-/.][0-9]{1,2}[-/.][0-9]{1,2})(?: ?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?" \
          r"|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)"
# WeChat's documented rule per field type, as a check on the value (already known to be a non-empty str).
FIELD_RULES = {
    "thing": lambda v: len(v) <= 20,
    "number": lambda v: re.fullmatch(r"[+-]?[0-9]+(?:\.[0-9]+)?", v) and len(re.sub(r"[^0-9]", "", v)) <= 32,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v),
    "symbol": lambda v: len(v) <= 5 and not any(c.isalnum() or c.isspace() for c in v),
    "character_string": lambda v: re.fullmatch(r"[!-~]{1,32}", v),
    "phone_number": lambda v: re.fullmatch(r"[0-9+\-() ]{1,17}", v),
    "name": lambda v: len(v) <= (10 if re.search(r"[\u4e00-\u9fff]", v) else 20),
    "phrase": lambda v: re.fullmatch(r"[\u4e00-\u9fff]{1,5}", v),
    "amount": lambda v: re.fullmatch(r"[¥￥]?[0-9]{1,10}(?:\.[0-9]+)?元?", v),
    "time": lambda v: re.fullmatch(f"{_MOMENT}(?: ?~ ?{_MOMENT})?", v),
    "date": lambda v: re.fullmatch(f"{_MOMENT}(?: ?~ ?{_MOMENT})?", v),
    "car_number": lambda v: len(v) <= 8,
}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open hundreds of connections at once


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
            self._templates: dict[str, tuple[str, ...]] = {}  # none registered: any template id is known
            self._refused: set[str] = set()
            self.quota_exceeded = False  # subscribe send answers 45009 while set
            self._msgid = 1_000_000

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: every reply carries Content-Length

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
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

    def add_template(self, template_id: str, keys: tuple[str, ...] = ()) -> None:
        """Make ``template_id`` known (once any is, others answer 40037); ``keys`` must all be in data."""
        with self._lock:
            self._templates[template_id] = tuple(keys)

    def refuse(self, openid: str) -> None:
        """Sends to ``openid`` answer 43101 (no credit or refused) until ``accept``."""
        with self._lock:
            self._refused.add(openid)

    def accept(self, openid: str) -> None:
        with self._lock:
            self._refused.discard(openid)

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
        if path in ("/wxa/business/getuserphonenumber", SUBSCRIBE_SEND):
            token = args.get("access_token")
            if not token:
                return {"errcode": 41001, "errmsg": "access_token missing"}
            if token not in self._tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            if path.endswith("getuserphonenumber"):
                return self._phone_number(args)
            return self._subscribe_send(args)
        return {"errcode": 404, "errmsg": f"fake WeChat has no {path}"}

    def _subscribe_send(self, args: dict[str, Any]) -> dict[str, Any]:
        # The order WeChat appears to check in: arguments, template, openid, data, quota, consent.
        for name in ("touser", "template_id"):
            if not isinstance(args.get(name), str) or not args[name]:
                return {"errcode": 47003, "errmsg": f"argument invalid! {name} is empty"}
        template_id, openid = args["template_id"], args["touser"]
        if self._templates and template_id not in self._templates:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", openid):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if args.get("miniprogram_state", "formal") not in MINIPROGRAM_STATES:
            return {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state invalid"}
        if args.get("lang", "zh_CN") not in LANGS:
            return {"errcode": 47003, "errmsg": "argument invalid! lang invalid"}
        problem = self._data_problem(args.get("data"), self._templates.get(template_id, ()))
        if problem:
            return {"errcode": 47003, "errmsg": f"argument invalid! {problem}"}
        if self.quota_exceeded:
            return {"errcode": 45009, "errmsg": "reach max api daily quota limit"}
        if openid in self._refused:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
        self._msgid += 1
        self.sent.append({k: v for k, v in args.items() if k != "access_token"})
        return {"errcode": 0, "errmsg": "ok", "msgid": self._msgid}

    @staticmethod
    def _data_problem(data: Any, required: tuple[str, ...]) -> str | None:
        if not isinstance(data, dict) or not data:
            return "data is empty"
        for key in required:
            if key not in data:
                return f"data.{key}.value is empty"
        for key, entry in data.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, str) or not value:
                return f"data.{key}.value is empty"
            rule = FIELD_RULES.get(key.rstrip("0123456789"))
            if _CONTROL.search(value) or (rule is not None and not rule(value)):
                return f"data.{key}.value invalid"
        return None

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
