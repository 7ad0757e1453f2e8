"""A loopback fake of Tencent Cloud SMS (API v3 ``SendSms``), for the real client to talk to over HTTP.

Every request's TC3-HMAC-SHA256 signature is recomputed here from the bytes received (this module
has its own verifier; it shares no code with the client), with Tencent's habits: API errors are
HTTP 200 with ``Response.Error``, per-number results are in ``SendStatusSet``, a timestamp more
than 300 s off is ``AuthFailure.SignatureExpire``.

Answers come from, in order: ``down`` (502), the scripted queue (``script``), then ``mode``; one
number's own failures (``fail_number``) take precedence for that number. Kinds: ``ok``,
``throttle`` (daily cap per number), ``frequency`` (per-number frequency limit), ``rate_limit``
(API rate limit), ``invalid_number``, ``bad_template``, ``blacklist``, ``internal``, ``http500``,
``http502`` and ``timeout`` (sleeps ``delay_s``, then sends: the message goes out although the
client has given up, as it would at Tencent; such records carry ``late=True``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import LoopbackFake

SHANGHAI = timezone(timedelta(hours=8))
VERSION = "2021-01-11"
REGIONS = ("ap-guangzhou", "ap-beijing", "ap-nanjing")
MAX_SKEW_S = 300
PHONE = re.compile(r"\+861[3-9]\d{9}|\+(?!86)\d{6,15}")
AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})")

# kind -> (code, per number?); "ok", "timeout" and the HTTP kinds are handled apart.
ERROR_KINDS: dict[str, tuple[str, bool]] = {
    "throttle": ("LimitExceeded.PhoneNumberDailyLimit", True),
    "frequency": ("LimitExceeded.DeliveryFrequencyLimit", True),
    "rate_limit": ("RequestLimitExceeded", False),
    "invalid_number": ("InvalidParameterValue.IncorrectPhoneNumber", True),
    "bad_template": ("FailedOperation.TemplateIncorrectOrUnapproved", False),
    "blacklist": ("FailedOperation.PhoneNumberInBlacklist", True),
    "internal": ("InternalError.OtherError", False),
}
HTTP_KINDS = {"http500": 500, "http502": 502}
KINDS = frozenset({"ok", "timeout", *ERROR_KINDS, *HTTP_KINDS})

MESSAGES = {
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. Please check your signature is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp is too far from server time.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your SecretId is correct.",
    "InvalidAction": "The action requested was invalid.",
    "NoSuchVersion": "The requested version does not exist or is not supported.",
    "RequestLimitExceeded": "Your current request times equals to `20` in a second, which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls.",
    "InternalError.OtherError": "其他错误，请联系腾讯云短信小助手。",
    "LimitExceeded.PhoneNumberDailyLimit": "单个手机号日下发短信条数超过设定的上限。",
    "LimitExceeded.DeliveryFrequencyLimit": "下发短信命中了频率限制策略。",
    "LimitExceeded.PhoneNumberCountLimit": "调用短信发送 API 接口单次提交的手机号个数超过200个。",
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号格式错误。",
    "InvalidParameterValue.SdkAppIdNotExist": "SdkAppId 不存在。",
    "InvalidParameterValue.TemplateParameterFormatError": "验证码模板参数格式错误。",
    "FailedOperation.TemplateIncorrectOrUnapproved": "模板未审批或请求的内容与审核通过的模板内容不匹配。",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "请求内容与审核通过的模板内容不匹配。",
    "FailedOperation.SignatureIncorrectOrUnapproved": "签名格式错误或者签名未审批。",
    "FailedOperation.PhoneNumberInBlacklist": "手机号在免打扰名单库中。",
    "FailedOperation.FailResolvePacket": "请求包解析失败。",
    "MissingParameter.EmptyPhoneNumberSet": "传入的号码列表为空。",
    "UnsupportedOperation.UnsupportedRegion": "不支持该地域。",
}


def verify_tc3(headers: Mapping[str, str], body: bytes, *, secret_id: str, secret_key: str, service: str,
               now: float) -> str | None:
    """Check one request's TC3-HMAC-SHA256 signature; the Tencent error code, or None when it holds."""
    lowered = {name.lower(): value for name, value in headers.items()}
    match = AUTHORIZATION.fullmatch(lowered.get("authorization", "").strip())
    stamp = lowered.get("x-tc-timestamp", "")
    if match is None or not stamp.isdigit():
        return "AuthFailure.SignatureFailure"
    if abs(now - int(stamp)) > MAX_SKEW_S:
        return "AuthFailure.SignatureExpire"
    if match["id"] != secret_id:
        return "AuthFailure.SecretIdNotFound"
    names = match["signed"].split(";")
    day = time.strftime("%Y-%m-%d", time.gmtime(int(stamp)))
    if ({"content-type", "host"} - set(names) or names != sorted(names) or any(n not in lowered for n in names)
            or match["service"] != service or match["date"] != day):
        return "AuthFailure.SignatureFailure"
    canonical = "POST\n/\n\n{}\n{}\n{}".format(
        "".join(f"{n}:{lowered[n].strip().lower()}\n" for n in names), match["signed"],
        hashlib.sha256(body).hexdigest())
    to_sign = f"TC3-HMAC-SHA256\n{stamp}\n{day}/{service}/tc3_request\n" + hashlib.sha256(canonical.encode()).hexdigest()
    key = b"TC3" + secret_key.encode()
    for part in (day, service, "tc3_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
    return None if hmac.compare_digest(expected, match["signature"]) else "AuthFailure.SignatureFailure"


def _local(phone: str) -> str:
    return phone[3:] if phone.startswith("+86") else phone


class FakeTencentSms(LoopbackFake):
    def __init__(self, secret_id: str = "AKIDfakeSmsSecretId00000000000000000",
                 secret_key: str = "fake-sms-secret-key-000000000000", sdk_app_id: str = "1400000001") -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.base_url = ""
        self._lock = threading.Lock()
        self._serials = itertools.count(1)  # never reset: a SerialNo stays unique for the whole run
        self._generation = 0
        self.reset()

    def reset(self) -> None:
        """Back to answering ``ok`` with nothing scripted or recorded; late answers of earlier tests are dropped."""
        with self._lock:
            self._generation += 1
            self.mode = "ok"
            self.down = False
            self.delay_s = 1.0  # how long a "timeout" answer sleeps
            self.latency_s = 0.0  # added to every request
            self._script: deque[str] = deque()
            self._number_failures: dict[str, deque[list[Any]]] = {}
            self._templates: dict[str, int] = {}
            self.calls: list[dict[str, Any]] = []
            self.sent: list[dict[str, Any]] = []
            self.stats: Counter[str] = Counter()

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client reuses its connections
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._reply(self, 405, b"method not allowed", "text/plain")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return self._serve(Handler, "fake-tencent-sms")

    # -- test controls -------------------------------------------------------------------------------

    def script(self, *kinds: str) -> None:
        """Answer the next requests with these kinds, one each, before falling back to ``mode``."""
        unknown = set(kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown answer kinds: {sorted(unknown)}")
        with self._lock:
            self._script.extend(kinds)

    def fail_number(self, phone: str, code: str, times: int = 1, message: str | None = None) -> None:
        """The next ``times`` sends to this number answer ``code`` in its ``SendStatusSet`` entry."""
        with self._lock:
            self._number_failures.setdefault(_local(phone), deque()).append(
                [code, message or MESSAGES.get(code, "fake error"), times])

    def add_template(self, template_id: str, params: int) -> None:
        """Once any template is added, only added ones are approved, with exactly ``params`` parameters."""
        with self._lock:
            self._templates[template_id] = params

    def count(self, key: str) -> int:
        with self._lock:
            return self.stats[key]

    # -- callback bodies, for posting to our own endpoints ------------------------------------------

    @staticmethod
    def status_report(mobile: str, sid: str, *, ok: bool = True, errmsg: str | None = None,
                      description: str | None = None, nationcode: str = "86",
                      received_at: datetime | None = None) -> list[dict[str, str]]:
        """A status-report body (Tencent pushes a list; concatenate bodies to report several)."""
        at = (received_at or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
        return [{
            "user_receive_time": at.strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": nationcode,
            "mobile": _local(mobile),
            "report_status": "SUCCESS" if ok else "FAIL",
            "errmsg": errmsg or ("DELIVRD" if ok else "UNDELIV"),
            "description": description or ("用户短信送达成功" if ok else "用户短信送达失败"),
            "sid": sid,
        }]

    @staticmethod
    def reply(mobile: str, text: str, *, sign: str, extend: str = "", nationcode: str = "86",
              at: float | None = None) -> dict[str, Any]:
        """An uplink (reply) body: what the member texted back, e.g. ``TD`` to opt out."""
        return {"extend": extend, "mobile": _local(mobile), "nationcode": nationcode, "sign": sign,
                "text": text, "time": int(at if at is not None else time.time())}

    # -- the server side -----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        call: dict[str, Any] = {"action": request.headers.get("X-TC-Action"), "answer": None}
        with self._lock:
            generation = self._generation
            self.calls.append(call)
            self.stats["calls"] += 1
            down, latency = self.down, self.latency_s
        if latency:
            time.sleep(latency)
        if down:
            return self._http_error(request, call, 502)
        error = verify_tc3(request.headers, raw, secret_id=self.secret_id, secret_key=self.secret_key,
                           service="sms", now=time.time())
        if error is None and call["action"] != "SendSms":
            error = "InvalidAction"
        elif error is None and request.headers.get("X-TC-Version") != VERSION:
            error = "NoSuchVersion"
        elif error is None and request.headers.get("X-TC-Region") not in REGIONS:
            error = "UnsupportedOperation.UnsupportedRegion"
        if error:
            return self._api_error(request, call, error)
        with self._lock:
            kind = self._script.popleft() if self._script else self.mode
        if kind in HTTP_KINDS:
            return self._http_error(request, call, HTTP_KINDS[kind])
        if kind == "timeout":
            time.sleep(self.delay_s)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._api_error(request, call, "FailedOperation.FailResolvePacket")
        call.update(phones=body.get("PhoneNumberSet"), template_id=body.get("TemplateId"),
                    session_context=body.get("SessionContext"))
        code, per_number = ERROR_KINDS.get(kind, ("", False))
        error = (code if code and not per_number else None) or self._invalid(body)
        if error:
            return self._api_error(request, call, error)
        statuses = [self._one(body, phone, per_number_code=code if per_number else "",
                              late=kind == "timeout", generation=generation)
                    for phone in body["PhoneNumberSet"]]
        call["answer"] = statuses[0]["Code"] if len(statuses) == 1 else [s["Code"] for s in statuses]
        self._json(request, {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})

    def _invalid(self, body: dict[str, Any]) -> str | None:
        phones, params = body.get("PhoneNumberSet"), body.get("TemplateParamSet", [])
        template_id = str(body.get("TemplateId") or "")
        if body.get("SmsSdkAppId") != self.sdk_app_id:
            return "InvalidParameterValue.SdkAppIdNotExist"
        if not isinstance(phones, list) or not phones:
            return "MissingParameter.EmptyPhoneNumberSet"
        if len(phones) > 200:
            return "LimitExceeded.PhoneNumberCountLimit"
        if not body.get("SignName"):  # required for mainland numbers
            return "FailedOperation.SignatureIncorrectOrUnapproved"
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return "InvalidParameterValue.TemplateParameterFormatError"
        with self._lock:
            expected = self._templates.get(template_id, -1) if self._templates else len(params)
        if not template_id or expected == -1:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        if expected != len(params):
            return "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
        return None

    def _one(self, body: dict[str, Any], phone: Any, *, per_number_code: str, late: bool,
             generation: int) -> dict[str, Any]:
        phone = str(phone)
        status = {"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": body.get("SessionContext", ""),
                  "Code": "Ok", "Message": "send success", "IsoCode": "CN"}
        with self._lock:
            failures = self._number_failures.get(_local(phone))
            if failures:
                code, message, times = failures[0]
                if times <= 1:
                    failures.popleft()
                else:
                    failures[0][2] -= 1
            elif per_number_code:
                code, message = per_number_code, MESSAGES.get(per_number_code, "fake error")
            elif not PHONE.fullmatch(phone):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
                message = MESSAGES[code]
            else:
                code = message = ""
            if code:
                self.stats[code] += 1
                return {**status, "Code": code, "Message": message}
            serial = f"2433:{next(self._serials):028d}"
            if generation == self._generation:  # a late answer to a test that has ended records nothing
                self.stats["sent"] += 1
                self.sent.append({
                    "phone": phone, "template_id": str(body.get("TemplateId")),
                    "params": list(body.get("TemplateParamSet", [])),
                    "session_context": body.get("SessionContext", ""), "serial_no": serial,
                    "sign_name": body.get("SignName"), "late": late,
                })
        return {**status, "SerialNo": serial, "Fee": 1}

    def _api_error(self, request: BaseHTTPRequestHandler, call: dict[str, Any], code: str) -> None:
        call["answer"] = code
        with self._lock:
            self.stats[code] += 1
        self._json(request, {"Response": {
            "Error": {"Code": code, "Message": MESSAGES.get(code, "fake error")},
            "RequestId": str(uuid.uuid4())}})

    def _http_error(self, request: BaseHTTPRequestHandler, call: dict[str, Any], status: int) -> None:
        call["answer"] = f"HTTP {status}"
        with self._lock:
            self.stats[f"http_{status}"] += 1
        self._reply(request, status, f"<html>{status}</html>".encode(), "text/html")

    def _json(self, request: BaseHTTPRequestHandler, answer: dict[str, Any]) -> None:
        self._reply(request, 200, json.dumps(answer, ensure_ascii=False).encode(), "application/json")

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
