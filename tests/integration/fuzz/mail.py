"""A deterministic generator of hostile inbound mail: the corpus damaged in every way mail arrives
damaged, answers to our real sends (replies, out-of-office, bounces), and a few monsters.

Every message comes from `random.Random(seed)`, so a failure names its index and seed and is
reproduced by running the same seed again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent.parent.parent / "fixtures" / "inbound"
CRLF = b"\r\n"


@dataclass(frozen=True)
class Sent:
    """One of our real sends: the lead's address, our Message-ID and subject."""

    to: str
    message_id: str
    subject: str


@dataclass(frozen=True)
class Fuzzed:
    name: str  # what was done to it, for the failure message
    raw: bytes


def corpus() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]


# --- messages that answer our sends ------------------------------------------------------------------


def reply(sent: Sent, message_id: str, text: str, *extra: str) -> bytes:
    headers = [
        f"From: Lead <{sent.to}>",
        "To: Alex <alex@plera.example>",
        f"Subject: Re: {sent.subject}",
        f"Message-ID: {message_id}",
        f"In-Reply-To: {sent.message_id}",
        f"References: {sent.message_id}",
        "Date: Mon, 2 Mar 2026 10:00:00 +0100",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        *extra,
    ]
    quoted = f"\r\n\r\nOn Mon, 2 Mar 2026 at 09:00, Alex <alex@plera.example> wrote:\r\n> {sent.subject}\r\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + text + quoted).encode()


def out_of_office(sent: Sent, message_id: str) -> bytes:
    return reply(sent, message_id, "I am out of the office until March 9.", "Auto-Submitted: auto-replied")


def dsn(sent_to: str, returned_id: str, message_id: str, *, status: str = "5.1.1", action: str = "failed") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.acme.example\r\nTo: alex@plera.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
        f"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {sent_to}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n"
        f"--dsn\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: {returned_id}\r\n"
        f"From: alex@plera.example\r\nTo: {sent_to}\r\nSubject: Hello\r\n\r\nThe message we sent.\r\n"
        f"--dsn--\r\n"
    ).encode()


def broken_dsns(sent: Sent, ids: Iterator[str]) -> list[Fuzzed]:
    """multipart/report with its parts missing, garbled or pointing nowhere."""
    whole = dsn(sent.to, sent.message_id, next(ids), status="4.2.2", action="delayed")
    return [
        Fuzzed("dsn: soft bounce of our send", whole),
        Fuzzed("dsn: an unknown returned id", dsn("nobody@nowhere.example", "<unknown@elsewhere>", next(ids))),
        Fuzzed(
            "dsn: no delivery-status part",
            re.sub(
                rb"--dsn\r\nContent-Type: message/delivery-status.*?(?=--dsn)",
                b"",
                dsn(sent.to, sent.message_id, next(ids)),
                flags=re.S,
            ),
        ),
        Fuzzed(
            "dsn: garbled delivery-status",
            dsn(sent.to, sent.message_id, next(ids))
            .replace(b"Final-Recipient: rfc822; ", b"Final-Recipient:\x00;;\xff")
            .replace(b"Status: 5.1.1", b"Status: 9.x"),
        ),
        Fuzzed("dsn: no boundary at all", dsn(sent.to, sent.message_id, next(ids)).replace(b'; boundary="dsn"', b"")),
        Fuzzed("dsn: no closing boundary, cut in the returned message", dsn(sent.to, sent.message_id, next(ids))[:-40]),
        Fuzzed(
            "dsn: returned message/rfc822 empty",
            re.sub(
                rb"message/rfc822\r\n\r\n.*?(?=--dsn--)",
                b"message/rfc822\r\n\r\n",
                dsn(sent.to, sent.message_id, next(ids)),
                flags=re.S,
            ),
        ),
        Fuzzed(
            "dsn: empty report",
            f"From: MAILER-DAEMON@x\r\nMessage-ID: {next(ids)}\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b--\r\n".encode(),
        ),
        Fuzzed(
            "dsn: 5,000 recipients",
            dsn(sent.to, sent.message_id, next(ids)).replace(
                b"Final-Recipient:",
                b"".join(b"Final-Recipient: rfc822; r%d@x.example\r\nAction: failed\r\n\r\n" % i for i in range(5000))
                + b"Final-Recipient:",
                1,
            ),
        ),
    ]


# --- monsters ---------------------------------------------------------------------------------------


