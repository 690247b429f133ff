"""Where `plera demo` sends: a local SMTP sink that keeps what it receives, beside the LinkedIn sandbox.

The sink is aiosmtpd on 127.0.0.1, on a port the system chooses, on a thread of its own. It takes
every message and keeps its envelope, a few headers and the bytes as they came, so the demo can show
what really went over the wire and answer it (a reply, a bounce returning it, a click on its
List-Unsubscribe link). Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class SunkEmail:
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    date: str
    message_id: str
    list_unsubscribe: str  # the one-click URL, without its angle brackets ("" when the message has none)
    raw: bytes


class _Handler:
    """aiosmtpd's DATA hook, run on the sink's event-loop thread; the lock guards what the demo reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[SunkEmail] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = cast(bytes, envelope.original_content or envelope.content)
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        sunk = SunkEmail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(headers.get("Subject", "")),
            date=str(headers.get("Date", "")),
            message_id=str(headers.get("Message-ID", "")),
            list_unsubscribe=str(headers.get("List-Unsubscribe", "")).strip().strip("<>"),
            raw=raw,
        )
        with self.lock:
            self.received.append(sunk)
        return "250 Message accepted"


class _EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: it learns the port the system chose before its readiness check
    connects to it (the stock Controller would connect to port 0)."""

    def _trigger_server(self) -> None:
        server = cast(Any, self.server)
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """`start()`, then point a sender at `host`:`port` without STARTTLS; `received` is what came; `stop()`."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._handler = _Handler()
        self._controller = _EphemeralController(
            self._handler,
            hostname=self.host,
            port=0,
            server_hostname="plera-demo-sink",  # else each connection waits on socket.getfqdn()
            ready_timeout=10,
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[SunkEmail]:
        with self._handler.lock:
            return list(self._handler.received)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def by_message_id(self, message_id: str) -> SunkEmail | None:
        return next((m for m in self.received if m.message_id == message_id), None)

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
