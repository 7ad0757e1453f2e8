"""WeChat Pay API v3 for the mini-program (JSAPI): a thin client on httpx.

What WeChat Pay's v3 rules ask, and this client does on every call:

- **Requests are signed** with the merchant's API key (RSA 2048, SHA-256, PKCS#1 v1.5) over five lines,
  each ending in ``\\n``: method, path with its query, timestamp, nonce, body (empty for a GET). The
  ``Authorization`` header is ``WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
  timestamp="…",serial_no="…"`` (the serial of the merchant's API certificate).
- **Answers are verified** with the platform's public key over three lines: ``Wechatpay-Timestamp``,
  ``Wechatpay-Nonce``, the body. A 2xx answer without a valid signature, from another platform serial or
  more than five minutes off is treated as forged (``SignatureInvalid``), never as a success.
- **Notifications** (payment and refund results posted to the notify URL) carry the same headers: verified
  the same way, then their ``resource`` is decrypted with the APIv3 key (AEAD_AES_256_GCM: the 32-byte key,
  the resource's 12-character nonce and its associated data).
- ``pay_params`` signs what ``wx.requestPayment`` needs: four lines (appId, timeStamp, nonceStr,
  ``prepay_id=…``), ``signType`` RSA.

Amounts are integer fen (cents), as everywhere in the product. The gateway is ``Merchant.api_base``: a
setting points it at the loopback fake in tests (``tests/fakes/wechatpay.py``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

API_BASE = "https://api.mch.weixin.qq.com"
SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_S = 300  # an answer or notification further off than this is refused (a replay)
TIMEOUT_S = 10.0


class WeChatPayError(Exception):
    """WeChat Pay answered with an error (``status``, its ``code`` and ``message``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class WeChatPayUnavailable(WeChatPayError):
    """The gateway could not be reached or did not answer in time: the outcome is unknown (query the order)."""


class SignatureInvalid(WeChatPayError):
    """An answer or a notification that the platform's key did not sign (or signed too long ago)."""


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def verified(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message.encode(), padding.PKCS1v15(),
                          hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def decrypt(apiv3_key: bytes, resource: Mapping[str, Any]) -> dict[str, Any]:
    """A notification's ``resource`` in clear: AEAD_AES_256_GCM with the APIv3 key. SignatureInvalid when it
    does not decrypt (another key, a changed byte)."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureInvalid(400, "UNSUPPORTED_ALGORITHM", f"unexpected algorithm {resource.get('algorithm')!r}")
    try:
        plain = AESGCM(apiv3_key).decrypt(str(resource["nonce"]).encode(),
                                          base64.b64decode(str(resource["ciphertext"])),
                                          str(resource.get("associated_data") or "").encode())
        return json.loads(plain)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise SignatureInvalid(400, "DECRYPT_FAILED", f"the resource does not decrypt: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class Merchant:
    mchid: str
    appid: str  # the mini-program's
    serial_no: str  # of the merchant's API certificate
    private_key: rsa.RSAPrivateKey
    apiv3_key: bytes  # 32 bytes
    platform_serial: str  # WeChat Pay's public key id (or platform certificate serial)
    platform_key: rsa.RSAPublicKey
    api_base: str = API_BASE

    @classmethod
    def from_pem(cls, *, mchid: str, appid: str, serial_no: str, private_key_pem: str, apiv3_key: str,
                 platform_serial: str, platform_key_pem: str, api_base: str = API_BASE) -> Merchant:
        private_key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        platform_key = serialization.load_pem_public_key(platform_key_pem.encode())
        if not isinstance(private_key, rsa.RSAPrivateKey) or not isinstance(platform_key, rsa.RSAPublicKey):
            raise ValueError("WeChat Pay keys are RSA keys")
        key = apiv3_key.encode()
        if len(key) != 32:
            raise ValueError("the APIv3 key is 32 characters")
        return cls(mchid, appid, serial_no, private_key, key, platform_serial, platform_key, api_base.rstrip("/"))


@dataclass(frozen=True)
class Notification:
    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
    resource_type: str  # the resource's original_type: transaction, refund
    resource: dict[str, Any]  # decrypted


class WeChatPayClient:
    def __init__(self, merchant: Merchant, *, timeout_s: float = TIMEOUT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.merchant = merchant
        self._clock = clock
        self._http = httpx.AsyncClient(base_url=merchant.api_base, timeout=timeout_s)

    async def close_client(self) -> None:
        await self._http.aclose()

    # -- the calls ----------------------------------------------------------------------------------------

    async def jsapi_prepay(self, *, out_trade_no: str, description: str, amount_cents: int, openid: str,
                           notify_url: str, time_expire: datetime | None = None, attach: str | None = None) -> str:
        """A JSAPI order; its ``prepay_id`` (valid two hours). The same ``out_trade_no`` with the same
        parameters gives the same order again."""
        body: dict[str, Any] = {"appid": self.merchant.appid, "mchid": self.merchant.mchid,
                                "description": description, "out_trade_no": out_trade_no,
                                "notify_url": notify_url, "amount": {"total": amount_cents, "currency": "CNY"},
                                "payer": {"openid": openid}}
        if time_expire is not None:
            body["time_expire"] = time_expire.isoformat(timespec="seconds")
        if attach:
            body["attach"] = attach
        answer = await self._call("POST", "/v3/pay/transactions/jsapi", body)
        return str(answer["prepay_id"])

    def pay_params(self, prepay_id: str) -> dict[str, str]:
        """What the mini-program passes to ``wx.requestPayment``, signed with the merchant's key."""
        stamp, nonce = str(int(self._clock())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        pay_sign = sign(self.merchant.private_key, f"{self.merchant.appid}\n{stamp}\n{nonce}\n{package}\n")
        return {"appId": self.merchant.appid, "timeStamp": stamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": pay_sign}

    async def query(self, out_trade_no: str) -> dict[str, Any]:
        """The order as WeChat Pay has it (``trade_state``: SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, …)."""
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={self.merchant.mchid}"
        return await self._call("GET", path)

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (after its time limit): it can no longer be paid."""
        await self._call("POST", f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close",
                         {"mchid": self.merchant.mchid})

    async def refund(self, *, out_trade_no: str, out_refund_no: str, refund_cents: int, total_cents: int,
                     reason: str, notify_url: str) -> dict[str, Any]:
        """Ask for a refund (``status``: PROCESSING, SUCCESS…); its result comes as a REFUND notification. The
        same ``out_refund_no`` is the same refund."""
        return await self._call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "reason": reason,
            "notify_url": notify_url,
            "amount": {"refund": refund_cents, "total": total_cents, "currency": "CNY"}})

    async def refund_status(self, out_refund_no: str) -> dict[str, Any]:
        """A refund as WeChat Pay has it (``status``: SUCCESS, PROCESSING, CLOSED, ABNORMAL)."""
        return await self._call("GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}")

    def notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """A notification posted to the notify URL, verified and decrypted; SignatureInvalid otherwise."""
        self._check_signature(headers, body)
        try:
            document = json.loads(body)
            resource = document["resource"]
            clear = decrypt(self.merchant.apiv3_key, resource)
            return Notification(str(document["id"]), str(document["event_type"]),
                                str(resource.get("original_type") or ""), clear)
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureInvalid(400, "MALFORMED", f"not a WeChat Pay notification: {type(exc).__name__}") from exc

    # -- signing and verifying ----------------------------------------------------------------------------

    def authorization(self, method: str, path: str, body: str) -> str:
        stamp, nonce = str(int(self._clock())), secrets.token_hex(16)
        signature = sign(self.merchant.private_key, f"{method}\n{path}\n{stamp}\n{nonce}\n{body}\n")
        return (f'{SCHEMA} mchid="{self.merchant.mchid}",nonce_str="{nonce}",signature="{signature}",'
                f'timestamp="{stamp}",serial_no="{self.merchant.serial_no}"')

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = {"Authorization": self.authorization(method, path, text), "Accept": "application/json",
                   "User-Agent": "member-platform-wechatpay/1"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = await self._http.request(method, path, content=text.encode() if body is not None else None,
                                              headers=headers)
        except httpx.HTTPError as exc:
            raise WeChatPayUnavailable(503, "UNAVAILABLE", f"WeChat Pay did not answer: {type(exc).__name__}") from exc
        if answer.status_code >= 500 and "Wechatpay-Signature" not in answer.headers:
            raise WeChatPayUnavailable(answer.status_code, "UNAVAILABLE", answer.text[:200])
        self._check_signature(answer.headers, answer.content)
        document = answer.json() if answer.content else {}
        if answer.status_code >= 400:
            raise WeChatPayError(answer.status_code, str(document.get("code") or "UNKNOWN"),
                                 str(document.get("message") or ""))
        return document

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        stamp, nonce = headers.get("Wechatpay-Timestamp"), headers.get("Wechatpay-Nonce")
        signature, serial = headers.get("Wechatpay-Signature"), headers.get("Wechatpay-Serial")
        if not (stamp and nonce and signature and serial):
            raise SignatureInvalid(401, "UNSIGNED", "no WeChat Pay signature")
        if serial != self.merchant.platform_serial:
            raise SignatureInvalid(401, "UNKNOWN_SERIAL", f"signed by an unknown key {serial!r}")
        if not stamp.isdigit() or abs(self._clock() - int(stamp)) > MAX_SKEW_S:
            raise SignatureInvalid(401, "STALE", "the signature's timestamp is more than 5 minutes off")
        if not verified(self.merchant.platform_key, f"{stamp}\n{nonce}\n{body.decode('utf-8', 'replace')}\n",
                        signature):
            raise SignatureInvalid(401, "BAD_SIGNATURE", "the WeChat Pay signature does not verify")
