"""The read views over HTTP: sequence dashboard, drill-down, a run's sequences and a lead's timeline.

Sends and replies are made with the LeadEnrollment aggregate's own methods (the dispatcher is a
later issue), then the read models catch up.
"""

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from tests.integration.api.conftest import TWO_STEPS, assert_problem

STEPS = [{"name": "Intro", **TWO_STEPS[0]}, {"name": "Follow-up", **TWO_STEPS[1]}]
PEOPLE = [
    {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "company": "Ann Co"},
    {"first_name": "Ben", "last_name": "Moe", "email": "ben@example.com", "company": "Ben Co"},
    {"first_name": "Cat", "email": "cat@example.com"},
]


@pytest.fixture
def launched(api):
    """A launched two-step sequence with three leads (step 1 scheduled for each); nothing caught up yet."""
    run = api.run()
    group = api.group(run)
    leads = api.import_leads(group, PEOPLE)["lead_ids"]
    api.enrich(group)
    sequence = api.sequence(run, [group], steps=STEPS)
    api.launch(sequence)
    return {"run": run, "sequence": sequence, "leads": dict(zip(("Ann", "Ben", "Cat"), leads, strict=True))}


def _enrollment(services, launched, name):
    enrollment_id = LeadEnrollment.create_id(UUID(launched["sequence"]), UUID(launched["leads"][name]))
    return services.events.get(enrollment_id, LeadEnrollment)


def _send(services, clock, launched, name, step=1):
    enrollment = _enrollment(services, launched, name)
    message_id = message_id_for(enrollment.id, step, 1)
    enrollment.dispatch(step=step, message_id=message_id, sender_id=uuid4(), at=clock.now(), actor="worker")
    clock.advance(timedelta(minutes=1))
    enrollment.record_sent(step=step, at=clock.now(), actor="worker")
    services.events.save(enrollment)
    clock.advance(timedelta(minutes=1))


def _reply(services, clock, launched, name):
    enrollment = _enrollment(services, launched, name)
    enrollment.record_reply(channel="email", message_ref=None, at=clock.now(), actor="webhook")
    services.events.save(enrollment)
    clock.advance(timedelta(minutes=1))


def _counts(step, *keys):
    return {k: step[k] for k in keys}


# ---- dashboard


def test_the_dashboard_after_launch(api, launched, catch_up):
    catch_up()
    board = api.ok(api.get(f"/v1/sequences/{launched['sequence']}/dashboard"))
    assert board["status"] == "active"
    assert board["totals"] == {"enrolled": 3, "active": 3, "replied": 0, "completed": 0, "stopped": 0, "paused": 0}
    intro, follow_up = board["steps"]
    assert (intro["step"], intro["name"], intro["channel"]) == (1, "Intro", "email")
    assert _counts(intro, "leads_at_step", "scheduled", "sent", "replied", "reply_rate") == {
        "leads_at_step": 3,
        "scheduled": 3,
        "sent": 0,
        "replied": 0,
        "reply_rate": 0.0,
    }
    assert (follow_up["step"], follow_up["name"], follow_up["leads_at_step"], follow_up["sent"]) == (
        2,
        "Follow-up",
        0,
        0,
    )
    for step in board["steps"]:
        assert step["accepted"] == step["bounced"] == step["failed"] == step["skipped"] == 0


def test_the_dashboard_counts_sends_and_credits_a_reply_to_the_step_sent(api, launched, catch_up, services, clock):
    _send(services, clock, launched, "Ann")
    _send(services, clock, launched, "Ben")
    _reply(services, clock, launched, "Ann")
    catch_up()

    board = api.ok(api.get(f"/v1/sequences/{launched['sequence']}/dashboard"))
    intro, follow_up = board["steps"]
    assert _counts(intro, "leads_at_step", "scheduled", "sent", "replied", "reply_rate") == {
        "leads_at_step": 1,  # Cat
        "scheduled": 1,
        "sent": 2,
        "replied": 1,  # Ann, after step 1
        "reply_rate": 0.5,
    }
    # Ben waits for step 2; Ann replied, so her no_reply step 2 is skipped.
    assert _counts(follow_up, "leads_at_step", "sent", "replied", "skipped") == {
        "leads_at_step": 1,
        "sent": 0,
        "replied": 0,
        "skipped": 1,
    }
    assert board["totals"] == {"enrolled": 3, "active": 2, "replied": 1, "completed": 0, "stopped": 1, "paused": 0}


