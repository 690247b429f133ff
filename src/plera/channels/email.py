"""Email out over SMTP (aiosmtplib), from a sender account's own server.

A message carries our message id as its Message-ID (the idempotency key of the send protocol),
a Date from plera.clock, a text and an HTML part, threading headers for follow-ups, and the
RFC 8058 one-click unsubscribe headers. A failure is classified for the send protocol: the
recipient's (a 5xx to RCPT: permanent for this lead), the sender's (no connection, refused
login: pause the sender), or passing (4xx: retry later).
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from plera.channels.errors import SendFailed  # re-exported: callers import it from here too


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    from_name: str
    from_address: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str  # "<...@...>", as the send protocol derives it
    to: str
    subject: str
    text: str
    date: datetime
    in_reply_to: str | None = None
    references: Sequence[str] = field(default_factory=tuple)
    unsubscribe_url: str | None = None


def build_message(account: SmtpAccount, email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((account.from_name, account.from_address))
    message["To"] = email.to
    message["Subject"] = " ".join(email.subject.split())  # a header is one line, whatever a template made
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    if email.in_reply_to:
        message["In-Reply-To"] = email.in_reply_to
    if email.references:
        message["References"] = " ".join(email.references)
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(as_html(email.text), subtype="html")
    return message


_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"  # punctuation after a link in prose, not part of it


def as_html(text: str) -> str:
    """The text part as simple HTML: escaped, paragraphs kept, links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return (
        '<!doctype html>\n<html><body style="font-family: sans-serif">\n'
        + "\n".join("<p>" + _linked(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
        + "\n</body></html>\n"
    )


def _linked(text: str) -> str:
    """Escapes the text and makes its URLs links (found before escaping, so an escaped quote is never in one)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


async def send_async(account: SmtpAccount, email: OutgoingEmail, *, timeout: float = 30.0) -> None:
    message = build_message(account, email)
    try:
        await aiosmtplib.send(
            message,
            hostname=account.host,
            port=account.port,
            username=account.username,
            password=account.password,
            start_tls=account.starttls,
            timeout=timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as e:
        codes = [r.code for r in e.recipients]
        fault = "recipient" if all(500 <= c < 600 for c in codes) else "transient"
        raise SendFailed(fault, "; ".join(f"{r.code} {r.message}" for r in e.recipients)) from e
    except aiosmtplib.SMTPAuthenticationError as e:
        raise SendFailed("sender", f"login refused: {e.code} {e.message}") from e
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPServerDisconnected) as e:
        raise SendFailed("sender", f"cannot reach {account.host}:{account.port}: {e}") from e
    except aiosmtplib.SMTPResponseException as e:
        raise SendFailed("transient" if 400 <= e.code < 500 else "sender", f"{e.code} {e.message}") from e
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
        raise SendFailed("sender", f"{type(e).__name__}: {e}") from e


_threads = threading.local()


def send(account: SmtpAccount, email: OutgoingEmail, *, timeout: float = 30.0) -> None:
    """Sends from a thread with no event loop running (the API's worker threads, the dispatcher's).

    Each thread keeps one event loop for its sends: making and closing a loop per message
    (asyncio.run) cost as much CPU as the SMTP exchange itself."""
    loop = getattr(_threads, "loop", None)
    if loop is None or loop.is_closed():
        loop = _threads.loop = asyncio.new_event_loop()
    loop.run_until_complete(send_async(account, email, timeout=timeout))
