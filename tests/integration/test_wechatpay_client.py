"""The WeChat Pay v3 client (``backend.payments.wechatpay``) against the loopback fake, over real sockets:
requests signed and checked by the fake's own verifier, every answer and notification verified with the
platform's key, resources decrypted with the APIv3 key, forged ones refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from backend.payments.wechatpay import (
    Merchant,
    SignatureInvalid,
    WeChatPayClient,
    WeChatPayError,
    WeChatPayUnavailable,
)
from tests.fakes.wechatpay import FakeWeChatPay, new_key, private_pem

NOTIFY = "https://shop.example.com/api/v1/callbacks/wechatpay"


@pytest.fixture(scope="module")
def fake() -> AsyncIterator[FakeWeChatPay]:
    server = FakeWeChatPay()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(fake: FakeWeChatPay) -> AsyncIterator[WeChatPayClient]:
    fake.reset()
    made = WeChatPayClient(Merchant.from_pem(**fake.merchant_settings()))
    yield made
    await made.close_client()


async def prepay(client: WeChatPayClient, no: str = "T20261203001", cents: int = 10000) -> str:
    return await client.jsapi_prepay(out_trade_no=no, description="储值 充100送20", amount_cents=cents,
                                     openid="o-shopper-1", notify_url=NOTIFY)


async def test_a_prepay_is_signed_as_wechat_pay_checks_and_gives_signed_payment_parameters(client, fake):
    prepay_id = await prepay(client)
    assert prepay_id.startswith("wx")
    assert "refused" not in fake.calls[-1]  # the fake's own verifier accepted the signature
    sent = json.loads(fake.calls[-1]["body"])
    assert sent["amount"] == {"total": 10000, "currency": "CNY"} and sent["payer"] == {"openid": "o-shopper-1"}
    # The same order again: the same prepay id; the same number for other terms: refused
    assert await prepay(client) == prepay_id
    with pytest.raises(WeChatPayError) as refused:
        await prepay(client, cents=9900)
    assert (refused.value.status, refused.value.code) == (400, "INVALID_REQUEST")
    # wx.requestPayment's parameters, signed over four lines with the merchant's key
    params = client.pay_params(prepay_id)
    assert params["package"] == f"prepay_id={prepay_id}" and params["signType"] == "RSA"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    fake.merchant_key.public_key().verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(),
                                          hashes.SHA256())


async def test_a_request_signed_with_another_key_is_refused_by_wechat_pay(fake):
    settings = {**fake.merchant_settings(), "private_key_pem": private_pem(new_key())}
    wrong = WeChatPayClient(Merchant.from_pem(**settings))
    try:
        with pytest.raises(WeChatPayError) as refused:
            await prepay(wrong)
        assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")
        assert fake.calls[-1]["refused"] == "signature does not verify"
    finally:
        await wrong.close_client()


@pytest.mark.parametrize("mode", ["bad_signature", "unsigned"])
async def test_a_successful_answer_without_the_platforms_signature_is_treated_as_forged(client, fake, mode):
    fake.mode = mode
    with pytest.raises(SignatureInvalid):
        await prepay(client)


async def test_query_close_and_the_errors_of_an_order(client, fake):
    await prepay(client, "T-query")
    assert (await client.query("T-query"))["trade_state"] == "NOTPAY"
    paid = fake.pay("T-query")
    answer = await client.query("T-query")
    assert answer["trade_state"] == "SUCCESS" and answer["transaction_id"] == paid["transaction_id"]
    with pytest.raises(WeChatPayError) as missing:
        await client.query("T-nobody")
    assert (missing.value.status, missing.value.code) == (404, "ORDER_NOT_EXIST")
    await prepay(client, "T-close")
    await client.close("T-close")  # 204, signed empty body
    assert (await client.query("T-close"))["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayError) as paid_already:
        await client.close("T-query")
    assert paid_already.value.code == "ORDERPAID"


async def test_a_system_error_and_an_unreachable_gateway_are_told_apart_from_a_refusal(client, fake):
    fake.mode = "http500"
    with pytest.raises(WeChatPayError) as failed:
        await prepay(client)
    assert (failed.value.status, failed.value.code) == (500, "SYSTEM_ERROR")
    away = WeChatPayClient(Merchant.from_pem(**{**fake.merchant_settings(), "api_base": "http://127.0.0.1:9"}),
                           timeout_s=2)
    try:
        with pytest.raises(WeChatPayUnavailable):
            await prepay(away)
    finally:
        await away.close_client()


async def test_a_payment_notification_is_verified_and_decrypted(client, fake):
    await prepay(client, "T-notify")
    paid = fake.pay("T-notify")
    headers, body = fake.notification(paid)
    note = client.notification(headers, body)
    assert (note.event_type, note.resource_type) == ("TRANSACTION.SUCCESS", "transaction")
    assert note.resource["out_trade_no"] == "T-notify"
    assert note.resource["transaction_id"] == paid["transaction_id"]
    assert note.resource["amount"]["total"] == 10000 and note.resource["trade_state"] == "SUCCESS"
    # A duplicate is the same notification again (the caller credits once per transaction id)
    again = client.notification(*fake.notification(paid))
    assert again.resource["transaction_id"] == note.resource["transaction_id"] and again.id != note.id


@pytest.mark.parametrize(("forge", "code"), [("signature", "BAD_SIGNATURE"), ("body", "BAD_SIGNATURE"),
                                             ("key", "DECRYPT_FAILED")])
async def test_a_forged_notification_is_refused(client, fake, forge, code):
    await prepay(client, "T-forged")
    headers, body = fake.notification(fake.pay("T-forged"), forge=forge)
    with pytest.raises(SignatureInvalid) as forged:
        client.notification(headers, body)
    assert forged.value.code == code


async def test_a_notification_signed_too_long_ago_or_by_an_unknown_key_is_refused(client, fake):
    await prepay(client, "T-stale")
    paid = fake.pay("T-stale")
    with pytest.raises(SignatureInvalid) as stale:
        client.notification(*fake.notification(paid, timestamp=int(time.time()) - 301))
    assert stale.value.code == "STALE"
    headers, body = fake.notification(paid)
    with pytest.raises(SignatureInvalid) as unknown:
        client.notification({**headers, "Wechatpay-Serial": "ANOTHER"}, body)
    assert unknown.value.code == "UNKNOWN_SERIAL"


async def test_a_refund_is_asked_once_per_refund_number_and_settled_by_its_notification(client, fake):
    await prepay(client, "T-refund", cents=12000)
    fake.pay("T-refund")
    asked = await client.refund(out_trade_no="T-refund", out_refund_no="R-1", refund_cents=5000, total_cents=12000,
                                reason="退储值本金", notify_url=NOTIFY)
    assert asked["status"] == "PROCESSING" and asked["amount"]["refund"] == 5000
    again = await client.refund(out_trade_no="T-refund", out_refund_no="R-1", refund_cents=5000,
                                total_cents=12000, reason="退储值本金", notify_url=NOTIFY)
    assert again["refund_id"] == asked["refund_id"]
    with pytest.raises(WeChatPayError) as too_much:
        await client.refund(out_trade_no="T-refund", out_refund_no="R-2", refund_cents=7001, total_cents=12000,
                            reason="超额", notify_url=NOTIFY)
    assert too_much.value.code == "INVALID_REQUEST"
    settled = fake.settle_refund("R-1")
    note = client.notification(*fake.notification(settled, event_type="REFUND.SUCCESS"))
    assert (note.event_type, note.resource_type) == ("REFUND.SUCCESS", "refund")
    assert note.resource["out_refund_no"] == "R-1" and note.resource["status"] == "SUCCESS"
