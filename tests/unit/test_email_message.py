"""What an outgoing email carries: identity and threading headers, one-click unsubscribe, a text and an HTML part."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any, cast

import pytest

from plera.channels.email import OutgoingEmail, SmtpAccount, as_html, build_message
from plera.channels.email_message import wire_bytes

ACCOUNT = SmtpAccount(host="smtp.plera.example", port=587, from_name="Ana Ruiz", from_address="ana@plera.example")
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
UNSUBSCRIBE = "https://plera.example/v1/unsubscribe/abc123"


def an_email(**changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "message_id": "<step-1.lead-7@plera.example>",
        "to": "lena@northwind.example",
        "subject": "A question for Northwind",
        "text": "Hi Lena,\n\nA short note.\n\nUnsubscribe: " + UNSUBSCRIBE + "\n",
        "date": AT,
    }
    return OutgoingEmail(**(fields | changes))


def on_the_wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiver parses it from the bytes we would send."""
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(message.as_bytes()))


def test_a_message_names_its_sender_recipient_subject_id_and_date() -> None:
    message = on_the_wire(build_message(ACCOUNT, an_email()))

    assert message["From"] == "Ana Ruiz <ana@plera.example>"
    assert message["To"] == "lena@northwind.example"
    assert message["Subject"] == "A question for Northwind"
    assert message["Message-ID"] == "<step-1.lead-7@plera.example>"
    assert parsedate_to_datetime(message["Date"]) == AT  # the clock's time, not the machine's


def test_a_first_message_starts_a_thread() -> None:
    message = build_message(ACCOUNT, an_email())

    assert "In-Reply-To" not in message
    assert "References" not in message


def test_a_follow_up_answers_in_the_thread_of_those_before_it() -> None:
    earlier = ["<step-1.lead-7@plera.example>", "<step-2.lead-7@plera.example>"]
    message = on_the_wire(
        build_message(
            ACCOUNT,
            an_email(
                message_id="<step-3.lead-7@plera.example>",
                subject="Re: A question for Northwind",
                in_reply_to=earlier[-1],
                references=earlier,
            ),
        )
    )

    assert message["In-Reply-To"] == "<step-2.lead-7@plera.example>"
    assert message["References"].split() == earlier


def test_outreach_offers_one_click_unsubscribe() -> None:
    message = on_the_wire(build_message(ACCOUNT, an_email(unsubscribe_url=UNSUBSCRIBE)))

    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058


def test_without_an_unsubscribe_link_there_are_no_unsubscribe_headers() -> None:
    message = build_message(ACCOUNT, an_email())

    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message


def test_the_body_goes_as_text_and_as_html_alternatives() -> None:
    message = on_the_wire(build_message(ACCOUNT, an_email()))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == an_email().text
    assert "<p>Hi Lena,</p>" in html.get_content()  # paragraphs kept
    assert f'<a href="{UNSUBSCRIBE}">{UNSUBSCRIBE}</a>' in html.get_content()  # links clickable


def test_the_html_part_escapes_the_text() -> None:
    text = 'Hi <b>Lena</b> & "team",\nline two\n\n<script>alert(1)</script>'
    message = build_message(ACCOUNT, an_email(text=text))

    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<b>" not in content and "<script>" not in content
    assert "<p>Hi &lt;b&gt;Lena&lt;/b&gt; &amp; &quot;team&quot;,<br>\nline two</p>" in content
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in content


def test_text_outside_ascii_survives_the_trip() -> None:
    message = on_the_wire(build_message(ACCOUNT, an_email(subject="Grüße an Zoë", text="Hallo Jürgen, ça va?\n")))

    assert message["Subject"] == "Grüße an Zoë"
    text = message.get_body(("plain",))
    assert text is not None and text.get_content() == "Hallo Jürgen, ça va?\n"


def test_links_are_found_before_escaping_and_leave_trailing_punctuation_out():
    html = as_html('See "https://plera.example/a?b=1&c=2". Or (https://plera.example/x).')
    assert '<a href="https://plera.example/a?b=1&amp;c=2">' in html
    assert "&quot;</a>" not in html and '.">' not in html
    assert '<a href="https://plera.example/x">https://plera.example/x</a>).' in html


def test_a_subject_a_template_broke_over_lines_becomes_one_line():
    message = build_message(ACCOUNT, an_email(subject="Hello\nthere\r\n friend"))
    assert message["Subject"] == "Hello there friend"


WIRE_CASES = [
    an_email(),
    an_email(unsubscribe_url=UNSUBSCRIBE, in_reply_to="<a@plera.example>", references=["<a@plera.example>"]),
    an_email(subject="Grüße an Zoë", text="Hallo Jürgen, ça va?\n\nBis bald 😀"),
    an_email(subject="A subject long enough to be folded over more than one line " * 3, text="x" * 2000),
    an_email(text="trailing spaces   \n\ttabs\n.a dot\nequals = sign\r\nand CRLF\rand CR"),
    an_email(text=""),
]


def _seen(raw: bytes) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """What a receiver reads: the headers that carry meaning, and each part's type and text."""
    message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n")))
    names = ("To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "List-Unsubscribe")
    sender = message["From"].addresses[0]
    return (
        {n: str(message[n]) for n in names if n in message} | {"From": f"{sender.display_name} <{sender.addr_spec}>"},
        [(p.get_content_type(), p.get_content()) for p in message.iter_parts()],
    )


def test_the_wire_form_carries_what_the_librarys_message_carries() -> None:
    account = SmtpAccount(host="h", port=25, from_name='Zoë "Z" Ruiz', from_address="zoe@plera.example")
    for email in WIRE_CASES:
        headers, parts = _seen(wire_bytes(account, email))
        expected_headers, expected_parts = _seen(build_message(account, email).as_bytes())
        assert parts == expected_parts
        assert headers["Subject"] == " ".join(email.subject.split())
        assert headers.keys() == expected_headers.keys()
        assert headers["From"] == 'Zoë "Z" Ruiz <zoe@plera.example>'  # the library's own drops the quotes
        for name in headers.keys() - {"Subject", "From", "List-Unsubscribe"}:  # the library may fold these
            assert headers[name] == expected_headers[name]
        if email.unsubscribe_url:
            assert headers["List-Unsubscribe"] == f"<{email.unsubscribe_url}>"


def test_the_wire_form_is_seven_bit_with_short_crlf_lines() -> None:
    for email in WIRE_CASES:
        raw = wire_bytes(ACCOUNT, email)
        assert raw.isascii()
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_a_header_with_a_line_break_is_refused_on_the_wire_too() -> None:
    account = SmtpAccount(host="h", port=25, from_name="Ana\r\nBcc: x@evil.example", from_address="ana@plera.example")
    with pytest.raises(ValueError):
        wire_bytes(account, an_email())
