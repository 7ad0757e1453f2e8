"""The SMTP email channel against a real SMTP server on loopback: composing, TLS, login, pooling and
how every kind of refusal is classified."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from notifications.channels.base import Outgoing
from notifications.channels.email import SmtpEmail
from tests.fakes.smtp import FakeSmtp

SENDER = "星巴克会员 <noreply@mail.example.test>"
LOGIN = ("mailer", "s3cret-pass")


@pytest.fixture(scope="module")
def plain_server() -> Iterator[FakeSmtp]:
    fake = FakeSmtp()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def secure_server() -> Iterator[FakeSmtp]:
    fake = FakeSmtp(starttls=True, auth=LOGIN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp(plain_server: FakeSmtp) -> FakeSmtp:
    plain_server.reset()
    return plain_server


@pytest.fixture
async def channel(smtp: FakeSmtp) -> AsyncIterator[SmtpEmail]:
    ch = SmtpEmail(host=smtp.host, port=smtp.port, tls="none", sender=SENDER, timeout_s=5.0)
    yield ch
    await ch.close()


def outgoing(message_id: int = 1, **overrides: Any) -> Outgoing:
    fields: dict[str, Any] = {
        "message_id": message_id, "channel": "email", "purpose": "marketing", "to": "alice@example.test",
        "subject": "您的积分即将过期", "text": "您有 120 积分将于本月底过期。",
        "html": "<p>您有 <b>120</b> 积分将于本月底过期。</p>",
        "headers": {
            "List-Unsubscribe": "<https://example.test/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    return Outgoing(**(fields | overrides))


async def test_a_marketing_email_arrives_as_text_and_html_with_our_headers(channel, smtp):
    result = await channel.send(outgoing(message_id=42))

    assert result.outcome == "sent" and result.provider == "smtp"
    assert result.provider_message_id.startswith("<mp-42.")
    assert result.provider_message_id.endswith("@mail.example.test>")
    [received] = smtp.messages
    assert received.mail_from == "noreply@mail.example.test"
    assert received.rcpt_tos == ("alice@example.test",)
    mail = received.message
    assert mail["Subject"] == "您的积分即将过期"
    assert mail["Message-ID"] == result.provider_message_id
    assert mail["From"].addresses[0].display_name == "星巴克会员"
    assert mail["To"] == "alice@example.test"
    assert mail["Date"] is not None
    assert mail["List-Unsubscribe"] == "<https://example.test/u/abc>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain" and "120 积分" in text.get_content()
    assert html.get_content_type() == "text/html" and "<b>120</b>" in html.get_content()


async def test_a_message_without_html_is_plain_text_only(channel, smtp):
    result = await channel.send(outgoing(purpose="service", html="", headers={}))

    assert result.ok
    mail = smtp.messages[0].message
    assert mail.get_content_type() == "text/plain"
    assert "积分" in mail.get_content()
    assert "List-Unsubscribe" not in mail


async def test_starttls_with_login_delivers_over_an_encrypted_authenticated_session(secure_server):
    secure_server.reset()
    channel = SmtpEmail(host=secure_server.host, port=secure_server.port, username=LOGIN[0],
                        password=LOGIN[1], tls="starttls", tls_verify=False, sender=SENDER)
    try:
        result = await channel.send(outgoing(message_id=7))
    finally:
        await channel.close()

    assert result.outcome == "sent"
    [received] = secure_server.messages
    assert received.tls and received.login == "mailer"
    assert received.message["Message-ID"] == result.provider_message_id


async def test_implicit_tls_delivers_over_an_encrypted_session():
    server = FakeSmtp(implicit_tls=True)
    host, port = server.start()
    channel = SmtpEmail(host=host, port=port, tls="tls", tls_verify=False, sender=SENDER)
    try:
        result = await channel.send(outgoing())
    finally:
        await channel.close()
        server.stop()

    assert result.outcome == "sent"
    assert server.messages[0].tls


async def test_an_untrusted_certificate_is_refused_when_verifying(secure_server):
    channel = SmtpEmail(host=secure_server.host, port=secure_server.port, username=LOGIN[0],
                        password=LOGIN[1], tls="starttls", sender=SENDER)
    try:
        result = await channel.send(outgoing())
    finally:
        await channel.close()

    assert result.outcome == "transient"
    assert "certificate" in result.reason.lower()


async def test_a_wrong_password_is_permanent_and_says_so(secure_server):
    secure_server.reset()
    channel = SmtpEmail(host=secure_server.host, port=secure_server.port, username=LOGIN[0],
                        password="wrong", tls="starttls", tls_verify=False, sender=SENDER)
    try:
        result = await channel.send(outgoing())
    finally:
        await channel.close()

    assert result.outcome == "permanent"
    assert result.reason.startswith("SMTP 535 ")
    assert "authentication failed" in result.reason
    assert secure_server.messages == []


async def test_a_451_is_transient_and_the_same_connection_sends_the_next(channel, smtp):
    smtp.fail_next("rcpt", 451, "4.7.1 Try again later")

    first = await channel.send(outgoing(message_id=1))
    second = await channel.send(outgoing(message_id=2))
    smtp.fail_next("data", 451, "4.3.0 Mail server temporarily rejected message")
    third = await channel.send(outgoing(message_id=3))
    fourth = await channel.send(outgoing(message_id=4))

    assert (first.outcome, first.reason) == ("transient", "SMTP 451 4.7.1 Try again later")
    assert first.detail == {"smtp_code": 451}
    assert third.outcome == "transient" and third.reason.startswith("SMTP 451 ")
    assert second.ok and fourth.ok
    assert [m.message["Message-ID"] for m in smtp.messages] == [second.provider_message_id,
                                                                 fourth.provider_message_id]
    assert smtp.messages[0].peer == smtp.messages[1].peer  # one connection, reused after refusals


@pytest.mark.parametrize(("stage", "code", "text"), [
    ("rcpt", 550, "5.1.1 <alice@example.test>: Recipient address rejected: User unknown"),
    ("data", 554, "5.7.1 Message rejected as spam"),
])
async def test_a_5xx_refusal_is_permanent_and_the_address_stays_masked(channel, smtp, caplog, stage, code, text):
    smtp.fail_next(stage, code, text)

    with caplog.at_level(logging.DEBUG, logger="notifications.channels.email"):
        result = await channel.send(outgoing())

    assert result.outcome == "permanent"
    assert result.reason.startswith(f"SMTP {code} ")
    assert "alice@example.test" not in result.reason
    assert "alice@example.test" not in caplog.text and "a***@example.test" in caplog.text
    assert smtp.messages == []
    assert (await channel.send(outgoing())).ok


async def test_every_recipient_refused_is_permanent(channel, smtp):
    smtp.reject_all_rcpt = True

    result = await channel.send(outgoing())

    assert result.outcome == "permanent"
    assert result.reason == "SMTP 550 5.1.1 <a***@example.test>: Recipient address rejected: User unknown"


async def test_a_server_refusing_service_is_transient_and_recovers(channel, smtp):
    assert (await channel.send(outgoing())).ok
    smtp.down = True

    refused = await channel.send(outgoing())
    smtp.down = False
    after = await channel.send(outgoing())

    assert refused.outcome == "transient" and refused.reason.startswith("SMTP 421 ")
    assert after.ok


async def test_a_stopped_server_is_transient_and_the_channel_reconnects_when_it_returns():
    server = FakeSmtp()
    host, port = server.start()
    channel = SmtpEmail(host=host, port=port, tls="none", sender=SENDER, timeout_s=2.0)
    try:
        assert (await channel.send(outgoing())).ok  # leaves a pooled connection behind
        server.stop()

        down = await channel.send(outgoing())
        server.start()
        back = await channel.send(outgoing())
    finally:
        await channel.close()
        server.stop()

    assert down.outcome == "transient" and down.reason.startswith("SMTP connection error")
    assert back.ok


async def test_a_header_with_a_line_break_is_permanent_and_never_sent(channel, smtp):
    result = await channel.send(outgoing(headers={"X-Campaign": "spring\r\nBcc: everyone@example.test"}))

    assert result.outcome == "permanent"
    assert smtp.messages == []


async def test_twenty_concurrent_sends_all_arrive_over_at_most_pool_size_connections(smtp):
    channel = SmtpEmail(host=smtp.host, port=smtp.port, tls="none", sender=SENDER, pool_size=4)
    try:
        results = await asyncio.gather(*(
            channel.send(outgoing(message_id=n, to=f"member{n}@example.test")) for n in range(20)
        ))
    finally:
        await channel.close()

    assert all(r.ok for r in results)
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(f"member{n}@example.test" for n in range(20))
    assert len({m.peer for m in smtp.messages}) <= 4
    assert {m.message["Message-ID"] for m in smtp.messages} == {r.provider_message_id for r in results}
