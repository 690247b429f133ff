"""Email out over SMTP (aiosmtplib), from a sender account's own server.

A message carries our message id as its Message-ID (the idempotency key of the send protocol),
a Date from plera.clock, a text and an HTML part, threading headers for follow-ups, and the
RFC 8058 one-click unsubscribe headers (`email_message.py`). A failure is classified for the send
protocol: the recipient's (a 5xx to RCPT: permanent for this lead), the sender's (no connection,
refused login: pause the sender), or passing (4xx: retry later).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiosmtplib

from plera.channels.email_message import OutgoingEmail, as_html, build_message, needs_smtputf8, wire_bytes
from plera.channels.errors import SendFailed  # re-exported: callers import it from here too

__all__ = [
    "OutgoingEmail",
    "SendFailed",
    "SmtpAccount",
    "SmtpConnections",
    "as_html",
    "build_message",
    "check_async",
    "send",
    "send_async",
]


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    from_name: str
    from_address: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True

    def __repr__(self) -> str:
        return f"SmtpAccount(host={self.host!r}, port={self.port!r}, from_address={self.from_address!r})"


@functools.cache
def _local_hostname() -> str:
    """The name we greet servers with. aiosmtplib asks the resolver again on every connection, in a thread."""
    return socket.getfqdn()


class SmtpConnections:
    """Open connections to the senders' servers, one per account, kept between messages: connecting
    (TCP, EHLO, STARTTLS, login) costs more than sending. Used on one event loop at a time.

    A kept connection the server has closed meanwhile (or is closing: a 421 answer) is opened again,
    but only when MAIL FROM meets that, before the server can have taken anything: a message is
    never offered twice. Any other failure closes the connection, so the next message starts on a
    clean one.
    """

    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._open: dict[SmtpAccount, aiosmtplib.SMTP] = {}

    async def send(self, account: SmtpAccount, email: OutgoingEmail) -> None:
        """Sends the message; raises SendFailed, classified, when it is refused or cannot go."""
        data = wire_bytes(account, email)
        utf8 = needs_smtputf8(account, email)
        with _classified(account):
            kept = self._open.pop(account, None)
            if kept is not None and not kept.is_connected:
                kept.close()
                kept = None
            smtp = kept or await self._connect(account)
            try:
                try:
                    await self._mail(smtp, account.from_address, utf8)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPSenderRefused, ConnectionError) as e:
                    closing = not isinstance(e, aiosmtplib.SMTPSenderRefused) or e.code == 421
                    if kept is None or not closing:
                        raise
                    smtp.close()
                    smtp = await self._connect(account)
                    await self._mail(smtp, account.from_address, utf8)
                await smtp.rcpt(email.to, encoding="utf-8" if utf8 else "ascii")
                await smtp.data(data)
            except BaseException:
                smtp.close()
                raise
            self._open[account] = smtp

    async def close(self) -> None:
        for account in list(self._open):
            await self._quit(account)

    async def _quit(self, account: SmtpAccount) -> None:
        smtp = self._open.pop(account)
        try:
            await smtp.quit(timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass  # a goodbye the server did not hear changes nothing
        finally:
            smtp.close()

    async def _connect(self, account: SmtpAccount) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=account.host,
            port=account.port,
            username=account.username,
            password=account.password,
            start_tls=account.starttls,
            timeout=self.timeout,
            local_hostname=_local_hostname(),
        )
        await smtp.connect()
        return smtp

    @staticmethod
    async def _mail(smtp: aiosmtplib.SMTP, sender: str, utf8: bool) -> None:
        if utf8 and not smtp.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("a non-ASCII address needs SMTPUTF8, which this server lacks")
        await smtp.mail(sender, options=["SMTPUTF8"] if utf8 else None, encoding="utf-8" if utf8 else "ascii")


@contextmanager
def _classified(account: SmtpAccount) -> Iterator[None]:
    try:
        yield
    except aiosmtplib.SMTPRecipientRefused as e:
        raise SendFailed("recipient" if 500 <= e.code < 600 else "transient", f"{e.code} {e.message}") from e
    except aiosmtplib.SMTPAuthenticationError as e:
        raise SendFailed("sender", f"login refused: {e.code} {e.message}") from e
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPServerDisconnected) as e:
        raise SendFailed("sender", f"cannot reach {account.host}:{account.port}: {e}") from e
    except aiosmtplib.SMTPResponseException as e:
        raise SendFailed("transient" if 400 <= e.code < 500 else "sender", f"{e.code} {e.message}") from e
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
        raise SendFailed("sender", f"{type(e).__name__}: {e}") from e


async def send_async(account: SmtpAccount, email: OutgoingEmail, *, timeout: float = 30.0) -> None:
    """One message on a connection of its own."""
    connections = SmtpConnections(timeout=timeout)
    try:
        await connections.send(account, email)
    finally:
        await connections.close()


async def check_async(account: SmtpAccount, *, timeout: float) -> None:
    """Connects as a send would (TCP, EHLO, STARTTLS when asked, login when credentials are given),
    sends nothing and says goodbye; raises SendFailed, classified, when the account cannot send."""
    connections = SmtpConnections(timeout=timeout)
    with _classified(account):
        connections._open[account] = await connections._connect(account)
    await connections.close()


_threads = threading.local()


def send(account: SmtpAccount, email: OutgoingEmail, *, timeout: float = 30.0) -> None:
    """Sends from a thread with no event loop running (the API's worker threads).

    Each thread keeps one event loop for its sends: making and closing a loop per message
    (asyncio.run) cost as much CPU as the SMTP exchange itself."""
    loop = getattr(_threads, "loop", None)
    if loop is None or loop.is_closed():
        loop = _threads.loop = asyncio.new_event_loop()
    loop.run_until_complete(send_async(account, email, timeout=timeout))
