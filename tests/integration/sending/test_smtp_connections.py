"""A sender's SMTP connection is kept for the messages of a pass, and a message is never offered twice:
a kept connection the server has closed is opened again only before MAIL FROM, never after DATA."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from plera.channels.email import OutgoingEmail, SendFailed, SmtpAccount, SmtpConnections
from tests.fakes.smtp_server import _EphemeralController


class _Scripted:
    """aiosmtpd hooks that count connections (EHLOs) and messages, and misbehave on request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.message_ids: list[str] = []
        self.closing_on_next_mail = False  # answer the next MAIL FROM with 421, as a server timing out does
        self.drop_after_data = False  # take the message, then lose the connection before answering

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if self.closing_on_next_mail:
                self.closing_on_next_mail = False
                return "421 4.4.2 idle too long, closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        message_id = next(line for line in raw.decode().splitlines() if line.startswith("Message-ID:"))
        with self.lock:
            self.message_ids.append(message_id.split(": ", 1)[1])
            drop = self.drop_after_data
        if drop:
            assert server.transport is not None
            server.transport.abort()
        return "250 Message accepted"


@pytest.fixture
def scripted() -> Iterator[tuple[_Scripted, SmtpAccount]]:
    handler = _Scripted()
    controller = _EphemeralController(handler, hostname="127.0.0.1", port=0, server_hostname="scripted.test")
    controller.start()
    try:
        yield (
            handler,
            SmtpAccount(
                host="127.0.0.1",
                port=controller.port,
                from_name="Alex",
                from_address="alex@plera.example",
                starttls=False,
            ),
        )
    finally:
        controller.stop()


def _email(n: int) -> OutgoingEmail:
    return OutgoingEmail(
        message_id=f"<m{n}@plera.example>",
        to=f"lead{n}@acme.example",
        subject="Hello",
        text="Hi\n",
        date=datetime.now(UTC),
    )


def _send_all(account: SmtpAccount, *emails: OutgoingEmail) -> list[Any]:
    async def run() -> list[Any]:
        connections = SmtpConnections(timeout=5)
        results: list[Any] = []
        try:
            for email in emails:
                try:
                    await connections.send(account, email)
                    results.append(None)
                except SendFailed as failure:
                    results.append(failure)
        finally:
            await connections.close()
        return results

    return asyncio.run(run())


def test_a_senders_messages_go_over_one_connection(scripted):
    server, account = scripted

    assert _send_all(account, _email(1), _email(2), _email(3)) == [None, None, None]

    assert server.connections == 1
    assert server.message_ids == ["<m1@plera.example>", "<m2@plera.example>", "<m3@plera.example>"]


def test_a_kept_connection_the_server_is_closing_is_opened_again_and_the_message_arrives_once(scripted):
    server, account = scripted

    async def run() -> None:
        connections = SmtpConnections(timeout=5)
        try:
            await connections.send(account, _email(1))
            server.closing_on_next_mail = True  # the server timed the kept connection out meanwhile
            await connections.send(account, _email(2))
        finally:
            await connections.close()

    asyncio.run(run())

    assert server.connections == 2
    assert server.message_ids == ["<m1@plera.example>", "<m2@plera.example>"]


def test_a_connection_lost_after_data_is_not_tried_again(scripted):
    server, account = scripted
    server.drop_after_data = True

    (failure,) = _send_all(account, _email(1))

    # The server may have taken it: the send fails (the dispatcher returns the step under the same
    # Message-ID), and nothing is offered a second time now.
    assert isinstance(failure, SendFailed) and failure.fault == "sender"
    assert server.message_ids == ["<m1@plera.example>"]
    assert server.connections == 1


def test_a_new_connection_that_refuses_mail_from_with_421_is_a_passing_failure(scripted):
    server, account = scripted
    server.closing_on_next_mail = True

    (failure,) = _send_all(account, _email(1))

    assert isinstance(failure, SendFailed) and failure.fault == "transient"
    assert server.message_ids == []
