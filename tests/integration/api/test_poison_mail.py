"""Issue 15: a signed inbound mail with a NUL byte must not stop the read models of every workspace."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.workspace import Workspace
from plera.channels.signatures import signed_headers
from plera.projections.dead_letters import faults

NUL_MAIL = b"From: a@x.example\r\nSubject: hi\r\nMessage-ID: <n@x>\r\n\r\nhello\x00world"


def test_a_signed_mail_with_a_nul_byte_is_kept_and_the_read_models_go_on(services, api, catch_up):
    workspace = services.events.get(api.workspace_id, Workspace)
    headers = signed_headers(services.vault.get(workspace.webhook_secret_id), int(time.time()), NUL_MAIL)
    headers["Content-Type"] = "message/rfc822"
    taken = api.client.post(f"/v1/webhooks/{api.workspace_id}/email/inbound", content=NUL_MAIL, headers=headers)
    assert taken.status_code == 202, taken.text

    catch_up()  # raised psycopg.DataError on the NUL, for ever, before the text was cleaned
    with services.db.pool.connection() as conn:
        assert not faults(conn).any
        kept = conn.execute(
            "SELECT text FROM read.inbox_messages WHERE workspace_id = %s AND message_id = '<n@x>'",
            (api.workspace_id,),
        ).fetchone()
    assert kept == ("helloworld",)

    run = api.run()
    group = api.group(run)
    api.import_leads(group, [{"email": f"p{i}@later.example", "first_name": f"P{i}"} for i in range(1000)])
    api.enrich(group)
    sequence = api.sequence(run, [group])
    assert api.launch(sequence)["enrolled"] == 1000
    catch_up()
    assert api.ok(api.get(f"/v1/sequences/{sequence}/dashboard"))["totals"]["enrolled"] == 1000
    assert api.client.get("/readyz").json()["checks"]["projections"]["status"] == "ok"


def _unmatched(services, workspace_id) -> UnmatchedMail:
    return UnmatchedMail.receive(
        workspace_id=workspace_id,
        message_id=f"<{uuid4()}@x>",
        from_address=None,
        subject=None,
        text="",
        classification="reply",
        at=services.clock.now(),
        actor="test",
    )


def test_deliveries_refused_as_repeats_leave_the_pooled_connections_fit_for_later_saves(services, api):
    """Found by the inbound fuzz: psycopg prepares a statement by itself at its fifth run, unchecked;
    when that run fell in a save that a refused delivery had aborted, the server never prepared it,
    and the connection failed every later save with "prepared statement does not exist"."""
    delivery = (api.workspace_id, f"email:<{uuid4()}@repeat>")
    services.events.save(_unmatched(services, api.workspace_id), delivery=delivery)
    for pattern in ([True, False], [True, True, False], [True, False, False]) * 8:  # every phase on every connection
        for refused in pattern:
            if refused:
                with pytest.raises(IntegrityError):
                    services.events.save(_unmatched(services, api.workspace_id), delivery=delivery)
            else:
                services.events.save(_unmatched(services, api.workspace_id))
