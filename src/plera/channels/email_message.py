"""An outgoing email as it goes on the wire: identity, date and threading headers, RFC 8058 one-click
unsubscribe, and the text as plain and HTML alternatives.

`build_message` makes it with the standard library (an EmailMessage, to read and test). The send
path takes `wire_bytes`, which writes the same message directly: the library's header registry
parses every header it is given, which cost more CPU than all the rest of a send. What the direct
form does not cover (an address outside ASCII, a header value with a line break) goes through the
library, so its rules and errors still apply there.
"""

from __future__ import annotations

import binascii
import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plera.channels.email import SmtpAccount


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
    for name, value in _headers(account, email):
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(as_html(email.text), subtype="html")
    return message


def needs_smtputf8(account: SmtpAccount, email: OutgoingEmail) -> bool:
    """Whether an envelope address is not ASCII: then the server must offer SMTPUTF8 (RFC 6531)."""
    return not (account.from_address + email.to).isascii()


def wire_bytes(account: SmtpAccount, email: OutgoingEmail) -> bytes:
    """The message as DATA carries it: CRLF line ends, seven-bit clean (so no server extension is needed)."""
    if needs_smtputf8(account, email):
        return build_message(account, email).as_bytes(policy=SMTPUTF8)
    headers = _headers(account, email)
    if not all(_plain(value) for _, value in headers):
        return build_message(account, email).as_bytes(policy=SMTP.clone(cte_type="7bit"))
    text, markup = _body(email.text), _body(as_html(email.text))
    boundary = f"=_{uuid.uuid4().hex}"
    lines = [f"{name}: {_header_value(name, value)}" for name, value in headers]
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    for subtype, (encoding, body) in (("plain", text), ("html", markup)):
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"']
        lines += [f"Content-Transfer-Encoding: {encoding}", "", body]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _headers(account: SmtpAccount, email: OutgoingEmail) -> list[tuple[str, str]]:
    headers = [
        ("From", formataddr((account.from_name, account.from_address))),
        ("To", email.to),
        ("Subject", " ".join(email.subject.split())),  # a header is one line, whatever a template made
        ("Date", format_datetime(email.date)),
        ("Message-ID", email.message_id),
    ]
    if email.in_reply_to:
        headers.append(("In-Reply-To", email.in_reply_to))
    if email.references:
        headers.append(("References", " ".join(email.references)))
    if email.unsubscribe_url:
        headers.append(("List-Unsubscribe", f"<{email.unsubscribe_url}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return headers


def _plain(value: str) -> bool:
    return "\r" not in value and "\n" not in value and len(value) < 900


def _header_value(name: str, value: str) -> str:
    if name == "Subject" and not (value.isascii() and value.isprintable() and len(value) <= 66):
        return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")  # encoded words, folded
    return value


def _body(text: str) -> tuple[str, str]:
    """The part's transfer encoding and body, with lines as the library splits them."""
    lines = [line + "\n" for line in text.splitlines()] or ["\n"]
    if text.isascii() and all(len(line) <= 998 for line in lines):
        return "7bit", "".join(lines).replace("\n", "\r\n")
    encoded = binascii.b2a_qp("".join(lines).encode("utf-8"), istext=True).decode("ascii")
    return "quoted-printable", encoded.replace("\n", "\r\n")


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