def nested(levels: int, message_id: str) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(levels)
    )
    closing = b"".join(b"\r\n--n%d--" % i for i in reversed(range(levels)))
    head = f"From: deep@nest.example\r\nSubject: deep\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n".encode()
    return head + opening + b"Content-Type: text/plain\r\n\r\nat the bottom" + closing + CRLF


def sized(size: int, message_id: str) -> bytes:
    head = f"From: big@large.example\r\nSubject: big\r\nMessage-ID: {message_id}\r\n\r\nCall me.\r\n".encode()
    line = b"padding padding padding padding padding padding padding padding\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return (head + body)[:size]


def monsters(sent: Sent, ids: Iterator[str], limit: int) -> list[Fuzzed]:
    h = f"From: Lead <{sent.to}>\r\nIn-Reply-To: {sent.message_id}\r\n".encode()
    return [
        Fuzzed("200 levels of multipart", nested(200, next(ids))),
        Fuzzed("1,000 levels of multipart", nested(1000, next(ids))),
        Fuzzed(
            "a Subject of 100,000 folds",
            h + f"Message-ID: {next(ids)}\r\nSubject: x".encode() + b"\r\n y" * 100_000 + b"\r\n\r\nhi",
        ),
        Fuzzed(
            "a References of 100,000 folds",
            h
            + f"Message-ID: {next(ids)}\r\nReferences: {sent.message_id}".encode()
            + b"\r\n <f@x>" * 100_000
            + b"\r\n\r\nhi",
        ),
        Fuzzed(
            "a From of 100,000 addresses",
            f"Message-ID: {next(ids)}\r\nFrom: a@x".encode() + b"\r\n ,b@y.example" * 100_000 + b"\r\n\r\nhi",
        ),
        Fuzzed(
            "a 1 MB header line",
            h + f"Message-ID: {next(ids)}\r\nSubject: ".encode() + b"ab " * 350_000 + b"\r\n\r\nhi",
        ),
        Fuzzed(
            "10,000 headers",
            h
            + f"Message-ID: {next(ids)}\r\n".encode()
            + b"".join(b"X-Header-%d: value %d\r\n" % (i, i) for i in range(10_000))
            + b"\r\nhi",
        ),
        Fuzzed("a body of 2 million empty lines", h + f"Message-ID: {next(ids)}\r\n\r\n".encode() + b"\n" * 2_000_000),
        Fuzzed(
            "CR without LF, 1 MB",
            (h + f"Message-ID: {next(ids)}\r\n\r\n".encode()).replace(CRLF, b"\r") + b"line\r" * 200_000,
        ),
        Fuzzed(
            "HTML of 500,000 open tags",
            h + f"Message-ID: {next(ids)}\r\nContent-Type: text/html\r\n\r\n".encode() + b"<blockquote><div>" * 500_000,
        ),
        Fuzzed(
            "20,000 boundary-like lines, no boundary",
            h
            + f"Message-ID: {next(ids)}\r\n".encode()
            + b"Content-Type: multipart/mixed\r\n\r\n"
            + b"".join(b"--p%d\r\nx\r\n" % i for i in range(20_000)),
        ),
        Fuzzed("a message just under the body limit", sized(limit - 1024, next(ids))),
    ]


# --- mutations of a message -------------------------------------------------------------------------


Mutation = Callable[[random.Random, bytes], bytes]


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head, sep, body
    return raw, b"", b""


def _header_lines(head: bytes) -> list[bytes]:
    return re.split(rb"\r?\n(?![ \t])", head)


