"""The mail the demo writes as the leads and their mail servers, each answering a message the SMTP sink
really received: a person's reply, an out-of-office auto-reply (RFC 3834), and a delivery status
notification (RFC 3464) that returns the message whole, as Postfix does.

Each one's Message-ID is derived from the message it answers, so the same answer is the same mail.
"""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import NAMESPACE_URL, uuid5

from plera.demo_sinks import SunkEmail


def reply(sent: SunkEmail, *, text: str, at: datetime) -> bytes:
    """The person answers in the thread, above the quoted message, as a mail client writes it."""
    message = _answer(sent, "reply", at)
    message["Subject"] = "Re: " + sent.subject.removeprefix("Re: ")
    quoted = "\n".join("> " + line for line in _plain_text(sent).splitlines())
    message.set_content(f"{text}\n\nOn {sent.date}, {sent.mail_from} wrote:\n{quoted}\n")
    return message.as_bytes()


def auto_reply(sent: SunkEmail, *, back_on: date, signature: str, at: datetime) -> bytes:
    """An Exchange-style out-of-office answer naming the day the person is back."""
    message = _answer(sent, "auto-reply", at)
    message["Subject"] = "Automatic reply: " + sent.subject.removeprefix("Re: ")
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(
        f"Thank you for your message. I am out of the office until {back_on:%B} {back_on.day}"
        f" with limited access to email.\n\nBest regards,\n{signature}\n"
    )
    return message.as_bytes()


def hard_bounce(sent: SunkEmail, *, at: datetime) -> bytes:
    """The sending side's mail system reports that the recipient's server refused the address (5.1.1)."""
    recipient = sent.rcpt_tos[0]
    ours = _domain(sent.mail_from)
    theirs = _domain(recipient)
    diagnostic = "550 5.1.1 user unknown"
    boundary = f"bounce-{uuid5(NAMESPACE_URL, sent.message_id).hex}"
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.{ours}>\r\n"
        f"To: {sent.mail_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(at)}\r\n"
        f"Message-ID: {_message_id(sent, 'bounce', 'mx.' + ours)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"This is the mail system at host mx.{ours}.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n\r\n"
        f"<{recipient}>: host mx.{theirs} said: {diagnostic}\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        f"Reporting-MTA: dns; mx.{ours}\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Remote-MTA: dns; mx.{theirs}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Undelivered Message\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
    )
    return head.encode() + sent.raw.rstrip(b"\r\n") + f"\r\n\r\n--{boundary}--\r\n".encode()


def _answer(sent: SunkEmail, kind: str, at: datetime) -> EmailMessage:
    recipient = sent.rcpt_tos[0]
    message = EmailMessage()
    message["From"] = recipient
    message["To"] = sent.mail_from
    message["Date"] = format_datetime(at)
    message["Message-ID"] = _message_id(sent, kind, _domain(recipient))
    message["In-Reply-To"] = sent.message_id
    message["References"] = sent.message_id
    return message


def _message_id(sent: SunkEmail, kind: str, domain: str) -> str:
    return f"<{uuid5(NAMESPACE_URL, f'{kind}:{sent.message_id}')}@{domain}>"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip("<>")


def _plain_text(sent: SunkEmail) -> str:
    message = message_from_bytes(sent.raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""
