"""A real SMTP server on loopback (aiosmtpd, in its own thread) for the email channel to talk to.

Records every accepted message, and can be told to refuse: the next N RCPT or DATA with a given
code, every recipient (``reject_all_rcpt``), or everything (``down``: 421 and hang up). Optional
STARTTLS with a self-signed certificate made at start, implicit TLS, and AUTH with one login.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    peer: tuple[str, int]  # the client's address: one per connection
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the authenticated user, if any


class FakeSmtp:
    def __init__(self, starttls: bool = False, auth: tuple[str, str] | None = None, *,
                 implicit_tls: bool = False) -> None:
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = 0  # chosen at the first start, kept across restarts
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._tls_context: ssl.SSLContext | None = None
        self.reset()

    def reset(self) -> None:
        """Forget messages and pending failures; accept again."""
        with self._lock:
            self.messages: list[Received] = []
            self._failures: list[list[Any]] = []  # [stage, code, message, times left]
            self.down = False
            self.reject_all_rcpt = False

    def start(self) -> tuple[str, int]:
        if self._controller is not None:
            return self.host, self.port
        if not self.port:
            self.port = _free_port(self.host)
        if (self.starttls or self.implicit_tls) and self._tls_context is None:
            self._tls_context = _self_signed_context()
        kwargs: dict[str, Any] = {}
        if self.starttls:
            kwargs["tls_context"] = self._tls_context
        if self.auth is not None:
            # AUTH is offered without TLS too; MAIL enforces it (see _Handler.handle_MAIL).
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, server_hostname="fake-smtp.test",
            ssl_context=self._tls_context if self.implicit_tls else None, **kwargs,
        )
        self._controller.start()
        return self.host, self.port

    def stop(self) -> None:
        """Close the listener and every open connection (a later ``start`` reuses the port)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # -- test controls -------------------------------------------------------------------------------

    def fail_next(self, stage: Stage, code: int, message: str = "fake failure", times: int = 1) -> None:
        """Answer the next ``times`` commands at ``stage`` (mail, rcpt or data) with ``code message``."""
        if stage not in ("mail", "rcpt", "data"):
            raise ValueError(f"unknown stage {stage!r}")
        with self._lock:
            self._failures.append([stage, code, message, times])

    # -- the server side (runs on the controller's thread) --------------------------------------------

    def _take_failure(self, stage: Stage) -> str | None:
        with self._lock:
            for failure in self._failures:
                if failure[0] == stage and failure[3] > 0:
                    failure[3] -= 1
                    return f"{failure[1]} {failure[2]}"
        return None

    def _record(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.auth is not None:
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if (login, password) == self.auth:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    def _hang_up(self, server: Any) -> str:
        # 421 means "closing the channel": reply first, then close once the reply is written.
        server.loop.call_soon(server.transport.close)
        return "421 4.3.2 Service not available, closing transmission channel"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.fake.down:
            return self._hang_up(server)
        if self.fake.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if failure := self.fake._take_failure("mail"):
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.fake.down:
            return self._hang_up(server)
        if self.fake.reject_all_rcpt:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if failure := self.fake._take_failure("rcpt"):
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fake.down:
            return self._hang_up(server)
        if failure := self.fake._take_failure("data"):
            return failure
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.fake._record(Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,  # type: ignore[arg-type]  # policy.default yields an EmailMessage
            peer=tuple(session.peer[:2]),
            tls=server.transport.get_extra_info("ssl_object") is not None,
            login=session.auth_data if session.authenticated else None,
        ))
        return "250 2.0.0 OK: queued"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _self_signed_context() -> ssl.SSLContext:
    """A server context with a throwaway certificate for localhost / 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain only reads files
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
        ))
        context.load_cert_chain(cert_file, key_file)
    return context
