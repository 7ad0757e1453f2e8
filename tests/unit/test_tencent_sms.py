"""Tencent SMS: the TC3 signer against Tencent's documented example, then the real client over
sockets to the loopback fake (which verifies every signature with its own implementation)."""

import asyncio
import dataclasses
import logging
import socket
import time

import pytest

from notifications.channels.base import Outgoing
from notifications.channels.log import LogChannel, mask_email, mask_phone
from notifications.channels.tencent_sms import TencentSms, classify_code, e164, tc3_sign
from tests.fakes.tencent_sms import FakeTencentSms, verify_tc3

# Tencent's worked example (API 3.0 "签名方法 v3", CVM DescribeInstances); the asterisks are part of
# the example credentials. Payload hash 35e9c5b0..., hashed canonical request 5ffe6a04...
DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3*******"
DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_TIMESTAMP = 1551113065  # 2019-02-26 00:44:25 in UTC+8, so the scope date must be 2019-02-25
DOC_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
    "SignedHeaders=content-type;host, "
    "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
)


@pytest.fixture(scope="module")
def fake():
    fake = FakeTencentSms()
    fake.start()
    yield fake
    fake.stop()


def make_client(fake: FakeTencentSms, **overrides) -> TencentSms:
    args = {"api_base": fake.base_url, "secret_id": fake.secret_id, "secret_key": fake.secret_key,
            "sdk_app_id": fake.sdk_app_id, "sign_name": "星河会员", "timeout_s": 2.0}
    return TencentSms(**{**args, **overrides})


@pytest.fixture
async def sms(fake):
    fake.reset()
    client = make_client(fake)
    yield client
    await client.close()


def message(**overrides) -> Outgoing:
    base = Outgoing(message_id=42, channel="sms", purpose="service", to="13812345678",
                    sms_template_id="1234567", sms_params=("张三", "100"))
    return dataclasses.replace(base, **overrides)


# -- the signer ----------------------------------------------------------------------------------------


def test_the_signer_reproduces_tencents_documented_example():
    headers = tc3_sign(DOC_SECRET_ID, DOC_SECRET_KEY, host="cvm.tencentcloudapi.com", service="cvm",
                       action="DescribeInstances", payload=DOC_PAYLOAD, timestamp=DOC_TIMESTAMP)

    assert headers["Authorization"] == DOC_AUTHORIZATION
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Host"] == "cvm.tencentcloudapi.com"
    assert headers["X-TC-Action"] == "DescribeInstances"
    assert headers["X-TC-Timestamp"] == "1551113065"


def test_the_fakes_own_verifier_accepts_the_documented_example():
    headers = {"Authorization": DOC_AUTHORIZATION, "Content-Type": "application/json; charset=utf-8",
               "Host": "cvm.tencentcloudapi.com", "X-TC-Timestamp": str(DOC_TIMESTAMP)}

    assert verify_tc3(headers, DOC_PAYLOAD, secret_id=DOC_SECRET_ID, secret_key=DOC_SECRET_KEY,
                      service="cvm", now=DOC_TIMESTAMP) is None
    assert verify_tc3(headers, DOC_PAYLOAD + b" ", secret_id=DOC_SECRET_ID, secret_key=DOC_SECRET_KEY,
                      service="cvm", now=DOC_TIMESTAMP) == "AuthFailure.SignatureFailure"


def test_the_fakes_verifier_and_the_signer_agree_and_reject_a_stale_or_foreign_request():
    body = b'{"PhoneNumberSet":["+8613812345678"]}'
    now = int(time.time())
    headers = tc3_sign("AKIDx", "key", host="127.0.0.1:9", service="sms", action="SendSms",
                       payload=body, timestamp=now)

    def check(**overrides):
        args = {"secret_id": "AKIDx", "secret_key": "key", "service": "sms", "now": now, **overrides}
        return verify_tc3(headers, body, **args)

    assert check() is None
    assert check(now=now + 301) == "AuthFailure.SignatureExpire"
    assert check(secret_id="AKIDy") == "AuthFailure.SecretIdNotFound"
    assert check(secret_key="other") == "AuthFailure.SignatureFailure"
    assert check(service="cvm") == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize(("code", "outcome"), [
    ("Ok", "sent"),
    ("LimitExceeded.PhoneNumberDailyLimit", "defer"),
    ("LimitExceeded.DeliveryFrequencyLimit", "defer"),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", "defer"),
    ("LimitExceeded.PhoneNumberSameContentDailyLimit", "defer"),
    ("LimitExceeded.PhoneNumberCountLimit", "permanent"),
    ("FailedOperation.PhoneNumberInBlacklist", "withdrawn"),
    ("RequestLimitExceeded", "transient"),
    ("InternalError.Timeout", "transient"),
    ("InvalidParameterValue.IncorrectPhoneNumber", "permanent"),
    ("FailedOperation.TemplateIncorrectOrUnapproved", "permanent"),
    ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "permanent"),
    ("AuthFailure.SignatureFailure", "permanent"),
    ("UnsupportedOperation.UnsupportedRegion", "permanent"),
    ("MissingParameter.EmptyPhoneNumberSet", "permanent"),
])
def test_each_tencent_code_maps_to_one_outcome(code, outcome):
    assert classify_code(code) == outcome


def test_a_mainland_number_gets_the_country_code_and_others_go_as_given():
    assert e164("13812345678") == "+8613812345678"
    assert e164("+8613812345678") == "+8613812345678"
    assert e164("12345") == "12345"


# -- the client against the fake -----------------------------------------------------------------------


