from datetime import timedelta
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from tests.integration.api.conftest import assert_problem


def _launched(api, email="ada@example.com"):
    run = api.run()
    group = api.group(run)
    lead = api.import_leads(group, [{"email": email}])["lead_ids"][0]
    api.enrich(group)
    sequence = api.sequence(run, [group])
    api.launch(sequence)
    (enrollment,) = api.enrollments_of(lead)
    return lead, sequence, enrollment["id"]


def test_one_lead_is_paused_resumed_and_stopped(api):
    lead, sequence, enrollment = _launched(api)
    paused = api.ok(api.post(f"/v1/enrollments/{enrollment}/pause"))
    assert (paused["paused"], paused["status"], paused["lead_id"]) == (True, "active", lead)
    assert api.ok(api.post(f"/v1/enrollments/{enrollment}/pause"))["version"] == paused["version"]
    resumed = api.ok(api.post(f"/v1/enrollments/{enrollment}/resume"))
    assert resumed["paused"] is False and resumed["steps"][0]["status"] == "scheduled"
    stopped = api.ok(api.post(f"/v1/enrollments/{enrollment}/stop"))
    assert (stopped["status"], stopped["stop_reason"]) == ("stopped", "manual")
    assert api.ok(api.post(f"/v1/enrollments/{enrollment}/stop"))["version"] == stopped["version"]
    assert_problem(api.post(f"/v1/enrollments/{enrollment}/pause"), 409, "enrollment_closed")


def test_history_lists_events_in_order_and_replays_state_as_of_a_time(api, clock):
    lead, sequence, enrollment = _launched(api)
    before_pause = clock.now()
    clock.advance(timedelta(hours=2))
    api.post(f"/v1/enrollments/{enrollment}/pause")
    paused_at = clock.now()
    clock.advance(timedelta(minutes=5))

    history = api.ok(api.get(f"/v1/leads/{lead}/history"))
    assert history["lead_id"] == lead
    events = history["events"]
    assert [e["type"] for e in events] == ["LeadImported", "LeadEnrolled", "StepScheduled", "EnrollmentPaused"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert {e["actor"] for e in events} == {"default"}  # the API key's name
    assert events[-1]["aggregate_id"] == enrollment and events[-1]["data"] == {"reason": "manual"}
    assert events[1]["version"] == 1 and events[-1]["version"] == 3
    assert history["state"][0]["paused"] is True

    then = api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": before_pause.isoformat()}))
    assert [e["type"] for e in then["events"]] == ["LeadImported", "LeadEnrolled", "StepScheduled"]
    assert then["state"][0]["paused"] is False
    naive = (paused_at + timedelta(minutes=1)).replace(tzinfo=None).isoformat()  # no zone: UTC
    after = api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": naive}))
    assert after["state"][0]["paused"] is True
    zulu = before_pause.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": zulu}))["state"][0]["paused"] is False


def test_history_replays_each_enrollment_in_version_order_when_a_later_event_carries_an_earlier_time(
    api, clock, services
):
    # An event's time is read when its command begins: a worker's pass that began before a pause was
    # committed records its own event after it, with the earlier time (found by bench/soak.py, where
    # this answered 500 with OriginatorVersionError).
    lead, _, enrollment = _launched(api)
    pass_began = clock.now()
    clock.advance(timedelta(seconds=2))
    api.post(f"/v1/enrollments/{enrollment}/pause")
    late = services.events.get(UUID(enrollment), LeadEnrollment)
    late.resume(at=pass_began, actor="worker")
    services.events.save(late)

    history = api.ok(api.get(f"/v1/leads/{lead}/history"))
    assert [e["type"] for e in history["events"]][-2:] == ["EnrollmentResumed", "EnrollmentPaused"]  # by time
    assert history["state"][0]["paused"] is False and history["state"][0]["version"] == 4
    between = (pass_began + timedelta(seconds=1)).isoformat()
    then = api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": between}))
    assert then["state"][0]["version"] == 4  # up to its last event by then, in version order


def test_history_before_the_lead_existed_is_empty(api, clock):
    lead, _, _ = _launched(api)
    long_ago = (clock.now() - timedelta(days=365)).isoformat()
    history = api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": long_ago}))
    assert (history["events"], history["state"]) == ([], [])


def test_a_bad_as_of_is_refused(api):
    lead, _, _ = _launched(api)
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00"):
        body = assert_problem(api.get(f"/v1/leads/{lead}/history", params={"as_of": bad}), 422, "invalid_request")
        assert body["errors"][0]["loc"] == ["query", "as_of"]


def test_history_replays_the_state_when_the_clock_was_set_back(api, clock):
    """Found by the fuzz test: after the simulated clock moved back, an enrollment's later events are
    older than its first, and the replay applied one to nothing (500)."""
    lead, sequence, enrollment = _launched(api)
    started = clock.now()
    try:
        clock.set(started - timedelta(days=30))
        api.ok(api.post(f"/v1/enrollments/{enrollment}/pause"))

        history = api.ok(api.get(f"/v1/leads/{lead}/history"))
        (state,) = history["state"]
        assert state["id"] == enrollment and state["paused"] is True
        # As of the earlier time the pause, stamped 30 days back, had happened: an aggregate is taken up
        # to its last event at or before `as_of`, with the events before it in its own order.
        earlier = (started - timedelta(days=1)).isoformat().replace("+00:00", "Z")
        (then,) = api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": earlier}))["state"]
        assert then["id"] == enrollment and then["paused"] is True
        long_before = (started - timedelta(days=60)).isoformat().replace("+00:00", "Z")
        assert api.ok(api.get(f"/v1/leads/{lead}/history", params={"as_of": long_before}))["state"] == []
    finally:
        clock.set(started + timedelta(hours=1))
