"""A loopback fake of WeChat Pay API v3 (JSAPI orders, query, close, refunds, notifications).

It checks each merchant request as WeChat Pay does, with its own verifier (it shares no code with the
client): the ``WECHATPAY2-SHA256-RSA2048`` Authorization header, the merchant id, the API certificate's
serial, a timestamp within five minutes and the RSA signature over method, path, timestamp, nonce and
body; a failure is ``401 SIGN_ERROR``. Every answer is signed with the fake's own platform key
(``Wechatpay-Timestamp``, ``-Nonce``, ``-Signature``, ``-Serial``), and notifications are built as WeChat
Pay sends them: the resource encrypted with AEAD_AES_256_GCM under the merchant's APIv3 key, the request
signed. Tests make duplicates, out-of-order and forged ones with ``notification(..., forge=...)``.

Answers: ``mode`` = ``ok`` (default), ``bad_signature`` (a 2xx whose signature does not verify),
``unsigned`` (a 2xx without the headers), ``http500`` (WeChat Pay's SYSTEM_ERROR, signed).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.fakes import LoopbackFake

SHANGHAI = timezone(timedelta(hours=8))
MAX_SKEW_S = 300
AUTHORIZATION = re.compile(r'WECHATPAY2-SHA256-RSA2048 (?P<params>(?:\w+="[^"]*",?)+)$')
PARAM = re.compile(r'(\w+)="([^"]*)"')
ORDER_PATH = re.compile(r"^/v3/pay/transactions/out-trade-no/(?P<no>[^/?]+)$")
CLOSE_PATH = re.compile(r"^/v3/pay/transactions/out-trade-no/(?P<no>[^/?]+)/close$")
REFUND_PATH = re.compile(r"^/v3/refund/domestic/refunds/(?P<no>[^/?]+)$")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _now_text() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


class FakeWeChatPay(LoopbackFake):
    def __init__(self, *, mchid: str = "1900000109", appid: str = "wxfakeappid000001",
                 merchant_serial: str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                 apiv3_key: str = "fakeApiV3Key0123456789abcdefghij",
                 platform_serial: str = "PUB_KEY_ID_0119000001092024FAKE000001") -> None:
        self.mchid, self.appid, self.apiv3_key = mchid, appid, apiv3_key
        self.merchant_serial, self.platform_serial = merchant_serial, platform_serial
        self.merchant_key = new_key()  # the merchant's API key pair, as the merchant platform issues it
        self.platform_key = new_key()  # WeChat Pay's own
        self.mode = "ok"
        self.refuse_refunds = False  # refunds answer 403 NOT_ENOUGH (the merchant's balance is short)
        self.orders: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = ""

    # -- what a test configures the client with --------------------------------------------------------

    def merchant_settings(self) -> dict[str, str]:
        return {"mchid": self.mchid, "appid": self.appid, "serial_no": self.merchant_serial,
                "private_key_pem": private_pem(self.merchant_key), "apiv3_key": self.apiv3_key,
                "platform_serial": self.platform_serial, "platform_key_pem": public_pem(self.platform_key),
                "api_base": self.base_url}

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return self._serve(Handler, "fake-wechatpay")

    def reset(self) -> None:
        with self._lock:
            self.mode = "ok"
            self.refuse_refunds = False
            self.orders.clear()
            self.refunds.clear()
            self.calls.clear()

    # -- the shopper's side and WeChat Pay's notifications ----------------------------------------------

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        """The shopper pays in the mini-program: the order is SUCCESS with a transaction id."""
        with self._lock:
            order = self.orders[out_trade_no]
            if order["trade_state"] != "NOTPAY":
                raise AssertionError(f"order {out_trade_no} is {order['trade_state']}, not payable")
            order.update(trade_state="SUCCESS", trade_state_desc="支付成功", bank_type="OTHERS",
                         transaction_id=f"4200{next(self._ids):024d}", success_time=_now_text())
            order["amount"].update(payer_total=order["amount"]["total"], payer_currency="CNY")
            return dict(order)

    def settle_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        with self._lock:
            refund = self.refunds[out_refund_no]
            refund.update(status=status, success_time=_now_text() if status == "SUCCESS" else None)
            return dict(refund)

    def notification(self, resource: dict[str, Any], *, event_type: str = "TRANSACTION.SUCCESS",
                     forge: str | None = None, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """Headers and body of a notification of ``resource`` (an order or a refund as ``pay`` /
        ``settle_refund`` return it). ``forge``: ``signature`` (signed by another key), ``body`` (a byte
        changed after signing), ``key`` (encrypted under another APIv3 key, correctly signed)."""
        original = "refund" if event_type.startswith("REFUND.") else "transaction"
        nonce = secrets.token_urlsafe(9)[:12]
        associated = original
        key = (b"another-apiv3-key-0123456789abcd" if forge == "key" else self.apiv3_key.encode())
        plain = {k: v for k, v in resource.items() if v is not None and k != "notify_url"}
        if original == "transaction":
            plain = {**plain, "trade_type": "JSAPI"}
        ciphertext = base64.b64encode(AESGCM(key).encrypt(nonce.encode(), json.dumps(plain).encode(),
                                                          associated.encode())).decode()
        body = json.dumps({"id": f"EV-{secrets.token_hex(8)}", "create_time": _now_text(),
                           "resource_type": "encrypt-resource", "event_type": event_type,
                           "summary": "支付成功" if original == "transaction" else "退款成功",
                           "resource": {"original_type": original, "algorithm": "AEAD_AES_256_GCM",
                                        "ciphertext": ciphertext, "associated_data": associated,
                                        "nonce": nonce}}, ensure_ascii=False).encode()
        headers = self._signature_headers(body, timestamp=timestamp,
                                          key=new_key() if forge == "signature" else None)
        if forge == "body":
            changed = body.replace(b'"event_type": "', b'"event_type":  "', 1)
            assert changed != body
            body = changed
        return headers, body

    def deliver(self, url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        """POST a notification to the merchant's notify URL, as WeChat Pay does."""
        return httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10)

    # -- the API ------------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        call = {"method": method, "path": request.path, "body": body}
        with self._lock:
            self.calls.append(call)
        problem = self._check_request(request, method, body)
        if problem:
            call["refused"] = problem
            self._answer(request, 401, {"code": "SIGN_ERROR", "message": problem})
            return
        if self.mode == "http500":
            self._answer(request, 500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
            return
        try:
            document = json.loads(body) if body else {}
        except ValueError:
            self._answer(request, 400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
            return
        path = urlsplit(request.path).path
        with self._lock:
            if method == "POST" and path == "/v3/pay/transactions/jsapi":
                status, answer = self._prepay(document)
            elif method == "GET" and (match := ORDER_PATH.match(path)):
                status, answer = self._query(unquote(match["no"]), parse_qs(urlsplit(request.path).query))
            elif method == "POST" and (match := CLOSE_PATH.match(path)):
                status, answer = self._close(unquote(match["no"]), document)
            elif method == "POST" and path == "/v3/refund/domestic/refunds":
                status, answer = self._refund(document)
            elif method == "GET" and (match := REFUND_PATH.match(path)):
                refund = self.refunds.get(unquote(match["no"]))
                status, answer = ((200, self._public_refund(refund)) if refund is not None
                                  else (404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}))
            else:
                status, answer = 404, {"code": "NOT_FOUND", "message": "no such API"}
        self._answer(request, status, answer)

    def _check_request(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> str | None:
        header = request.headers.get("Authorization") or ""
        match = AUTHORIZATION.match(header)
        if not match:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        params = dict(PARAM.findall(match["params"]))
        if params.get("mchid") != self.mchid:
            return "mchid does not match"
        if params.get("serial_no") != self.merchant_serial:
            return "serial_no is not the merchant's API certificate"
        stamp = params.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_SKEW_S:
            return "timestamp expired"
        message = f"{method}\n{request.path}\n{stamp}\n{params.get('nonce_str', '')}\n".encode() + body + b"\n"
        try:
            self.merchant_key.public_key().verify(base64.b64decode(params.get("signature", "")), message,
                                                  padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return None

    def _prepay(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        amount = body.get("amount") or {}
        missing = [name for name in ("appid", "mchid", "description", "out_trade_no", "notify_url")
                   if not body.get(name)]
        if missing or not isinstance(amount.get("total"), int) or amount["total"] <= 0 \
                or not (body.get("payer") or {}).get("openid"):
            return 400, {"code": "PARAM_ERROR", "message": f"参数错误 {missing or 'amount/payer'}"}
        if body["appid"] != self.appid or body["mchid"] != self.mchid:
            return 400, {"code": "APPID_MCHID_NOT_MATCH", "message": "appid和mch_id不匹配"}
        no = body["out_trade_no"]
        existing = self.orders.get(no)
        terms = (amount["total"], body["description"], body["payer"]["openid"])
        if existing is not None:
            if existing["terms"] != terms:
                return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
            if existing["trade_state"] == "SUCCESS":
                return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
            return 200, {"prepay_id": existing["prepay_id"]}
        prepay_id = f"wx{datetime.now(SHANGHAI):%d%H%M%S}{secrets.token_hex(11)}"
        self.orders[no] = {"appid": self.appid, "mchid": self.mchid, "out_trade_no": no, "prepay_id": prepay_id,
                           "trade_type": "JSAPI", "trade_state": "NOTPAY", "trade_state_desc": "订单未支付",
                           "attach": body.get("attach", ""), "notify_url": body["notify_url"],
                           "payer": {"openid": body["payer"]["openid"]},
                           "amount": {"total": amount["total"], "currency": "CNY"}, "terms": terms,
                           "refunded": 0}
        return 200, {"prepay_id": prepay_id}

    def _public(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if k not in ("prepay_id", "terms", "refunded", "notify_url")}

    def _query(self, no: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if query.get("mchid") != [self.mchid]:
            return 400, {"code": "PARAM_ERROR", "message": "mchid 参数错误"}
        order = self.orders.get(no)
        if order is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        return 200, self._public(order)

    def _close(self, no: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(no)
        if body.get("mchid") != self.mchid:
            return 400, {"code": "PARAM_ERROR", "message": "mchid 参数错误"}
        if order is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        if order["trade_state"] == "SUCCESS":
            return 400, {"code": "ORDERPAID", "message": "订单已支付"}
        order.update(trade_state="CLOSED", trade_state_desc="已关闭")
        return 204, {}

    def _refund(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(str(body.get("out_trade_no")))
        amount = body.get("amount") or {}
        if order is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            return 403, {"code": "NOT_ENOUGH", "message": "订单未支付，无可退金额"}
        no = str(body.get("out_refund_no") or "")
        if not no or not isinstance(amount.get("refund"), int) or amount["refund"] <= 0 \
                or amount.get("total") != order["amount"]["total"]:
            return 400, {"code": "PARAM_ERROR", "message": "退款参数错误"}
        if no in self.refunds:
            return 200, self._public_refund(self.refunds[no])
        if self.refuse_refunds:
            return 403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足，请充值后重新发起"}
        if order["refunded"] + amount["refund"] > order["amount"]["total"]:
            return 400, {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"}
        order["refunded"] += amount["refund"]
        order.update(trade_state="REFUND", trade_state_desc="转入退款")
        refund = {"mchid": self.mchid, "refund_id": f"5030{next(self._ids):024d}", "out_refund_no": no,
                  "transaction_id": order.get("transaction_id"), "out_trade_no": order["out_trade_no"],
                  "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "status": "PROCESSING",
                  "create_time": _now_text(), "notify_url": body.get("notify_url"),
                  "amount": {"refund": amount["refund"], "total": order["amount"]["total"],
                             "payer_refund": amount["refund"], "payer_total": order["amount"]["total"],
                             "currency": "CNY"}}
        self.refunds[no] = refund
        return 200, self._public_refund(refund)

    @staticmethod
    def _public_refund(refund: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in refund.items() if k != "notify_url"}

    # -- signed answers ------------------------------------------------------------------------------------

    def _signature_headers(self, body: bytes, *, timestamp: int | None = None,
                           key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(16)
        signature = _sign(key or self.platform_key, f"{stamp}\n{nonce}\n".encode() + body + b"\n")
        return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                "Wechatpay-Serial": self.platform_serial}

    def _answer(self, request: BaseHTTPRequestHandler, status: int, document: dict[str, Any]) -> None:
        body = b"" if status == 204 else json.dumps(document, ensure_ascii=False).encode()
        headers = self._signature_headers(body)
        if self.mode == "bad_signature" and status < 400:
            headers = self._signature_headers(body, key=new_key())
        if self.mode == "unsigned" and status < 400:
            headers = {}
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Request-ID", f"08{secrets.token_hex(15).upper()}")
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        if body:
            request.wfile.write(body)
