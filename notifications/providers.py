"""The channels this deployment sends through: real providers where configured, else the log channel."""

from __future__ import annotations

from typing import Any

from backend.settings import Settings
from notifications.channels.base import Channel
from notifications.channels.log import LogChannel
from notifications.dispatch import ChannelLimits


def build_channels(settings: Settings, wechat_gateway: Any) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.sms_provider == "tencent":
        from notifications.channels.tencent_sms import TencentSms

        channels["sms"] = TencentSms(api_base=settings.sms_api_base, secret_id=settings.sms_secret_id,
                                     secret_key=settings.sms_secret_key, sdk_app_id=settings.sms_sdk_app_id,
                                     sign_name=settings.sms_sign_name, region=settings.sms_region,
                                     max_connections=settings.sms_concurrency)
    else:
        channels["sms"] = LogChannel("sms")
    if settings.smtp_host:
        from notifications.channels.email import SmtpEmail

        channels["email"] = SmtpEmail(host=settings.smtp_host, port=settings.smtp_port,
                                      username=settings.smtp_username, password=settings.smtp_password,
                                      tls=settings.smtp_tls, sender=settings.smtp_from,  # type: ignore[arg-type]
                                      tls_verify=settings.smtp_tls_verify, pool_size=settings.email_concurrency)
    else:
        channels["email"] = LogChannel("email")
    if settings.wechat_app_id:
        from notifications.channels.wechat import WeChatSubscribe

        channels["wechat"] = WeChatSubscribe(wechat_gateway, miniprogram_state=settings.wechat_subscribe_state)
    else:
        channels["wechat"] = LogChannel("wechat")
    return channels


def channel_limits(settings: Settings) -> dict[str, ChannelLimits]:
    return {"sms": ChannelLimits(settings.sms_concurrency, settings.sms_qps),
            "email": ChannelLimits(settings.email_concurrency, settings.email_qps),
            "wechat": ChannelLimits(settings.wechat_concurrency, settings.wechat_qps)}