def test_the_dashboard_of_a_sequence_the_read_models_lack_yet_is_its_plan_with_zeros(api):
    run = api.run()
    sequence = api.sequence(run, [], steps=STEPS)  # no catch_up: the catalog has no row for it

    board = api.ok(api.get(f"/v1/sequences/{sequence}/dashboard"))
    assert board["status"] == "draft"
    assert [(s["step"], s["name"], s["channel"]) for s in board["steps"]] == [
        (1, "Intro", "email"),
        (2, "Follow-up", "email"),
    ]
    assert all(s["sent"] == s["leads_at_step"] == 0 and s["reply_rate"] == 0.0 for s in board["steps"])
    assert set(board["totals"].values()) == {0}


def test_read_views_of_another_workspace_answer_404(api, launched, new_workspace, catch_up):
    other = new_workspace("Brigand")
    for caught_up in (False, True):  # whether the catalog has the rows or not
        if caught_up:
            catch_up()
        attempts = [
            other.get(f"/v1/sequences/{launched['sequence']}/dashboard"),
            other.get(f"/v1/sequences/{launched['sequence']}/leads"),
            other.get(f"/v1/runs/{launched['run']}/sequences"),
            other.get(f"/v1/leads/{launched['leads']['Ann']}/timeline"),
        ]
        for response in attempts:
            assert_problem(response, 404, "not_found")
    for path in (
        f"/v1/sequences/{uuid4()}/dashboard",
        "/v1/sequences/not-a-uuid/leads",
        f"/v1/runs/{uuid4()}/sequences",
    ):
        assert_problem(api.get(path), 404, "not_found")


# ---- drill-down


def test_the_drill_down_filters_by_next_step_and_status(api, launched, catch_up, services, clock):
    _send(services, clock, launched, "Ann")
    _send(services, clock, launched, "Ben")
    _reply(services, clock, launched, "Ann")
    catch_up()
    path = f"/v1/sequences/{launched['sequence']}/leads"
    ids = launched["leads"]

    everyone = api.ok(api.get(path))
    by_lead = {i["lead_id"]: i for i in everyone["items"]}
    assert len(everyone["items"]) == 3 and by_lead.keys() == set(ids.values())
    assert everyone["next_cursor"] is None
    ann = by_lead[ids["Ann"]]
    assert (ann["name"], ann["company"], ann["status"], ann["next_step"]) == ("Ann Lee", "Ann Co", "stopped", None)
    assert ann["enrollment_id"] == str(LeadEnrollment.create_id(UUID(launched["sequence"]), UUID(ids["Ann"])))
    cat = by_lead[ids["Cat"]]
    assert (cat["name"], cat["company"], cat["status"], cat["next_step"]) == ("Cat", None, "active", 1)
    assert cat["next_send_at"] is not None and cat["last_event_at"] is not None

    def leads(**params):
        return [i["lead_id"] for i in api.ok(api.get(path, params=params))["items"]]

    assert leads(step=1) == [ids["Cat"]]
    assert leads(step=2) == [ids["Ben"]]
    assert leads(status="stopped") == [ids["Ann"]]
    assert leads(status="active", step=2) == [ids["Ben"]]
    assert leads(status="completed") == []
    api.post(f"/v1/enrollments/{cat['enrollment_id']}/pause")
    catch_up()
    assert leads(status="paused") == [ids["Cat"]]


def test_the_drill_down_pages_with_a_cursor(api, launched, catch_up):
    catch_up()
    path = f"/v1/sequences/{launched['sequence']}/leads"
    seen, cursor = [], None
    for _ in range(3):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.ok(api.get(path, params=params))
        assert len(page["items"]) == 1
        seen += [i["lead_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    # enrollment order: all were enrolled at one instant here, so by enrollment id
    assert seen == [i["lead_id"] for i in api.ok(api.get(path))["items"]]
    assert set(seen) == set(launched["leads"].values())
    two = api.ok(api.get(path, params={"limit": 2}))
    assert [i["lead_id"] for i in two["items"]] == seen[:2] and two["next_cursor"]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"status": "sleeping"}, ["query", "status"]),
        ({"status": "draft"}, ["query", "status"]),
        ({"step": 0}, ["query", "step"]),
        ({"step": "two"}, ["query", "step"]),
        ({"limit": 501}, ["query", "limit"]),
    ],
)
def test_the_drill_down_refuses_bad_filters(api, launched, params, where):
    body = assert_problem(api.get(f"/v1/sequences/{launched['sequence']}/leads", params=params), 422, "invalid_request")
    assert body["errors"][0]["loc"] == where


