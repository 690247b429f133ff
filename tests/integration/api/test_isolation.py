"""A workspace sees and touches only its own resources: another's answer 404, and stay as they were."""

from uuid import UUID

import pytest

from plera.aggregates.lead import SourceGroup
from tests.integration.api.conftest import TWO_STEPS, assert_problem


@pytest.fixture
def acme(new_workspace):
    a = new_workspace("Acme")
    run = a.run()
    live, waiting = a.group(run, "live"), a.group(run, "waiting")
    lead = a.import_leads(live, [{"email": "ada@example.com"}])["lead_ids"][0]
    a.import_leads(waiting, [{"email": "grace@example.com"}])
    a.enrich(live)
    sequence = a.sequence(run, [live, waiting])
    draft = a.sequence(run, [])
    a.launch(sequence)
    sender = a.sender("email", name="A", address="a@acme.test", daily_limit=5)
    (enrollment,) = a.enrollments_of(lead)
    ids = {
        "run": run,
        "group": waiting,
        "lead": lead,
        "sequence": sequence,
        "draft": draft,
        "sender": sender,
        "enrollment": enrollment["id"],
    }
    return a, ids


def _snapshot(a, ids):
    """What A sees of its own resources."""
    return {
        "run": a.ok(a.get(f"/v1/runs/{ids['run']}")),
        "sequence": a.ok(a.get(f"/v1/sequences/{ids['sequence']}")),
        "draft": a.ok(a.get(f"/v1/sequences/{ids['draft']}")),
        "history": a.ok(a.get(f"/v1/leads/{ids['lead']}/history")),
    }


def test_another_workspace_gets_404_for_everything_and_changes_nothing(acme, new_workspace, services, catch_up):
    a, ids = acme
    b = new_workspace("Brigand")
    before = _snapshot(a, ids)
    group_before = services.events.get(UUID(ids["group"]), SourceGroup)

    attempts = [
        b.get(f"/v1/runs/{ids['run']}"),
        b.post(f"/v1/runs/{ids['run']}/archive"),
        b.post(f"/v1/runs/{ids['run']}/source-groups", json={"name": "mine now"}),
        b.get(f"/v1/runs/{ids['run']}/source-groups"),
        b.post(f"/v1/source-groups/{ids['group']}/leads", json={"leads": [{"email": "eve@example.com"}]}),
        b.post(
            f"/v1/source-groups/{ids['group']}/leads",
            content=b"email\neve@example.com\n",
            headers={"Content-Type": "text/csv"},
        ),
        b.post(f"/v1/source-groups/{ids['group']}/mark-enriched"),
        b.get(f"/v1/sequences/{ids['sequence']}"),
        b.patch(f"/v1/sequences/{ids['draft']}", json={"name": "hijacked", "steps": TWO_STEPS}),
        b.post(f"/v1/sequences/{ids['draft']}/launch"),
        b.post(f"/v1/sequences/{ids['sequence']}/pause"),
        b.post(f"/v1/sequences/{ids['sequence']}/archive"),
        b.post(f"/v1/sender-accounts/{ids['sender']}/pause", json={"reason": "mine"}),
        b.post(f"/v1/sender-accounts/{ids['sender']}/resume"),
        b.get(f"/v1/sender-accounts/{ids['sender']}"),
        b.patch(f"/v1/sender-accounts/{ids['sender']}", json={"name": "mine"}),
        b.delete(f"/v1/sender-accounts/{ids['sender']}"),
        b.get(f"/v1/leads/{ids['lead']}/history"),
        b.get(f"/v1/leads/{ids['lead']}"),
        b.get(f"/v1/source-groups/{ids['group']}/leads"),
        b.post(f"/v1/enrollments/{ids['enrollment']}/pause"),
        b.post(f"/v1/enrollments/{ids['enrollment']}/stop"),
        # B's own things may not point at A's either
        b.post("/v1/sequences", json={"run_id": ids["run"], "name": "x", "steps": TWO_STEPS}),
        b.post(
            "/v1/sequences",
            json={"run_id": b.run(), "name": "x", "steps": TWO_STEPS, "source_group_ids": [ids["group"]]},
        ),
    ]
    for response in attempts:
        body = assert_problem(response, 404, "not_found")
        assert "Acme" not in body["detail"]

    assert _snapshot(a, ids) == before
    group_after = services.events.get(UUID(ids["group"]), SourceGroup)
    assert (group_after.version, group_after.enriched) == (group_before.version, False)
    catch_up()
    senders = a.ok(a.get("/v1/sender-accounts"))["items"]
    assert (ids["sender"], "active") in [(s["id"], s["status"]) for s in senders]  # beside the launch's own
    assert {s["status"] for s in senders} == {"active"}
    for kind in ("runs", "sequences", "sender-accounts", "strategy-profiles"):
        seen = {item["id"] for item in b.ok(b.get(f"/v1/{kind}"))["items"]}
        assert not seen & set(ids.values())


def test_each_key_sees_its_own_workspace(acme, new_workspace):
    a, _ = acme
    b = new_workspace("Brigand")
    assert a.ok(a.get("/v1/workspace"))["name"] == "Acme"
    assert b.ok(b.get("/v1/workspace"))["name"] == "Brigand"
    b.patch("/v1/workspace", json={"timezone": "Asia/Tokyo"})
    assert a.ok(a.get("/v1/workspace"))["timezone"] == "UTC"
