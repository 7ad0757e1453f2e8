"""Email over SMTP: one ``Outgoing`` becomes one MIME message sent on a small pool of connections.

Connections are kept open and reused, at most ``pool_size`` at a time. Every SMTP answer is
classified, never raised: 4xx replies, timeouts and dropped connections are ``transient``; 5xx
replies (a refused recipient, refused data, a failed login) are ``permanent``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal

import aiosmtplib

from notifications.channels.base import Outcome, Outgoing, SendResult
from notifications.channels.log import mask_email

log = logging.getLogger(__name__)

TlsMode = Literal["starttls", "tls", "none"]
_ADDRESS = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


mask_address = mask_email  # ``alice@example.com`` -> ``a***@example.com``, for logs and stored reasons


def _mask_text(text: str) -> str:
    # Servers often echo the recipient in their reply ("5.1.1 <bob@example.com>: unknown user").
    return _ADDRESS.sub(r"\1***@\2", text)


class SmtpEmail:
    name = "email"
    provider = "smtp"

    def __init__(self, *, host: str, port: int, username: str = "", password: str = "",
                 tls: TlsMode = "starttls", sender: str, timeout_s: float = 10.0,
                 tls_verify: bool = True, pool_size: int = 4) -> None:
        if tls not in ("starttls", "tls", "none"):
            raise ValueError(f"tls must be starttls, tls or none, not {tls!r}")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.host = host
        self.port = port
        self.tls = tls
        self.sender = sender
        self.timeout_s = timeout_s
        self.tls_verify = tls_verify
        self.pool_size = pool_size
        self._username = username
        self._password = password
        self._envelope_from = parseaddr(sender)[1] or sender
        self._domain = self._envelope_from.rpartition("@")[2] or "localhost"
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP] = []  # connected, not in use (LIFO keeps warm ones busy)
        self._open: set[aiosmtplib.SMTP] = set()  # every connection we hold, idle or in use

    # -- composing -----------------------------------------------------------------------------------

    def compose(self, message: Outgoing) -> EmailMessage:
        """The MIME message for ``message``: text and HTML as alternatives, our headers, a Message-ID."""
        mime = EmailMessage()
        mime["Subject"] = message.subject
        mime["From"] = self.sender
        mime["To"] = message.to
        mime["Date"] = format_datetime(datetime.now(UTC))
        mime["Message-ID"] = f"<mp-{message.message_id}.{secrets.token_hex(8)}@{self._domain}>"
        for key, value in message.headers.items():
            if key in mime:
                mime.replace_header(key, value)
            else:
                mime[key] = value
        if message.html and message.text:
            mime.set_content(message.text)
            mime.add_alternative(message.html, subtype="html")
        elif message.html:
            mime.set_content(message.html, subtype="html")
        else:
            mime.set_content(message.text)
        return mime

    # -- sending -------------------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> SendResult:
        try:
            mime = self.compose(message)
        except (ValueError, TypeError) as exc:  # a CR/LF in a header, a malformed address
            return self._failed(message, "permanent", f"SMTP message not built: {exc}", None)
        message_id = str(mime["Message-ID"])
        async with self._slots:
            try:
                response = await self._deliver(mime, message.to)
            except Exception as exc:
                outcome, reason, code = classify(exc)
                return self._failed(message, outcome, reason, code)
        log.debug("email %s sent to %s: %s", message.message_id, mask_address(message.to), response)
        return SendResult(outcome="sent", provider=self.provider, provider_message_id=message_id,
                          detail={"response": _mask_text(response)})

    async def _deliver(self, mime: EmailMessage, to: str) -> str:
        client, reused = await self._checkout()
        try:
            try:
                _, response = await client.send_message(mime, sender=self._envelope_from, recipients=[to])
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
                closing = isinstance(exc, aiosmtplib.SMTPServerDisconnected) or exc.code == 421
                if not (reused and closing):
                    raise
                # A pooled connection the server had already let go (idle timeout, per-connection
                # limit): try once more on a fresh one before calling it a failure.
                self._discard(client)
                client, reused = await self._connect(), False
                _, response = await client.send_message(mime, sender=self._envelope_from, recipients=[to])
        except BaseException as exc:
            # After a refusal aiosmtplib has reset the envelope, so the connection is still good.
            answered = isinstance(exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused)
            if answered and client.is_connected:
                self._idle.append(client)
            else:
                self._discard(client)
            raise
        self._idle.append(client)
        return response

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
            self._discard(client)
        return await self._connect(), False

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username or None,
            password=self._password or None,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            validate_certs=self.tls_verify,
            timeout=self.timeout_s,
            local_hostname=self._domain,  # skips a reverse DNS lookup per connection
        )
        await client.connect()
        self._open.add(client)
        return client

    def _discard(self, client: aiosmtplib.SMTP) -> None:
        self._open.discard(client)
        client.close()

    def _failed(self, message: Outgoing, outcome: Outcome, reason: str, code: int | None) -> SendResult:
        reason = _mask_text(reason)
        log.warning("email %s to %s: %s (%s)", message.message_id, mask_address(message.to), outcome, reason)
        detail = {"smtp_code": code} if code is not None else {}
        return SendResult(outcome=outcome, provider=self.provider, reason=reason, detail=detail)

    async def close(self) -> None:
        """Say QUIT on idle connections and drop the rest."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client in idle))
        for client in list(self._open):
            self._discard(client)

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit(timeout=min(self.timeout_s, 2.0))
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        self._discard(client)


def classify(exc: BaseException) -> tuple[Outcome, str, int | None]:
    """Map an aiosmtplib error onto an outcome, a reason ``SMTP <code> <message>`` and the code."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0]
        return _by_code(first.code, first.message)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        outcome, reason, code = _by_code(exc.code, exc.message)
        return outcome, f"{reason} (authentication failed)", code
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return "transient", f"SMTP timeout: {exc}", None
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # e.g. a non-ASCII address without SMTPUTF8
        return "permanent", f"SMTP not supported: {exc}", None
    if isinstance(exc, aiosmtplib.SMTPException | OSError):  # before ValueError: a certificate
        return "transient", f"SMTP connection error: {exc}", None  # error is both
    if isinstance(exc, ValueError):  # aiosmtplib refuses an address it cannot quote
        return "permanent", f"SMTP invalid address: {exc}", None
    return "transient", f"SMTP error: {type(exc).__name__}: {exc}", None


def _by_code(code: int, message: str) -> tuple[Outcome, str, int]:
    outcome: Outcome = "permanent" if 500 <= code <= 599 else "transient"
    return outcome, f"SMTP {code} {message}".strip(), code
