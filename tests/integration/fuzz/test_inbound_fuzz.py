"""Issue 15: a corpus fuzz of the inbound-mail webhook, through the real API over HTTP.

Hundreds of hostile messages (mail.py: the corpus damaged, answers to our real sends, broken
DSNs, 10 MB and deeply nested ones), each signed and posted: every answer is 202 or a 4xx problem,
within seconds; a repeat changes nothing; and afterwards the read models are caught up with no
dead letters, ready, equal to a rebuild, and the sequence goes on sending.

PLERA_FUZZ_EXAMPLES (default 300, the CI budget) sets how many mutants; PLERA_FUZZ_SEED the seed.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest
import uvicorn

from plera.aggregates.workspace import Workspace
from plera.api import create_app
from plera.api.limits import MAX_BODY_BYTES
from plera.channels.signatures import signed_headers
from plera.projections.all import ALL
from plera.projections.dead_letters import faults
from plera.projections.maintenance import verify
from tests.integration.fuzz import mail
from tests.integration.fuzz.mail import Fuzzed, Sent

SEED = int(os.environ.get("PLERA_FUZZ_SEED", "20261207"))
EXAMPLES = int(os.environ.get("PLERA_FUZZ_EXAMPLES", "300"))
SLOWEST_SECONDS = 5.0  # generous on a busy machine; a quadratic path takes tens of seconds
REPEAT_EVERY = 10  # every tenth message taken in is posted again
EMAILS = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
]
LEADS = 8


@pytest.fixture
def api_url(world) -> Iterator[str]:
    """The real app under uvicorn in a thread, on a free port of the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(world.sv), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Answer:
    fuzzed: Fuzzed
    status: int
    body: dict
    seconds: float


class Poster:
    def __init__(self, world, url: str) -> None:
        self.secret = world.sv.vault.get(world.sv.events.get(world.workspace_id, Workspace).webhook_secret_id)
        self.path = f"/v1/webhooks/{world.workspace_id}/email/inbound"
        self.http = httpx.Client(base_url=url, timeout=60)  # a hang fails the request, not the whole run

    def post(self, fuzzed: Fuzzed) -> Answer:
        headers = signed_headers(self.secret, int(time.time()), fuzzed.raw)
        headers["Content-Type"] = "message/rfc822"
        started = time.perf_counter()
        try:
            response = self.http.post(self.path, content=fuzzed.raw, headers=headers)
        except httpx.WriteError:  # the server answered 413 and closed before the body was all sent
            return Answer(fuzzed, 413, {"code": "payload_too_large"}, time.perf_counter() - started)
        except httpx.TransportError as e:  # no answer at all: a failure of its own, and the run goes on
            return Answer(fuzzed, 0, {"no answer": repr(e)}, time.perf_counter() - started)
        seconds = time.perf_counter() - started
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        body = response.json() if response.status_code == 202 or problem else {"raw": response.text[:300]}
        if 400 <= response.status_code < 500 and not problem:
            body = {"not a problem+json": response.text[:300]}
        return Answer(fuzzed, response.status_code, body, seconds)


def events_stored(world) -> int:
    with world.sv.db.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM plera_events").fetchone()
    assert row is not None
    return int(row[0])


def messages(sent: list[Sent]) -> list[Fuzzed]:
    """Every message of the run, in a fixed order from SEED."""
    r = random.Random(SEED)
    ids = (f"<fuzz-{SEED}-{i}@fuzz.example>" for i in itertools.count())
    answers = [
        ("reply to our send", mail.reply(sent[0], next(ids), "Sounds good, call me Tuesday.")),
        ("out-of-office to our send", mail.out_of_office(sent[1], next(ids))),
        ("hard bounce of our send", mail.dsn(sent[2].to, sent[2].message_id, next(ids))),
        ("unsubscribe answer to our send", mail.reply(sent[3], next(ids), "Please remove me from your list.")),
    ]
    as_such = [Fuzzed(name, raw) for name, raw in answers]
    bases = mail.corpus() + answers
    return (
        as_such
        + mail.broken_dsns(sent[4], ids)
        + mail.monsters(sent[5], ids, MAX_BODY_BYTES)
        + list(mail.mutants(r, bases, EXAMPLES, ids))
    )


def test_hostile_inbound_mail_is_answered_202_or_4xx_quickly_and_the_feeds_stay_healthy(world, api_url):
    world.import_leads(*({"first_name": f"Lead{i}", "email": f"lead{i}@acme{i}.example"} for i in range(LEADS)))
    world.launch(steps=EMAILS)
    world.advance(hours=1)  # Monday 09:00 in Berlin: step 1 goes out, to one lead every few minutes
    while len(world.smtp.messages) < LEADS and world.clock.now().hour < 12:
        world.advance(minutes=6)
    sent = [
        Sent(str(m.rcpt_tos[0]), str(m.message["Message-ID"]), str(m.message["Subject"])) for m in world.smtp.messages
    ]
    assert len(sent) == LEADS

    poster = Poster(world, api_url)
    answers: list[Answer] = []
    wrong: list[str] = []
    for index, fuzzed in enumerate(messages(sent)):
        answer = poster.post(fuzzed)
        answers.append(answer)
        if not (answer.status == 202 or (400 <= answer.status < 500 and "code" in answer.body)):
            wrong.append(f"#{index} {fuzzed.name}: {answer.status} {answer.body}")
        elif answer.status == 202 and index % REPEAT_EVERY == 0:
            before = events_stored(world)
            again = poster.post(fuzzed)
            if again.status != 202 or again.body.get("status") != "duplicate" or events_stored(world) != before:
                wrong.append(f"#{index} {fuzzed.name} repeated: {again.status} {again.body}")
    assert not wrong, f"seed {SEED}:\n" + "\n".join(wrong)

    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds < SLOWEST_SECONDS, f"seed {SEED}: {slowest.fuzzed.name} took {slowest.seconds:.1f} s"
    taken = Counter(a.body.get("classification") for a in answers if a.body.get("status") == "applied")
    print(f"fuzz: seed {SEED}, {len(answers)} messages, slowest {slowest.seconds:.2f} s ({slowest.fuzzed.name})")
    print(f"fuzz: answers {dict(Counter(a.status for a in answers))}, applied {dict(taken)}")
    assert {"reply", "auto_reply", "bounce", "unsubscribe"} <= taken.keys(), taken  # not only "unmatched"

    over = poster.post(Fuzzed("one byte over the body limit", mail.sized(MAX_BODY_BYTES + 1, "<over@fuzz.example>")))
    assert over.status == 413
    empty = poster.post(Fuzzed("an empty body", b"\r\n \r\n"))
    assert empty.status == 422 and empty.body["code"] == "invalid_request"

    world.catch_up()
    with world.sv.db.pool.connection() as conn:
        assert not faults(conn).any, faults(conn).sentences()
    ready = poster.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert verify(world.sv, ALL) == []

    world.import_leads({"first_name": "Zoe", "email": "zoe@later.example"})  # the launched sequence goes on
    world.advance(hours=1)
    assert len(world.emails_to("zoe@later.example")) == 1
