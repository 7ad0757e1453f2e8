"""Tencent Cloud SMS (API v3, ``SendSms`` 2021-01-11) over a few shared ``httpx.AsyncClient`` pools.

Requests are signed with TC3-HMAC-SHA256 as Tencent documents it (signed headers
``content-type;host``). Tencent answers HTTP 200 for API errors, with the code in one of two places:
``Response.Error`` for the whole request, or ``SendStatusSet[i].Code`` per number. Both map onto
the same outcomes (see ``classify_code``). A timeout is ambiguous (Tencent may have sent the
message) and is still reported as transient, like any other transport failure.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from notifications.channels.base import Outcome, Outgoing, SendResult
from notifications.channels.log import mask_phone

log = logging.getLogger(__name__)

SERVICE = "sms"
VERSION = "2021-01-11"
ACTION = "SendSms"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"

# LimitExceeded.* are Tencent's own frequency and daily caps: try later. This one is not a cap but
# "more than 200 numbers in one call", a mistake of ours.
NOT_A_QUOTA = frozenset({"LimitExceeded.PhoneNumberCountLimit"})
PERMANENT_PREFIXES = ("InvalidParameterValue", "InvalidParameter", "FailedOperation", "UnauthorizedOperation",
                      "AuthFailure", "UnsupportedOperation", "MissingParameter")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_sign(secret_id: str, secret_key: str, *, host: str, service: str, action: str, payload: bytes,
             timestamp: int, content_type: str = CONTENT_TYPE) -> dict[str, str]:
    """The headers that sign one POST of ``payload`` to ``https://{host}/`` (TC3-HMAC-SHA256)."""
    # Header names and values are lowercased and trimmed in the canonical form, sorted by name.
    signed = {"content-type": content_type.strip().lower(), "host": host.strip().lower()}
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in sorted(signed.items()))
    signed_headers = ";".join(sorted(signed))
    canonical_request = "\n".join([
        "POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(payload).hexdigest(),
    ])
    # The scope date is the UTC date of the timestamp, not the local one (fails at 00:00-08:00 otherwise).
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join([
        ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    signing_key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": (f"{ALGORITHM} Credential={secret_id}/{scope}, "
                          f"SignedHeaders={signed_headers}, Signature={signature}"),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
    }


def classify_code(code: str) -> Outcome:
    """Map a Tencent error code (top-level or per number) onto an outcome; unknown codes are permanent."""
    if code == "Ok":
        return "sent"
    if code == "FailedOperation.PhoneNumberInBlacklist":
        return "withdrawn"
    # RequestLimitExceeded is the API's own rate limit, not the recipient's quota: retry soon.
    if code.startswith(("RequestLimitExceeded", "InternalError")):
        return "transient"
    if code.startswith("LimitExceeded") and code not in NOT_A_QUOTA:
        return "defer"
    return "permanent"


def e164(phone: str) -> str:
    """An 11-digit mainland number gets ``+86``; anything else goes as given (Tencent judges it)."""
    phone = phone.strip()
    if len(phone) == 11 and phone.isdigit() and phone.startswith("1"):
        return "+86" + phone
    return phone


PER_CLIENT_CONNECTIONS = 8


class TencentSms:
    name = "sms"
    provider = "tencent"

    def __init__(self, *, api_base: str, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 region: str = "ap-guangzhou", timeout_s: float = 5.0, max_connections: int = 64) -> None:
        self._url = api_base.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._sdk_app_id = sdk_app_id
        self._sign_name = sign_name
        self._region = region
        # httpcore walks every pooled connection on each request, so one big pool costs CPU per send that
        # grows with its size (measured: ~1.1 ms at 8 connections, ~3 ms at 64). Several small clients used
        # in turn keep that walk short; sends beyond max_connections wait in their client's pool.
        per_client = min(PER_CLIENT_CONNECTIONS, max_connections)
        self._clients = [
            httpx.AsyncClient(timeout=httpx.Timeout(timeout_s),
                              limits=httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client))
            for _ in range(max(1, -(-max_connections // per_client)))]
        self._turn = itertools.cycle(self._clients)

    def __repr__(self) -> str:  # no secrets in reprs that end up in logs
        return f"TencentSms(api_base={self._url!r}, sdk_app_id={self._sdk_app_id!r}, region={self._region!r})"

    async def send(self, message: Outgoing) -> SendResult:
        phone = e164(message.to)
        payload = json.dumps({
            "PhoneNumberSet": [phone],
            "SmsSdkAppId": self._sdk_app_id,
            "SignName": self._sign_name,
            "TemplateId": message.sms_template_id,
            "TemplateParamSet": list(message.sms_params),
            "SessionContext": str(message.message_id),
        }, ensure_ascii=False, separators=(",", ":")).encode()
        headers = tc3_sign(self._secret_id, self._secret_key, host=self._host, service=SERVICE,
                           action=ACTION, payload=payload, timestamp=int(time.time()))
        headers["X-TC-Version"] = VERSION
        headers["X-TC-Region"] = self._region
        try:
            response = await next(self._turn).post(self._url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            return self._done(message, phone, SendResult(
                "transient", provider=self.provider, reason=f"{type(exc).__name__}: {str(exc) or 'no detail'}"))
        return self._done(message, phone, self._classify(response))

    def _classify(self, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status >= 500 or status == 429:
            return SendResult("transient", provider=self.provider, reason=f"HTTP {status}",
                              detail={"http_status": status})
        if status >= 400:
            return SendResult("permanent", provider=self.provider, reason=f"HTTP {status}",
                              detail={"http_status": status})
        try:
            body: dict[str, Any] = response.json()["Response"]
        except (ValueError, KeyError, TypeError):
            return SendResult("transient", provider=self.provider, reason=f"HTTP {status}: unreadable answer")
        detail = {"request_id": body.get("RequestId")}
        error = body.get("Error")
        if error:
            code = str(error.get("Code", ""))
            return SendResult(classify_code(code), provider=self.provider,
                              reason=f"{code}: {error.get('Message', '')}", detail=detail)
        statuses = body.get("SendStatusSet") or []
        if not statuses:
            return SendResult("transient", provider=self.provider, reason="empty SendStatusSet", detail=detail)
        first = statuses[0]
        code = str(first.get("Code", ""))
        outcome = classify_code(code)
        if outcome == "sent":
            return SendResult("sent", provider=self.provider, provider_message_id=first.get("SerialNo"),
                              detail=detail)
        return SendResult(outcome, provider=self.provider, reason=f"{code}: {first.get('Message', '')}",
                          detail=detail)

    def _done(self, message: Outgoing, phone: str, result: SendResult) -> SendResult:
        if result.ok:
            log.debug("sms %s to %s sent (%s)", message.message_id, mask_phone(phone), result.provider_message_id)
        else:
            log.info("sms %s to %s %s: %s", message.message_id, mask_phone(phone), result.outcome, result.reason)
        return result

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
