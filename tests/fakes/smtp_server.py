"""A fake mail server: real SMTP (aiosmtpd) on 127.0.0.1, on a port of its own, recording what it receives.

Tests read back each message as it arrived (envelope sender and recipients, raw bytes, the parsed
message), and tell the server to refuse a recipient (`refuse("x@y.test", 550, "user unknown")`)
or to want a login before it takes mail (`require_auth("user", "secret")`). `FakeSmtp(auth=False)` is
a relay that offers no AUTH at all, as many internal relays do: a client that tries to log in fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # as it came over the wire
    message: EmailMessage  # parsed with the stdlib's modern policy: message["Subject"], get_body(), iter_parts()


class _Handler:
    """aiosmtpd's hooks. Runs on the server's own event-loop thread; the lock guards what tests read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.refused: dict[str, tuple[int, str]] = {}
        self.credentials: tuple[str, str] | None = None
        self.logins: list[str] = []

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            refusal = self.refused.get(address.lower())
        if refusal is not None:
            code, text = refusal
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = cast(bytes, envelope.original_content or envelope.content)
        # Lines end in CRLF on the wire; the parsed message has them as "\n", as a mail client shows them.
        message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n")))
        with self.lock:
            self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, message))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self.lock:
            self.logins.append(login)
            expected = self.credentials
        return AuthResult(success=expected is None or expected == (login, password), handled=False)


class _EphemeralController(Controller):
    """aiosmtpd's Controller, bound to port 0: it learns the port the system chose before its first connection."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtp:
    def __init__(self, *, auth: bool = True) -> None:
        self._handler = _Handler()
        self._controller = _EphemeralController(
            self._handler,
            hostname="127.0.0.1",
            port=0,
            server_hostname="fake-smtp.test",  # else every connection waits on socket.getfqdn()
            authenticator=self._handler.authenticate,
            # AUTH is offered in the clear (a test server on the loopback); without `auth`, only after
            # STARTTLS, which this server does not offer: so never
            auth_require_tls=not auth,
            ready_timeout=10,
        )
        self.host = "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[Received]:
        """What the server accepted so far, in order (a copy)."""
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def logins(self) -> list[str]:
        with self._handler.lock:
            return list(self._handler.logins)

    def refuse(self, address: str, code: int = 550, text: str = "5.1.1 user unknown") -> None:
        """Answer RCPT TO for this address with `code text` (a 5xx is permanent, a 4xx passing)."""
        with self._handler.lock:
            self._handler.refused[address.lower()] = (code, text)

    def allow(self, address: str) -> None:
        """Takes mail for this address again (undoes `refuse`)."""
        with self._handler.lock:
            self._handler.refused.pop(address.lower(), None)

    def require_auth(self, username: str, password: str) -> None:
        """Take mail only after AUTH with these credentials (530 to MAIL FROM before, 535 for others)."""
        with self._handler.lock:
            self._handler.credentials = (username, password)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    server = FakeSmtp()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_relay() -> Iterator[FakeSmtp]:
    """A relay that offers no AUTH at all: a client that tries to log in is refused."""
    server = FakeSmtp(auth=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