def test_the_drill_down_refuses_a_cursor_it_did_not_give(api, launched, catch_up):
    catch_up()
    response = api.get(f"/v1/sequences/{launched['sequence']}/leads", params={"cursor": "bm9wZQ"})
    assert_problem(response, 422, "invalid_cursor")


def test_the_drill_down_of_a_sequence_the_read_models_lack_yet_is_empty(api, launched):
    page = api.ok(api.get(f"/v1/sequences/{launched['sequence']}/leads"))
    assert page == {"items": [], "next_cursor": None}


# ---- a run's sequences


def test_a_runs_sequences_with_their_headline_counts(api, launched, catch_up, services, clock):
    clock.advance(timedelta(minutes=1))  # lists go oldest first
    draft = api.sequence(launched["run"], [])
    api.sequence(api.run("Another run"), [])  # not this run's
    _send(services, clock, launched, "Ann")
    _send(services, clock, launched, "Ben")
    _reply(services, clock, launched, "Ben")
    catch_up()

    page = api.ok(api.get(f"/v1/runs/{launched['run']}/sequences"))
    assert [s["id"] for s in page["items"]] == [launched["sequence"], draft]
    live, empty = page["items"]
    assert (live["name"], live["status"]) == ("Intro", "active")
    assert {k: live[k] for k in ("enrolled", "active", "replied", "sent")} == {
        "enrolled": 3,
        "active": 2,
        "replied": 1,
        "sent": 2,
    }
    assert (empty["status"], empty["enrolled"], empty["sent"]) == ("draft", 0, 0)
    assert {"created_at", "version"} <= live.keys()
    assert page["next_cursor"] is None
    assert page["totals"] == {"enrolled": 3, "active": 2, "replied": 1, "sent": 2}

    first = api.ok(api.get(f"/v1/runs/{launched['run']}/sequences", params={"limit": 1}))
    assert [s["id"] for s in first["items"]] == [launched["sequence"]]
    rest = api.ok(api.get(f"/v1/runs/{launched['run']}/sequences", params={"cursor": first["next_cursor"]}))
    assert [s["id"] for s in rest["items"]] == [draft]
    assert first["totals"] == rest["totals"] == page["totals"]  # the whole run's, whatever the page


def test_a_run_the_read_models_lack_yet_has_no_sequences_listed(api):
    run = api.run()
    page = api.ok(api.get(f"/v1/runs/{run}/sequences"))
    assert page == {"items": [], "next_cursor": None, "totals": {"enrolled": 0, "active": 0, "replied": 0, "sent": 0}}


# ---- lead timeline


def test_the_lead_timeline_is_in_order_with_summaries(api, launched, catch_up, services, clock):
    _send(services, clock, launched, "Ann")
    _reply(services, clock, launched, "Ann")
    catch_up()
    ann = launched["leads"]["Ann"]
    enrollment = str(LeadEnrollment.create_id(UUID(launched["sequence"]), UUID(ann)))

    timeline = api.ok(api.get(f"/v1/leads/{ann}/timeline"))
    assert (timeline["lead_id"], timeline["name"], timeline["company"]) == (ann, "Ann Lee", "Ann Co")
    events = timeline["events"]
    assert [e["type"] for e in events[:6]] == [
        "LeadImported",
        "LeadEnrolled",
        "StepScheduled",
        "StepDispatching",
        "MessageSent",
        "ReplyDetected",
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert events[0]["aggregate_id"] == ann and events[0]["sequence_id"] is None
    assert {e["aggregate_id"] for e in events[1:]} == {enrollment}
    assert {(e["sequence_id"], e["sequence_name"]) for e in events[1:]} == {(launched["sequence"], "Intro")}
    assert [e["version"] for e in events[1:]] == list(range(1, len(events)))
    assert events[4]["summary"] == "Step 1 (email) sent"
    assert events[5]["summary"] == "Replied on email"


def test_the_timeline_of_a_lead_the_read_models_lack_yet_is_empty(api, launched):
    ann = launched["leads"]["Ann"]
    assert api.ok(api.get(f"/v1/leads/{ann}/timeline")) == {"lead_id": ann, "name": None, "company": None, "events": []}


def test_read_views_need_a_key(client, launched):
    for path in (
        f"/v1/sequences/{launched['sequence']}/dashboard",
        f"/v1/sequences/{launched['sequence']}/leads",
        f"/v1/runs/{launched['run']}/sequences",
        f"/v1/leads/{launched['leads']['Ann']}/timeline",
    ):
        assert_problem(client.get(path), 401, "unauthorized")
