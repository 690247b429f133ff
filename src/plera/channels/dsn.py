"""Bounces: RFC 3464 delivery status notifications, and the common non-standard ones.

A DSN is a `multipart/report; report-type=delivery-status` whose `message/delivery-status` part
holds one block of fields per recipient (Final-Recipient, Action, Status, Diagnostic-Code), and
whose `message/rfc822` or `text/rfc822-headers` part returns the original message. That returned
Message-ID is how Plera matches a bounce to the step it sent, so it is read with care.

Hard or soft:
- in a DSN, a recipient failed hard when its Action is `failed` and its Status is 5.x.x; a 4.x.x
  status, or an Action of `delayed`, is soft. The bounce is hard only when every failing
  recipient failed hard (Plera sends one recipient per message, so in practice: that recipient);
- in a non-standard bounce (From MAILER-DAEMON or postmaster, or a subject such as "Undelivered
  Mail Returned to Sender", "Delivery Status Notification (Failure)", "Mail delivery failed"), the
  first enhanced status code in the notice's own text decides; without one, the bounce is hard when
  the words say so ("permanent", "does not exist", "user unknown", ...), else soft.

A DSN whose recipients were all `delivered`, `relayed` or `expanded` is a success notice, not a
bounce: the classifier treats it as an automatic message.

Parsing is pure and never raises: what cannot be read is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plera.channels.inbound import Inbound

FAILING_ACTIONS = frozenset({"failed", "delayed"})
DAEMONS = frozenset({"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster"})

_MSG_ID = re.compile(r"<[^<>\s]+>")
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_STATUS_AFTER_REPLY = re.compile(r"\b[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_MESSAGE_ID_LINE = re.compile(r"^[ \t]*Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undelivered mail returned to sender|undeliver(?:ed|able)\b|delivery status notification"
    r"|mail delivery (?:failed|failure|system|subsystem)|delivery (?:failure|has failed|failed)"
    r"|returned mail\b|failure notice|non-?delivery|message not delivered|mail system error"
    r"|delayed mail|warning: could not send|unzustellbar|nicht zustellbar|non remis|non distribuable"
    r"|no se puede entregar|no entregado)",
    re.IGNORECASE,
)
_SUCCESS = re.compile(r"\bsuccess", re.IGNORECASE)
_HARD_WORDS = re.compile(
    r"permanent|does not exist|doesn't exist|does not have an account|user unknown|unknown user"
    r"|no such (?:user|mailbox|recipient|address)|address (?:not found|rejected)|invalid (?:recipient|address)"
    r"|recipient (?:not found|rejected|unknown)|mailbox (?:unavailable|not found|does not exist)"
    r"|couldn't be found|could not be found|account (?:has been )?disabled",
    re.IGNORECASE,
)
# Where a notice's own text ends and the returned copy of the message begins.
_RETURNED_COPY = re.compile(
    r"^(?:[ \t]*--[^\n]*?(?:original message|copy of the message|below this line|undelivered message)"
    r"|[ \t]*original message headers|(?:return-path|received|dkim-signature|message-id|mime-version):)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a message/delivery-status part."""

    recipient: str  # lower-cased address of Final-Recipient, else Original-Recipient
    action: str | None  # failed, delayed, delivered, relayed, expanded
    status: str | None  # "5.1.1"
    diagnostic: str | None  # Diagnostic-Code without its type ("smtp; ")


@dataclass(frozen=True)
class Bounce:
    hard: bool
    recipients: list[str] = field(default_factory=list)
    status: str | None = None
    diagnostic: str | None = None
    original_message_id: str | None = None


def normalise_message_id(value: str | None) -> str | None:
    """The first "<...>" of a header value; a bare id gets its brackets; None when there is none."""
    if not value:
        return None
    found = _MSG_ID.search(value)
    if found:
        return found.group(0)
    bare = value.strip().strip("<>").strip()
    return f"<{bare}>" if bare and not any(c.isspace() for c in bare) else None


def delivery_statuses(message: Message) -> list[RecipientStatus]:
    """The per-recipient blocks of the message's message/delivery-status part (not of returned copies)."""
    statuses: list[RecipientStatus] = []
    for part in own_parts(message):
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            for block in _field_blocks(part):
                status = _recipient_status(block)
                if status is not None:
                    statuses.append(status)
    return statuses


def returned_message_id(message: Message) -> str | None:
    """The Message-ID of the message returned inside this one (message/rfc822 or text/rfc822-headers)."""
    for part in own_parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = _safe_payload(part)
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = normalise_message_id(_safe_header(inner, "Message-ID"))
                if found:
                    return found
            found = _message_id_in(_text_of(part))
            if found:
                return found
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            found = _message_id_in(_text_of(part))
            if found:
                return found
    return None


