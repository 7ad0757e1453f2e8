"""Subscribe messages through the app's WeChat gateway and the WeChat channel, against the fake WeChat."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from backend.members.wechat import SubscribeSendResult, WeChatGateway
from notifications.channels.base import Outgoing
from notifications.channels.wechat import WeChatSubscribe
from notifications.wechat_fields import fit

DATA = {"thing1": "积分即将到期", "number2": "1200", "date3": "2026年11月26日"}


def outgoing(openid: str = "o-member-1", *, template_id: str = "tpl-points-expiry",
             data: dict[str, str] | None = None, page: str = "pages/points/index") -> Outgoing:
    return Outgoing(message_id=1, channel="wechat", purpose="service", to=openid,
                    wechat_template_id=template_id, wechat_page=page,
                    wechat_data=DATA if data is None else data)


async def send(stack, message: Outgoing | None = None, **options):
    return await WeChatSubscribe(stack.app.ctx.wechat, **options).send(message or outgoing())


# -- sending -----------------------------------------------------------------------------------------

async def test_a_send_reaches_wechat_with_the_page_data_state_and_lang(stack):
    result = await stack.app.ctx.wechat.send_subscribe_message(
        openid="o-member-1", template_id="tpl-points-expiry", data=DATA, page="pages/points/index",
        miniprogram_state="trial", lang="en_US")
    assert result.ok and result.reason == "ok" and result.errcode == 0
    assert result.msgid is not None and result.msgid.isdigit()
    assert stack.wechat.sent == [{
        "touser": "o-member-1", "template_id": "tpl-points-expiry", "page": "pages/points/index",
        "data": {key: {"value": value} for key, value in DATA.items()},
        "miniprogram_state": "trial", "lang": "en_US"}]


async def test_the_channel_sends_with_its_state_and_answers_sent_with_the_msgid(stack):
    result = await send(stack, miniprogram_state="developer")
    assert result.outcome == "sent" and result.ok
    assert result.provider == "wechat" and result.reason is None
    [record] = stack.wechat.sent
    assert result.provider_message_id == str(stack.wechat._msgid)
    assert (record["miniprogram_state"], record["lang"], record["touser"]) == ("developer", "zh_CN", "o-member-1")


async def test_the_channel_defaults_to_the_released_version(stack):
    channel = WeChatSubscribe(stack.app.ctx.wechat)
    assert (channel.name, channel.provider) == ("wechat", "wechat")
    assert (await channel.send(outgoing())).outcome == "sent"
    assert stack.wechat.sent[0]["miniprogram_state"] == "formal"
    await channel.close()


async def test_fitted_values_of_every_type_are_accepted_by_wechat(stack):
    data = {key: fit(key, value) for key, value in {
        "thing1": "春季会员日：全场积分翻倍，另有限量好礼等你来领取", "number2": "-12.5", "letter3": "VIP",
        "symbol4": "%", "character_string5": "NO20261126001", "phone_number6": "+86-0766-66888866",
        "name7": "欧阳娜娜", "phrase8": "配送中", "amount9": "¥1234.50",
        "time10": "2026-11-26 10:00~12:00", "date11": "2026年11月26日", "car_number12": "粤A8Z888挂",
    }.items()}
    result = await send(stack, outgoing(data=data))
    assert result.outcome == "sent", result.reason
    assert stack.wechat.sent[0]["data"]["thing1"]["value"].endswith("…")


async def test_many_concurrent_sends_fetch_the_shared_token_once(stack):
    results = await asyncio.gather(*(send(stack, outgoing(f"o-many-{n}")) for n in range(40)))
    assert [r.outcome for r in results] == ["sent"] * 40
    assert stack.wechat.token_fetches == 1
    assert len(stack.wechat.sent) == 40
    tokens = {args["access_token"] for path, args in stack.wechat.calls if path.endswith("subscribe/send")}
    assert len(tokens) == 1
    assert len({r.provider_message_id for r in results}) == 40


async def test_an_expired_token_is_refreshed_once_and_the_send_retried(stack):
    assert (await send(stack)).outcome == "sent"
    stack.wechat.expire_tokens()
    assert (await send(stack, outgoing("o-member-2"))).outcome == "sent"
    assert stack.wechat.token_fetches == 2
    tokens = [args["access_token"] for path, args in stack.wechat.calls if path.endswith("subscribe/send")]
    assert len(tokens) == 3 and tokens[0] == tokens[1] != tokens[2]
    assert [record["touser"] for record in stack.wechat.sent] == ["o-member-1", "o-member-2"]


async def test_a_token_rejected_after_the_retry_is_transient(stack):
    stack.wechat.fail_next("subscribe/send", 40001, "invalid credential", times=2)
    result = await send(stack)
    assert (result.outcome, result.reason) == ("transient", "errcode 40001: invalid credential")
    assert stack.wechat.token_fetches == 2
    assert stack.wechat.sent == []


# -- WeChat's refusals -------------------------------------------------------------------------------

async def test_a_user_without_consent_is_no_consent_and_others_still_receive(stack):
    stack.wechat.refuse("o-refuser")
    result = await send(stack, outgoing("o-refuser"))
    assert (result.outcome, result.reason) == ("no_consent", "errcode 43101: user refuse to accept the msg")
    assert result.provider_message_id is None and result.detail == {"errcode": 43101, "reason": "errcode"}
    assert (await send(stack, outgoing("o-member-1"))).outcome == "sent"
    stack.wechat.accept("o-refuser")
    assert (await send(stack, outgoing("o-refuser"))).outcome == "sent"


async def test_a_value_wechat_rejects_is_permanent(stack):
    result = await send(stack, outgoing(data={"thing1": "x" * 21}))
    assert result.outcome == "permanent"
    assert result.reason == "errcode 47003: argument invalid! data.thing1.value invalid"
    assert stack.wechat.sent == []


async def test_an_unknown_template_is_permanent(stack):
    stack.wechat.add_template("tpl-known", keys=("thing1",))
    result = await send(stack, outgoing(template_id="tpl-retired"))
    assert (result.outcome, result.reason) == ("permanent", "errcode 40037: invalid template_id")
    assert (await send(stack, outgoing(template_id="tpl-known"))).outcome == "sent"


@pytest.mark.parametrize(("errcode", "outcome"), [
    (40003, "permanent"), (41030, "permanent"), (47003, "permanent"), (40037, "permanent"),
    (40999, "permanent"), (45009, "defer"), (-1, "transient"), (42001, "transient"), (40125, "transient"),
])
async def test_errcodes_map_to_outcomes(stack, errcode, outcome):
    stack.wechat.fail_next("subscribe/send", errcode, "scripted", times=2)
    result = await send(stack)
    assert (result.outcome, result.reason) == (outcome, f"errcode {errcode}: scripted")


async def test_a_bad_openid_is_permanent(stack):
    result = await send(stack, outgoing("not an openid"))
    assert (result.outcome, result.reason) == ("permanent", "errcode 40003: invalid openid")


async def test_the_daily_quota_defers(stack):
    stack.wechat.quota_exceeded = True
    result = await send(stack)
    assert (result.outcome, result.reason) == ("defer", "errcode 45009: reach max api daily quota limit")


# -- outages -----------------------------------------------------------------------------------------

async def test_wechat_down_is_transient(stack):
    assert (await send(stack)).outcome == "sent"  # a token in hand: the send itself meets the outage
    stack.wechat.down = True
    result = await send(stack)
    assert (result.outcome, result.reason) == ("transient", "http_status: HTTP 502")
    assert result.detail == {"errcode": None, "reason": "http_status"}


async def test_wechat_down_before_any_token_is_transient(stack):
    stack.wechat.down = True
    result = await stack.app.ctx.wechat.send_subscribe_message(openid="o-1", template_id="t", data=DATA)
    assert result == SubscribeSendResult(ok=False, errcode=None, errmsg="access token unavailable: http_status",
                                         msgid=None, reason="http_status")
    assert (await send(stack)).outcome == "transient"


async def test_a_wrong_app_secret_is_transient_not_a_lost_message(stack):
    settings = dataclasses.replace(stack.settings, wechat_app_secret="wrong")
    gateway = WeChatGateway(settings, stack.kv)
    try:
        result = await WeChatSubscribe(gateway).send(outgoing())
    finally:
        await gateway.close()
    assert (result.outcome, result.detail["errcode"]) == ("transient", 40125)


async def test_wechat_slower_than_the_timeout_is_transient(stack):
    settings = dataclasses.replace(stack.settings, wechat_timeout_s=0.3)
    gateway = WeChatGateway(settings, stack.kv)
    try:
        assert (await WeChatSubscribe(gateway).send(outgoing())).outcome == "sent"
        stack.wechat.delay_s = 0.6
        result = await WeChatSubscribe(gateway).send(outgoing())
    finally:
        await gateway.close()
    assert (result.outcome, result.reason) == ("transient", "timeout: timed out")
    await asyncio.sleep(0.5)  # let the fake finish the late answer before the next test resets it


async def test_a_closed_gateway_is_transient(stack):
    gateway = WeChatGateway(stack.settings, stack.kv)
    await gateway.close()
    result = await WeChatSubscribe(gateway).send(outgoing())
    assert (result.outcome, result.detail["reason"]) == ("transient", "closed")
    assert stack.wechat.calls == []


async def test_without_an_app_id_nothing_is_sent(stack):
    gateway = WeChatGateway(dataclasses.replace(stack.settings, wechat_app_id=""), stack.kv)
    try:
        result = await WeChatSubscribe(gateway).send(outgoing())
    finally:
        await gateway.close()
    assert (result.outcome, result.detail["reason"]) == ("permanent", "not_configured")
    assert stack.wechat.calls == []
