"""Found by the inbound fuzz: a repeated delivery must leave the event store's connections fit for use."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from plera.aggregates.workspace import Workspace
from plera.api import create_app
from plera.channels.signatures import signed_headers
from tests.integration.fuzz import mail
from tests.integration.fuzz.mail import Sent

EMAILS = [{"channel": "email", "delay_days": 0, "condition": "always"}]


def test_repeats_of_a_bounce_to_our_send_never_fail_the_deliveries_after_them(world):
    """A refused repeat aborts its save's pipeline; a statement psycopg chose to prepare in it was
    skipped, and its connection then failed later saves with 'prepared statement does not exist'
    (a 500). recorder.py now prepares nothing unchecked."""
    world.import_leads(*({"first_name": f"L{i}", "email": f"l{i}@acme{i}.example"} for i in range(3)))
    world.launch(steps=EMAILS)
    for _ in range(12):
        world.advance(minutes=6)
    sent = [Sent(str(m.rcpt_tos[0]), str(m.message["Message-ID"]), "Hello") for m in world.smtp.messages]
    secret = world.sv.vault.get(world.sv.events.get(world.workspace_id, Workspace).webhook_secret_id)
    path = f"/v1/webhooks/{world.workspace_id}/email/inbound"
    statuses = []
    with TestClient(create_app(world.sv)) as client:

        def post(raw: bytes) -> int:
            headers = {**signed_headers(secret, int(time.time()), raw), "Content-Type": "message/rfc822"}
            return client.post(path, content=raw, headers=headers).status_code

        bounce = mail.dsn(sent[0].to, sent[0].message_id, "<bounce@mx>")
        statuses += [post(bounce) for _ in range(8)]
        statuses += [post(mail.reply(sent[1 + i % 2], f"<r{i}@acme.example>", "Call me.")) for i in range(30)]
        statuses += [post(mail.dsn(f"x{i}@nowhere.example", "<unknown@x>", f"<u{i}@mx>")) for i in range(30)]
    assert set(statuses) == {202}, statuses