def bounce_of(inbound: Inbound) -> Bounce | None:
    """The bounce this message reports, or None when it reports none."""
    failing = [s for s in inbound.delivery_status if (s.action or "failed") in FAILING_ACTIONS]
    if failing:
        hard = all(_is_hard(s.status, s.action) for s in failing)
        first = next((s for s in failing if _is_hard(s.status, s.action) == hard), failing[0])
        return Bounce(
            hard=hard,
            recipients=list(dict.fromkeys(s.recipient for s in failing)),
            status=first.status,
            diagnostic=first.diagnostic,
            original_message_id=inbound.returned_message_id or _message_id_in(inbound.full_text),
        )
    if inbound.delivery_status or not _looks_like_bounce(inbound):
        return None
    own = notice_text(inbound.full_text)
    status = _status_in(own)
    hard = status.startswith("5") if status else bool(_HARD_WORDS.search(own))
    return Bounce(
        hard=hard,
        recipients=_failed_recipients(inbound, own),
        status=status,
        diagnostic=_line_with(own, status) if status else None,
        original_message_id=inbound.returned_message_id or _message_id_in(inbound.full_text),
    )


def is_daemon(address: str | None) -> bool:
    return address is not None and address.partition("@")[0].lower() in DAEMONS


def notice_text(text: str) -> str:
    """A bounce notice's own words, without the copy of the returned message that may follow."""
    found = _RETURNED_COPY.search(text)
    return text[: found.start()] if found else text


def _looks_like_bounce(inbound: Inbound) -> bool:
    if _SUCCESS.search(inbound.subject):  # "Delivery Status Notification (Success)"
        return False
    if _BOUNCE_SUBJECT.search(inbound.subject):
        return True
    if not (is_daemon(inbound.from_address) or "mail delivery" in (inbound.from_name or "").lower()):
        return False
    own = notice_text(inbound.full_text)
    return _status_in(own) is not None or bool(_HARD_WORDS.search(own)) or "undeliver" in own.lower()


def _is_hard(status: str | None, action: str | None) -> bool:
    return (action or "failed") == "failed" and (status is None or status.startswith("5"))


def _status_in(text: str) -> str | None:
    found = _STATUS_AFTER_REPLY.search(text) or _STATUS.search(text)
    if found and not found.group(1).startswith("2"):
        return found.group(1)
    return None


def _line_with(text: str, needle: str) -> str | None:
    for line in text.splitlines():
        if needle in line:
            return " ".join(line.split()) or None
    return None


def _failed_recipients(inbound: Inbound, own: str) -> list[str]:
    listed = inbound.headers.get("X-Failed-Recipients")
    if listed:
        return list(dict.fromkeys(a.lower() for a in _ADDRESS.findall(listed)))
    ours = {inbound.from_address, *inbound.to_addresses}
    found = (a.lower().rstrip(".") for a in _ADDRESS.findall(own))
    return list(dict.fromkeys(a for a in found if a not in ours and not is_daemon(a)))


def _message_id_in(text: str) -> str | None:
    found = _MESSAGE_ID_LINE.search(text)
    return found.group(1) if found else None


def own_parts(message: Message) -> list[Message]:
    """The message's parts, without descending into returned messages (their parts are not ours)."""
    parts: list[Message] = []
    stack = [message]
    while stack and len(parts) < 200:  # a bound against absurd nesting
        part = stack.pop(0)
        parts.append(part)
        payload = _safe_payload(part)
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, Message))
    return parts


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The blocks of `Name: value` fields of a delivery-status part, as lower-cased names to values."""
    payload = _safe_payload(part)
    if isinstance(payload, list) and payload and all(isinstance(b, Message) for b in payload):
        blocks = []
        for block in payload:
            try:
                blocks.append({k.lower(): " ".join(str(v).split()) for k, v in block.items()})
            except Exception:  # a header the policy cannot parse: skip the block
                continue
        return blocks
    return _parse_blocks(_text_of(part))


def _parse_blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        fields: dict[str, str] = {}
        name = None
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _recipient_status(block: dict[str, str]) -> RecipientStatus | None:
    named = block.get("final-recipient") or block.get("original-recipient")
    if not named:
        return None
    address = named.partition(";")[2] if ";" in named else named
    address = address.strip().strip("<>").strip().lower()
    if not address:
        return None
    action = block.get("action", "").split(" ")[0].strip().lower() or None
    status_match = _STATUS.search(block.get("status", ""))
    diagnostic = block.get("diagnostic-code")
    if diagnostic and ";" in diagnostic:
        diagnostic = diagnostic.partition(";")[2].strip()
    return RecipientStatus(address, action, status_match.group(1) if status_match else None, diagnostic or None)


def _safe_payload(part: Message) -> object:
    try:
        return part.get_payload()
    except Exception:
        return None


def _safe_header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
        return None if value is None else str(value)
    except Exception:
        return None


def _text_of(part: Message) -> str:
    """A part's content as text, however it is encoded or nested."""
    try:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode("utf-8", "replace")
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload
        if isinstance(payload, list):
            return "\n\n".join(p.as_string() for p in payload if isinstance(p, Message))
    except Exception:
        return ""
    return ""
