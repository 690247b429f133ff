"""Manual outcomes through the API: the first stops the person like a reply; repeating it changes
nothing anywhere, and changing it is recorded once, with no new stops or replies."""

from __future__ import annotations

from typing import Any

from tests.integration.api.conftest import Api


def _person_in_two_sequences(api: Api) -> tuple[str, str, str]:
    """A lead in two launched sequences (step 1 always, step 2 no_reply): (lead, first, second enrollment)."""
    run = api.run()
    group = api.group(run)
    lead = api.import_leads(group, [{"email": "ada@example.com"}])["lead_ids"][0]
    api.enrich(group)
    sequences = [api.sequence(run, [group]) for _ in range(2)]
    for sequence in sequences:
        api.launch(sequence)
    by_sequence = {e["sequence_id"]: e["id"] for e in api.enrollments_of(lead)}
    return lead, by_sequence[sequences[0]], by_sequence[sequences[1]]


def _state(api: Api, lead: str) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in api.enrollments_of(lead)}


def _events(api: Api, lead: str, enrollment: str) -> list[str]:
    history = api.ok(api.get(f"/v1/leads/{lead}/history"))["events"]
    return [e["type"] for e in history if e["aggregate_id"] == enrollment]


def test_repeating_an_outcome_changes_no_enrollment_of_the_person(api):
    lead, first, second = _person_in_two_sequences(api)

    replied = api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "replied"}))

    assert (replied["status"], replied["stop_reason"]) == ("stopped", "replied")
    after_first = _state(api, lead)
    # The other sequence's no_reply step stopped; its `always` step 1 keeps it open.
    assert after_first[second]["status"] == "active" and after_first[second]["replied_at"] is not None
    assert [s["status"] for s in after_first[second]["steps"]] == ["scheduled", "skipped"]
    for _ in range(5):
        again = api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "replied"}))
        assert again["version"] == replied["version"]
    assert {i: e["version"] for i, e in _state(api, lead).items()} == {i: e["version"] for i, e in after_first.items()}
    assert _events(api, lead, second).count("ReplyDetected") == 1


def test_changing_the_outcome_of_a_stopped_enrollment_records_only_the_new_outcome(api):
    lead, first, second = _person_in_two_sequences(api)
    api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "replied"}))
    before = _state(api, lead)
    events_before = _events(api, lead, first)

    booked = api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "meeting_booked"}))

    assert booked["version"] == before[first]["version"] + 1
    assert _events(api, lead, first) == [*events_before, "OutcomeRecorded"]
    assert (booked["status"], booked["stop_reason"]) == ("stopped", "replied")
    assert _state(api, lead)[second]["version"] == before[second]["version"]
    assert (
        api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "meeting_booked"}))["version"]
        == (booked["version"])
    )


def test_an_outcome_on_an_enrollment_stopped_by_hand_is_recorded_once(api):
    lead, first, second = _person_in_two_sequences(api)
    api.ok(api.post(f"/v1/enrollments/{first}/stop"))

    recorded = api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "not_interested"}))
    for _ in range(3):
        api.ok(api.post(f"/v1/enrollments/{first}/outcome", json={"outcome": "not_interested"}))

    assert _events(api, lead, first)[-2:] == ["OutcomeRecorded", "ReplyDetected"]
    assert _state(api, lead)[first]["version"] == recorded["version"]
    assert _events(api, lead, second).count("ReplyDetected") == 1