async def test_a_message_is_sent_and_the_provider_records_what_we_asked(sms, fake):
    result = await sms.send(message())

    assert result.outcome == "sent"
    assert result.provider == "tencent"
    [record] = fake.sent
    assert result.provider_message_id == record["serial_no"]
    assert record["phone"] == "+8613812345678"
    assert record["template_id"] == "1234567"
    assert record["params"] == ["张三", "100"]
    assert record["session_context"] == "42"
    assert record["sign_name"] == "星河会员"


async def test_a_wrong_secret_key_is_a_permanent_signature_failure(fake):
    fake.reset()
    client = make_client(fake, secret_key="not-the-key")
    try:
        result = await client.send(message())
    finally:
        await client.close()

    assert result.outcome == "permanent"
    assert result.reason.startswith("AuthFailure.SignatureFailure: ")
    assert fake.sent == []


@pytest.mark.parametrize(("kind", "outcome", "code"), [
    ("throttle", "defer", "LimitExceeded.PhoneNumberDailyLimit"),
    ("frequency", "defer", "LimitExceeded.DeliveryFrequencyLimit"),
    ("rate_limit", "transient", "RequestLimitExceeded"),
    ("blacklist", "withdrawn", "FailedOperation.PhoneNumberInBlacklist"),
    ("invalid_number", "permanent", "InvalidParameterValue.IncorrectPhoneNumber"),
    ("bad_template", "permanent", "FailedOperation.TemplateIncorrectOrUnapproved"),
    ("internal", "transient", "InternalError.OtherError"),
    ("http500", "transient", "HTTP 500"),
    ("http502", "transient", "HTTP 502"),
])
async def test_each_provider_answer_is_classified(sms, fake, kind, outcome, code):
    fake.script(kind)

    result = await sms.send(message())

    assert result.outcome == outcome
    assert result.reason.startswith(code)
    assert result.provider_message_id is None
    assert fake.sent == []


async def test_a_scripted_failure_passes_and_the_next_send_goes_through(sms, fake):
    fake.fail_number("13812345678", "LimitExceeded.PhoneNumberOneHourLimit", times=1)

    first, second = await sms.send(message()), await sms.send(message())

    assert first.outcome == "defer"
    assert first.reason.startswith("LimitExceeded.PhoneNumberOneHourLimit: ")
    assert second.outcome == "sent"
    assert len(fake.sent) == 1


async def test_a_slow_provider_is_a_transient_timeout(fake):
    fake.reset()
    fake.delay_s = 1.0
    fake.script("timeout")
    client = make_client(fake, timeout_s=0.2)
    started = time.monotonic()
    try:
        result = await client.send(message())
    finally:
        await client.close()

    assert result.outcome == "transient"
    assert "Timeout" in result.reason
    assert time.monotonic() - started < 1.0


async def test_a_provider_that_is_down_or_unreachable_is_transient(sms, fake):
    fake.down = True
    down = await sms.send(message())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    client = make_client(fake, api_base=f"http://127.0.0.1:{closed_port}")
    try:
        unreachable = await client.send(message())
    finally:
        await client.close()

    assert (down.outcome, down.reason) == ("transient", "HTTP 502")
    assert unreachable.outcome == "transient"
    assert unreachable.reason.startswith("ConnectError")


async def test_a_number_the_provider_cannot_parse_is_permanent(sms, fake):
    result = await sms.send(message(to="12345"))

    assert result.outcome == "permanent"
    assert result.reason.startswith("InvalidParameterValue.IncorrectPhoneNumber: ")


async def test_params_that_do_not_match_the_approved_template_are_permanent(sms, fake):
    fake.add_template("1234567", params=3)

    result = await sms.send(message())

    assert result.outcome == "permanent"
    assert result.reason.startswith("FailedOperation.TemplateParamSetNotMatchApprovedTemplate: ")


async def test_concurrent_sends_each_get_their_own_serial_number(sms, fake):
    results = await asyncio.gather(*(sms.send(message(message_id=i)) for i in range(200)))

    assert {r.outcome for r in results} == {"sent"}
    assert len({r.provider_message_id for r in results}) == 200
    assert sorted(int(s["session_context"]) for s in fake.sent) == list(range(200))
    assert fake.count("sent") == 200


async def test_the_log_never_holds_the_secret_key_or_the_full_number(sms, fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.script("ok", "blacklist")

    await sms.send(message())
    await sms.send(message())

    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text
    assert fake.secret_key not in caplog.text
    assert fake.secret_key not in repr(sms)


def test_callback_bodies_follow_tencents_formats():
    [report] = FakeTencentSms.status_report("+8613812345678", "2433:1", ok=False)
    reply = FakeTencentSms.reply("13812345678", "TD", sign="星河会员", at=1700000000)

    assert set(report) == {"user_receive_time", "nationcode", "mobile", "report_status", "errmsg",
                           "description", "sid"}
    assert (report["mobile"], report["report_status"], report["sid"]) == ("13812345678", "FAIL", "2433:1")
    assert reply == {"extend": "", "mobile": "13812345678", "nationcode": "86", "sign": "星河会员",
                     "text": "TD", "time": 1700000000}


# -- the embedded default ------------------------------------------------------------------------------


async def test_the_log_channel_accepts_everything_and_keeps_the_last_thousand(caplog):
    caplog.set_level(logging.INFO)
    channel = LogChannel("sms")

    results = [await channel.send(message(message_id=i)) for i in range(1005)]

    assert results[7].outcome == "sent"
    assert results[7].provider == "log"
    assert results[7].provider_message_id == "log-7"
    assert len(channel.recent) == 1000
    assert channel.recent[0].message_id == 5
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text
    await channel.close()


def test_recipients_are_masked():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_email("alice@example.com") == "a***@example.com"
