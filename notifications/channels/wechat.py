"""WeChat mini-program subscribe messages through the app's ``WeChatGateway``."""

from __future__ import annotations

from backend.members.wechat import TOKEN_REJECTED, SubscribeSendResult, WeChatGateway
from notifications.channels.base import Outcome, Outgoing, SendResult

NO_CONSENT = frozenset({43101})  # no credit left for this (openid, template), or the user refused
# 47003 bad data, 40037 bad template id, 40003 bad openid, 41030 bad page: this message never will.
PERMANENT = frozenset({47003, 40037, 40003, 41030})
DEFER = frozenset({45009})  # the app's daily quota for this API
# Still failing after the gateway's refresh and retry, or WeChat busy (-1): try again later.
TRANSIENT = TOKEN_REJECTED | {-1}
# The access token could not be fetched: app id, secret or IP allow-list. The configuration is at
# fault, not the message, so it waits for the fix instead of being lost.
CREDENTIALS = frozenset({40002, 40013, 40125, 40164, 41002, 41004, 89503})
# Outages: retried with backoff. http_status covers every non-2xx answer (WeChat only sends 5xx).
TRANSIENT_REASONS = frozenset({"timeout", "connection", "http_status", "bad_response", "closed"})


class WeChatSubscribe:
    """One subscribe message per send; ``miniprogram_state`` picks the version the message opens."""

    name = "wechat"
    provider = "wechat"

    def __init__(self, gateway: WeChatGateway, *, miniprogram_state: str = "formal",
                 lang: str = "zh_CN") -> None:
        self._gateway = gateway
        self._miniprogram_state = miniprogram_state
        self._lang = lang

    async def send(self, message: Outgoing) -> SendResult:
        """Send ``message`` to the openid in ``message.to`` and classify WeChat's answer."""
        result = await self._gateway.send_subscribe_message(
            openid=message.to, template_id=message.wechat_template_id, data=dict(message.wechat_data),
            page=message.wechat_page, miniprogram_state=self._miniprogram_state, lang=self._lang)
        return SendResult(outcome=classify(result), provider=self.provider,
                          provider_message_id=result.msgid if result.ok else None,
                          reason=_reason(result),
                          detail={"errcode": result.errcode, "reason": result.reason})

    async def close(self) -> None:
        """Nothing to close: the gateway belongs to the app."""


def classify(result: SubscribeSendResult) -> Outcome:
    """The outcome of one send from the gateway's result."""
    if result.ok:
        return "sent"
    if result.reason == "errcode" and result.errcode is not None:
        code = result.errcode
        if code in NO_CONSENT:
            return "no_consent"
        if code in DEFER:
            return "defer"
        if code in PERMANENT:
            return "permanent"
        if code in TRANSIENT or code in CREDENTIALS:
            return "transient"
        return "permanent"
    if result.reason in TRANSIENT_REASONS:
        return "transient"
    return "permanent"  # not_configured: this server cannot send to WeChat at all


def _reason(result: SubscribeSendResult) -> str | None:
    if result.ok:
        return None
    if result.errcode is not None:
        return f"errcode {result.errcode}: {result.errmsg}"
    return f"{result.reason}: {result.errmsg}"