def flip_bytes(r: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(r.randint(1, 16)):
        if data:
            data[r.randrange(len(data))] = r.randrange(256)
    return bytes(data)


def truncate(r: random.Random, raw: bytes) -> bytes:
    return raw[: r.randrange(len(raw) + 1)]


def duplicate_header(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    line = r.choice(lines)
    lines[r.randrange(len(lines) + 1) : 0] = [line] * r.choice([1, 2, 50, 1000])
    return b"\r\n".join(lines) + sep + body


def garble_boundaries(r: random.Random, raw: bytes) -> bytes:
    found = re.search(rb'boundary="?([^";\r\n]+)"?', raw, re.IGNORECASE)
    if not found:
        return raw
    boundary = found.group(1)
    choice = r.randrange(4)
    if choice == 0:  # the parameter goes, the lines stay
        return raw.replace(found.group(0), b"", 1)
    if choice == 1:  # the lines go, the parameter stays
        return raw.replace(b"--" + boundary, b"")
    if choice == 2:  # the parameter names another boundary
        return raw.replace(found.group(0), b'boundary="' + boundary[::-1] + b'x"', 1)
    return raw.replace(b"--" + boundary + b"--", b"")  # never closed


def unknown_charset(r: random.Random, raw: bytes) -> bytes:
    name = r.choice([b"x-unknown", b"utf-7", b"utf-16", b"base64", b"", b"\xff\xfe", b"utf-8\x00"])
    replaced = re.sub(rb"charset=\"?[\w-]+\"?", b"charset=" + name, raw, flags=re.IGNORECASE)
    if replaced == raw:
        head, sep, body = _split(raw)
        return head + b"\r\nContent-Type: text/plain; charset=" + name + sep + body
    return replaced


def broken_transfer_encoding(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    encoding = r.choice([b"base64", b"quoted-printable", b"x-uuencode", b"8bit", b"bogus"])
    head = re.sub(rb"(?im)^content-transfer-encoding:.*$", b"", head)
    garbage = r.choice([b"!!!@@@", b"=ZZ=", b"=\r\n=", b"====", b"QUJD\x00"]) * r.randint(1, 200)
    return head + b"\r\nContent-Transfer-Encoding: " + encoding + sep + garbage + body


def eight_bit_headers(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    junk = bytes(r.randrange(0x80, 0x100) for _ in range(r.randint(1, 40)))
    junk = r.choice([junk, b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"=?utf-8?b?7aCA?="])
    lines = _header_lines(head)
    at = r.randrange(len(lines))
    lines[at] = lines[at] + b" " + junk
    return b"\r\n".join(lines) + sep + body


def invalid_utf8_body(r: random.Random, raw: bytes) -> bytes:
    at = r.randrange(len(raw) + 1)
    return (
        raw[:at] + r.choice([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\x80", b"\xff\xfe\x00", b"\x80" * 50]) + raw[at:]
    )


def nul_bytes(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    at = r.randrange(len(lines))
    lines[at] = lines[at] + b"\x00"
    cut = r.randrange(len(body) + 1)
    return b"\r\n".join(lines) + sep + body[:cut] + b"\x00\x01\x1b\x7f" + body[cut:]


def bare_cr(r: random.Random, raw: bytes) -> bytes:
    if r.random() < 0.5:
        return raw.replace(b"\r\n", b"\r")
    at = r.randrange(len(raw) + 1)
    return raw[:at] + raw[at:].replace(b"\n", b"")


def long_header(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    name = r.choice([b"Subject", b"From", b"To", b"References", b"In-Reply-To", b"Content-Type", b"X-Long", b"Date"])
    if r.random() < 0.5:
        value = b"w" * r.choice([1000, 20_000, 200_000])
    else:
        value = b"\r\n ".join([b"fold"] * r.choice([100, 5000, 30_000]))
    return head + b"\r\n" + name + b": " + value + sep + body


def thousands_of_headers(r: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    count = r.choice([1000, 5000])
    return head + b"".join(b"\r\nX-Many-%d: %d" % (i, i) for i in range(count)) + sep + body


MUTATIONS: list[Mutation] = [
    flip_bytes,
    truncate,
    duplicate_header,
    garble_boundaries,
    unknown_charset,
    broken_transfer_encoding,
    eight_bit_headers,
    invalid_utf8_body,
    nul_bytes,
    bare_cr,
    long_header,
    thousands_of_headers,
]


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """A fresh Message-ID, so that a mutant is taken in, not refused as a repeat of its original."""
    cleaned = re.sub(rb"(?im)^message-id:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n", b"", raw, count=1)
    return f"Message-ID: {message_id}\r\n".encode() + cleaned


def mutants(r: random.Random, bases: list[tuple[str, bytes]], count: int, ids: Iterator[str]) -> Iterator[Fuzzed]:
    for _ in range(count):
        name, raw = r.choice(bases)
        if r.random() < 0.9:
            raw = with_message_id(raw, next(ids))
        done = []
        for mutation in r.sample(MUTATIONS, r.randint(1, 3)):
            raw = mutation(r, raw)
            done.append(mutation.__name__)
        yield Fuzzed(f"{name} + {', '.join(done)}", raw)
