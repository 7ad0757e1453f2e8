"""The WeChat mini-program gateway: code2session, the phone number, subscribe messages, one shared token.

wechatpy is synchronous (requests), so every call runs in a bounded thread pool off the event loop.
Each pool thread has its own wechatpy client (a ``requests.Session`` is not promised thread-safe);
the access token lives in our key-value store so every process shares one, and it is handed to
wechatpy per call. WeChat answers HTTP 200 with an ``errcode`` for most failures: the codes a user
can cause become domain errors, everything else is an outage (503). Subscribe-message sends never
raise for WeChat's answer: they return a ``SubscribeSendResult`` for the notification worker to classify.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import InvalidAppIdException, WeChatClientException

from backend.errors import DependencyUnavailable, error
from backend.kv import KV, LockNotAcquired
from backend.settings import Settings

log = logging.getLogger(__name__)


class _RedactSecret(logging.Filter):
    """urllib3 logs each request line at DEBUG; WeChat puts the app secret and the token in the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_PARAM.sub(r"\1=***", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


_SECRET_PARAM = re.compile(r"\b(secret|access_token)=[^&\s]*")
logging.getLogger("urllib3.connectionpool").addFilter(_RedactSecret())

WeChatCodeInvalid = error("WECHAT_CODE_INVALID", 401, "微信登录凭证无效或已使用，请重新登录")
WeChatPhoneCodeInvalid = error("WECHAT_PHONE_CODE_INVALID", 422, "手机号授权凭证无效或已过期，请重新授权")
WeChatDecryptFailed = error("WECHAT_DECRYPT_FAILED", 422, "手机号数据解密失败，请重新授权")

# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_REJECTED = frozenset({40001, 40014, 42001})
# jscode2session: 40029 invalid code, 40163 code been used, 40226 high-risk user blocked.
CODE_REJECTED = frozenset({40029, 40163, 40226})
# getuserphonenumber: 40029 code unknown, expired or used; 47001 malformed body (no code).
PHONE_CODE_REJECTED = frozenset({40029, 47001})
MOBILE = re.compile(r"1[3-9]\d{9}")
SANDBOX_APP_ID = "sandbox"


@dataclass(frozen=True)
class WeChatSession:
    """What code2session answers; the session_key never leaves the server."""

    openid: str
    unionid: str | None
    session_key: str = field(repr=False)


@dataclass(frozen=True)
class SubscribeSendResult:
    """WeChat's answer to one subscribe-message send, or why there was none.

    ``reason``: ok | errcode | timeout | connection | http_status | bad_response | not_configured | closed.
    """

    ok: bool
    errcode: int | None
    errmsg: str
    msgid: str | None
    reason: str


SEND_REASONS = frozenset({"ok", "errcode", "timeout", "connection", "http_status", "bad_response",
                          "not_configured", "closed"})


class _Failure(Exception):
    """A failed call, told from the worker thread without the request (its URL carries the secret)."""

    def __init__(self, errcode: int | None, errmsg: str, reason: str) -> None:
        super().__init__(f"{reason}: errcode={errcode} {errmsg}")
        self.errcode, self.errmsg, self.reason = errcode, errmsg, reason


class _Wxa(WeChatWxa):
    """wechatpy's mini-program API on our host, plus getuserphonenumber (missing from wechatpy 1.8)."""

    def get_user_phone_number(self, code: str) -> dict[str, Any]:
        return self._post("wxa/business/getuserphonenumber", data={"code": code})


class _Client(WeChatClient):
    """A WeChatClient on ``api_base`` that uses the token the gateway hands it, never its own storage."""

    token: str | None = None  # set by the gateway around each call; None sends no access_token at all

    def __init__(self, appid: str, secret: str, *, api_base: str, timeout: float) -> None:
        # auto_retry off: wechatpy would refetch the token itself, outside our shared cache and lock.
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.api_base = api_base
        self.API_BASE_URL = api_base + "/cgi-bin/"
        self.wxa = _Wxa(self)
        self.wxa.API_BASE_URL = api_base + "/"

    @property
    def access_token(self) -> str | None:
        # wechatpy adds params["access_token"] = self.access_token to EVERY call, code2session included;
        # requests drops None-valued params, so calls that need no token send none.
        return self.token

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's own version hard-codes api.weixin.qq.com, sends no timeout and keeps the token in
        # its in-memory storage; this one goes through _request (our host, our timeout) and returns it.
        return self.get(self.api_base + "/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


class WeChatGateway:
    """The server's one way to WeChat; sandbox mode (no app id, not production) never touches the network."""

    def __init__(self, settings: Settings, kv: KV) -> None:
        self._settings = settings
        self._kv = kv
        self._sandbox = settings.wechat_sandbox
        self._timeout = settings.wechat_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=settings.wechat_pool_size, thread_name_prefix="wechat")
        self._local = threading.local()
        self._clients: list[_Client] = []
        self._token_key = f"wechat:token:{settings.wechat_app_id}"

    @property
    def app_id(self) -> str:
        return SANDBOX_APP_ID if self._sandbox else self._settings.wechat_app_id

    async def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a wx.login code for the user's openid, unionid and session_key."""
        if not _well_formed(code):
            raise WeChatCodeInvalid()
        if self._sandbox:
            return _sandbox_session(code)
        result = await self._call("jscode2session", lambda client: client.wxa.code_to_session(code),
                                  rejected=CODE_REJECTED, error_class=WeChatCodeInvalid)
        openid, session_key = result.get("openid"), result.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
            raise self._outage("jscode2session", _Failure(None, "no openid or session_key", "bad_response"))
        return WeChatSession(openid=openid, unionid=result.get("unionid") or None, session_key=session_key)

    async def get_phone_number(self, phone_code: str) -> str:
        """Exchange a getPhoneNumber code for the user's phone number (purePhoneNumber, no country code)."""
        if not _well_formed(phone_code):
            raise WeChatPhoneCodeInvalid()
        if self._sandbox:
            # The sandbox takes the phone number itself as the code, so any number can be registered.
            if MOBILE.fullmatch(phone_code):
                return phone_code
            raise WeChatPhoneCodeInvalid(details={"reason": "sandbox_expects_a_mobile_number"})
        result = await self._call("getuserphonenumber",
                                  lambda client: client.wxa.get_user_phone_number(phone_code),
                                  needs_token=True, rejected=PHONE_CODE_REJECTED,
                                  error_class=WeChatPhoneCodeInvalid)
        info = result.get("phone_info")
        phone = info.get("purePhoneNumber") if isinstance(info, dict) else None
        if not isinstance(phone, str) or not phone:
            raise self._outage("getuserphonenumber", _Failure(None, "no phone_info", "bad_response"))
        return phone

    def decrypt_phone(self, *, session_key: str, encrypted_data: str, iv: str) -> str:
        """Decrypt the legacy getPhoneNumber payload with the user's session_key; checks the watermark."""
        if self._sandbox:
            raise WeChatDecryptFailed("沙箱模式没有会话密钥，无法解密加密数据，请改用手机号授权凭证（phone_code）",
                                      details={"reason": "sandbox_has_no_session_key"})
        if not session_key:
            raise WeChatDecryptFailed(details={"reason": "no_session_key"})
        try:
            data = WeChatWxaCrypto(session_key, iv, self.app_id).decrypt_message(encrypted_data)
        except InvalidAppIdException:
            log.warning("wechat encrypted phone data carries another app's watermark")
            raise WeChatDecryptFailed(details={"reason": "watermark_appid_mismatch"}) from None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # Bad base64, a key or iv of the wrong length, bad padding (decrypts to garbage JSON), no watermark.
            log.warning("wechat encrypted phone data did not decrypt: %s", type(exc).__name__)
            raise WeChatDecryptFailed(details={"reason": "undecryptable"}) from None
        phone = data.get("purePhoneNumber")
        if not isinstance(phone, str) or not phone:
            raise WeChatDecryptFailed(details={"reason": "no_phone_number"})
        return phone

    async def send_subscribe_message(self, *, openid: str, template_id: str, data: dict[str, str],
                                     page: str = "", miniprogram_state: str = "formal",
                                     lang: str = "zh_CN") -> SubscribeSendResult:
        """Send one subscribe message; errcodes and outages come back in the result, never raised."""
        if self._sandbox or not self._settings.wechat_app_id:
            return SubscribeSendResult(ok=False, errcode=None, errmsg="wechat app id not configured",
                                       msgid=None, reason="not_configured")
        # Posted directly: wechatpy's send_subscribe_message has no miniprogram_state or lang.
        body = {"touser": openid, "template_id": template_id, "page": page,
                "data": {key: {"value": value} for key, value in data.items()},
                "miniprogram_state": miniprogram_state, "lang": lang}

        def post(client: _Client) -> Any:
            return client.post("message/subscribe/send", data=body)

        try:
            token = await self._token()
            try:
                result = await self._run(post, token)
            except _Failure as failure:
                if failure.errcode not in TOKEN_REJECTED:
                    raise
                log.warning("wechat subscribe/send: access token rejected (errcode %s), refreshing",
                            failure.errcode)
                token = await self._token(stale=token)
                result = await self._run(post, token)
        except _Failure as failure:
            log.info("wechat subscribe/send failed: %s errcode=%s %s",
                     failure.reason, failure.errcode, failure.errmsg)
            return SubscribeSendResult(ok=False, errcode=failure.errcode, errmsg=failure.errmsg, msgid=None,
                                       reason=_send_reason(failure.reason))
        except DependencyUnavailable as exc:  # no access token (logged by _token), or the KV store is down
            reason = str(exc.details.get("reason") or "connection")
            return SubscribeSendResult(ok=False, errcode=exc.details.get("errcode"),
                                       errmsg=f"access token unavailable: {reason}", msgid=None,
                                       reason=_send_reason(reason))
        msgid = result.get("msgid")
        return SubscribeSendResult(ok=True, errcode=0, errmsg=str(result.get("errmsg") or "ok"),
                                   msgid=None if msgid is None else str(msgid), reason="ok")

    async def close(self) -> None:
        """Stop the pool (waiting for calls in flight, each bounded by the timeout) and close connections."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self._pool.shutdown(wait=True, cancel_futures=True))
        for client in self._clients:
            client._http.close()

    # -- calls ---------------------------------------------------------------------------------------

    async def _call(self, name: str, fn: Callable[[_Client], Any], *, needs_token: bool = False,
                    rejected: frozenset[int] = frozenset(), error_class: type[Exception] | None = None
                    ) -> dict[str, Any]:
        if not self._settings.wechat_app_id:
            raise DependencyUnavailable(details={"dependency": "wechat", "errcode": None,
                                                 "reason": "not_configured"})
        token = await self._token() if needs_token else None
        try:
            try:
                return await self._run(fn, token)
            except _Failure as failure:
                if not (needs_token and failure.errcode in TOKEN_REJECTED):
                    raise
                # Expired or revoked (another server fetched a new one with our secret): refresh, retry once.
                log.warning("wechat %s: access token rejected (errcode %s), refreshing", name, failure.errcode)
                token = await self._token(stale=token)
                return await self._run(fn, token)
        except _Failure as failure:
            if error_class is not None and failure.errcode in rejected:
                log.info("wechat %s rejected the code: errcode=%s %s", name, failure.errcode, failure.errmsg)
                raise error_class(details={"errcode": failure.errcode}) from None
            raise self._outage(name, failure) from None

    async def _run(self, fn: Callable[[_Client], Any], token: str | None) -> dict[str, Any]:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._execute, fn, token)
        except RuntimeError as exc:  # the pool is shut down: the app is stopping
            raise _Failure(None, str(exc), "closed") from None

    def _execute(self, fn: Callable[[_Client], Any], token: str | None) -> dict[str, Any]:
        """Runs on a pool thread: one wechatpy call, every failure turned into a _Failure."""
        client = self._client()
        client.token = token
        try:
            result = fn(client)
        except WeChatClientException as exc:
            if exc.errcode is None:  # wechatpy's wrapper around a non-2xx HTTP status
                status = getattr(exc.response, "status_code", None)
                raise _Failure(None, f"HTTP {status}", "http_status") from None
            raise _Failure(int(exc.errcode), str(exc.errmsg), "errcode") from None
        except requests.Timeout:
            raise _Failure(None, "timed out", "timeout") from None
        except requests.RequestException as exc:  # its message holds the URL, so only the type is kept
            raise _Failure(None, type(exc).__name__, "connection") from None
        except Exception as exc:
            raise _Failure(None, type(exc).__name__, "unexpected") from None
        finally:
            client.token = None
        if not isinstance(result, dict):  # wechatpy hands back the raw Response when the body is not JSON
            raise _Failure(None, "response is not JSON", "bad_response")
        return result

    def _client(self) -> _Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = _Client(self._settings.wechat_app_id, self._settings.wechat_app_secret,
                             api_base=self._settings.wechat_api_base, timeout=self._timeout)
            self._local.client = client
            self._clients.append(client)
        return client

    def _outage(self, name: str, failure: _Failure) -> DependencyUnavailable:
        log.error("wechat %s failed: %s errcode=%s %s", name, failure.reason, failure.errcode, failure.errmsg)
        return DependencyUnavailable(details={"dependency": "wechat", "errcode": failure.errcode,
                                              "reason": failure.reason})

    # -- access token --------------------------------------------------------------------------------

    async def _token(self, stale: str | None = None) -> str:
        """The shared access token; ``stale`` is one WeChat just rejected, to be replaced."""
        cached = await self._kv.get(self._token_key)
        if cached and cached != stale:
            return cached
        try:
            async with self._kv.lock(self._token_key, ttl_s=int(self._timeout * 2) + 10,
                                     wait_s=self._timeout * 2 + 1):
                cached = await self._kv.get(self._token_key)
                if cached and cached != stale:
                    return cached  # another process refreshed it while we waited for the lock
                if cached:
                    await self._kv.delete(self._token_key)
                try:
                    result = await self._run(lambda client: client.fetch_access_token(), None)
                    token, expires_in = str(result["access_token"]), int(result.get("expires_in", 7200))
                except (KeyError, TypeError, ValueError):
                    raise self._outage("token", _Failure(None, "no access_token", "bad_response")) from None
                except _Failure as failure:
                    raise self._outage("token", failure) from None
                # Refresh 5 minutes early: WeChat keeps the old token valid for 5 minutes after a refresh.
                ttl = expires_in - 300 if expires_in > 600 else max(expires_in // 2, 1)
                await self._kv.set(self._token_key, token, ttl_s=ttl)
                log.info("wechat access token refreshed", extra={"ttl_s": ttl})
                return token
        except LockNotAcquired:
            raise DependencyUnavailable(details={"dependency": "wechat", "errcode": None,
                                                 "reason": "token_refresh_busy"}) from None


def _send_reason(reason: str) -> str:
    """A failure reason in SubscribeSendResult's vocabulary: waiting for the token lock is a timeout."""
    reason = {"token_refresh_busy": "timeout", "unexpected": "bad_response"}.get(reason, reason)
    return reason if reason in SEND_REASONS else "connection"


def _well_formed(code: object) -> bool:
    return isinstance(code, str) and 0 < len(code) <= 128 and code.isprintable()


def _sandbox_session(code: str) -> WeChatSession:
    """A stable fake identity per code; the code ``invalid`` fails so clients can try the error path."""
    if code == "invalid":
        raise WeChatCodeInvalid(details={"reason": "sandbox_invalid_code"})

    def digest(label: str) -> str:
        return hashlib.sha256(f"{label}:{code}".encode()).hexdigest()[:24]

    session_key = base64.b64encode(hashlib.sha256(f"sk:{code}".encode()).digest()[:16]).decode()
    return WeChatSession(openid="sbx_" + digest("openid"), unionid="sbxu_" + digest("unionid"),
                         session_key=session_key)
