import pytest

from tests.integration.api.conftest import TWO_STEPS, assert_problem

LEADS = [{"email": "ada@example.com"}, {"email": "grace@example.com"}]


@pytest.fixture
def draft(api):
    run = api.run()
    group = api.group(run)
    lead_ids = api.import_leads(group, LEADS)["lead_ids"]
    api.enrich(group)
    return {"run": run, "group": group, "leads": lead_ids, "sequence": api.sequence(run, [group])}


def _body(run_id, **changes):
    return {"run_id": run_id, "name": "Intro", "steps": TWO_STEPS} | changes


def test_a_new_sequence_is_a_draft_with_numbered_steps(api):
    run = api.run()
    created = api.ok(api.post("/v1/sequences", json=_body(run)), 201)
    assert created["status"] == "draft"
    assert [(s["step"], s["channel"], s["delay_days"]) for s in created["steps"]] == [(1, "email", 0), (2, "email", 3)]
    assert created["settings"] == {
        "company_stop": "off",
        "daily_new_leads": None,
        "invite_without_note": False,
        "sender_failover_hours": 24,
    }
    assert api.ok(api.get(f"/v1/sequences/{created['id']}")) == created


@pytest.mark.parametrize(
    ("steps", "where"),
    [
        ([{"channel": "fax", "delay_days": 0}], ["body", "steps", 0, "channel"]),
        ([{"channel": "email", "delay_days": -1}], ["body", "steps", 0, "delay_days"]),
        ([{"channel": "email", "delay_days": 1.5}], ["body", "steps", 0, "delay_days"]),
        ([{"channel": "email", "delay_days": 0, "condition": "sometimes"}], ["body", "steps", 0, "condition"]),
        ([{"channel": "email", "delay_days": 0, "wait": 1}], ["body", "steps", 0, "wait"]),
        ([], ["body", "steps"]),
    ],
    ids=["unknown-channel", "negative-delay", "fractional-delay", "unknown-condition", "unknown-field", "no-steps"],
)
def test_bad_steps_are_refused_with_their_place(api, steps, where):
    body = assert_problem(api.post("/v1/sequences", json=_body(api.run(), steps=steps)), 422, "invalid_request")
    assert body["errors"][0]["loc"] == where


def test_a_sequence_without_steps_or_with_bad_settings_is_refused(api):
    run = api.run()
    no_steps = {"run_id": run, "name": "Intro"}
    assert_problem(api.post("/v1/sequences", json=no_steps), 422, "invalid_request")
    bad = _body(run, settings={"company_stop": "maybe"})
    assert_problem(api.post("/v1/sequences", json=bad), 422, "invalid_request")
    assert_problem(api.post("/v1/sequences", json=_body("not-a-uuid")), 422, "invalid_request")
    assert_problem(api.post("/v1/sequences", json=_body(run, source_group_ids=["nope"])), 422, "invalid_request")


def test_a_sequence_refers_only_to_its_own_runs_groups(api):
    run, other_run = api.run(), api.run("other")
    foreign_group = api.group(other_run)
    assert_problem(api.post("/v1/sequences", json=_body(run, source_group_ids=[foreign_group])), 422, "invalid_value")
    missing = "0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11"
    assert_problem(api.post("/v1/sequences", json=_body(missing)), 404, "not_found")
    assert_problem(api.post("/v1/sequences", json=_body(run, strategy_profile_id=missing)), 404, "not_found")


def test_the_sequence_lifecycle(api, draft):
    seq = draft["sequence"]
    assert_problem(api.post(f"/v1/sequences/{seq}/pause"), 409, "sequence_not_active")  # a draft cannot pause

    launched = api.launch(seq)
    assert (launched["status"], launched["enrolled"]) == ("active", 2)
    paused = api.ok(api.post(f"/v1/sequences/{seq}/pause"))
    assert paused["status"] == "paused"
    again = api.ok(api.post(f"/v1/sequences/{seq}/pause"))
    assert again["status"] == "paused" and again["version"] == paused["version"]  # a no-op
    assert api.ok(api.post(f"/v1/sequences/{seq}/resume"))["status"] == "active"
    archived = api.ok(api.post(f"/v1/sequences/{seq}/archive"))
    assert archived["status"] == "archived"
    assert api.ok(api.post(f"/v1/sequences/{seq}/archive"))["version"] == archived["version"]
    assert_problem(api.post(f"/v1/sequences/{seq}/resume"), 409, "sequence_archived")
    assert api.ok(api.get(f"/v1/sequences/{seq}"))["status"] == "archived"


def test_steps_change_only_while_draft(api, draft):
    seq = draft["sequence"]
    reordered = [TWO_STEPS[1] | {"name": "bump"}, TWO_STEPS[0]]
    changed = api.ok(api.patch(f"/v1/sequences/{seq}", json={"steps": reordered, "name": "Intro v2"}))
    assert [(s["step"], s["name"]) for s in changed["steps"]] == [(1, "bump"), (2, None)]
    assert changed["name"] == "Intro v2"

    api.launch(seq)
    refused = api.patch(f"/v1/sequences/{seq}", json={"steps": TWO_STEPS})
    assert_problem(refused, 409, "sequence_not_draft")
    unchanged = [
        {k: v for k, v in s.items() if k != "message"} for s in api.ok(api.get(f"/v1/sequences/{seq}"))["steps"]
    ]
    assert unchanged == [{k: v for k, v in s.items() if k != "message"} for s in changed["steps"]]
    renamed = api.ok(api.patch(f"/v1/sequences/{seq}", json={"name": "Live", "settings": {"daily_new_leads": 20}}))
    assert renamed["name"] == "Live" and renamed["settings"]["daily_new_leads"] == 20
    assert_problem(api.patch(f"/v1/sequences/{seq}", json={"steps": []}), 422, "invalid_request")
    assert_problem(api.patch(f"/v1/sequences/{seq}", json={"status": "draft"}), 422, "invalid_request")


def test_launching_twice_enrolls_once(api, draft):
    seq = draft["sequence"]
    assert api.launch(seq)["enrolled"] == 2
    again = api.launch(seq)
    assert (again["status"], again["enrolled"]) == ("active", 0)
    for lead in draft["leads"]:
        assert len(api.enrollments_of(lead)) == 1


def test_a_group_enriched_after_launch_enrolls_its_leads_once(api):
    run = api.run()
    early, late = api.group(run, "early"), api.group(run, "late")
    api.import_leads(early, [{"email": "ada@example.com"}])
    api.enrich(early)
    late_leads = api.import_leads(late, LEADS + [{"email": "linus@example.com"}])["lead_ids"]
    seq = api.sequence(run, [early, late])
    assert api.launch(seq)["enrolled"] == 1  # the late group is not enriched yet; ada is in early

    enriched = api.enrich(late)
    assert enriched == {"id": late, "enriched": True, "enrolled": 2}  # ada is enrolled already
    assert api.enrich(late)["enrolled"] == 0
    more = api.import_leads(late, [{"email": "ken@example.com"}, {"email": "linus@example.com"}])
    assert more["enrolled"] == 1  # an arrival in an enriched group joins at once
    for lead in late_leads:
        assert [e["sequence_id"] for e in api.enrollments_of(lead)] == [seq]


def test_sequences_list_by_run(api, catch_up):
    run, other = api.run(), api.run("other")
    first = api.sequence(run, [])
    second = api.sequence(run, [])
    elsewhere = api.sequence(other, [])
    api.launch(second)
    catch_up()
    listed = api.ok(api.get("/v1/sequences", params={"run_id": run}))
    assert sorted(s["id"] for s in listed["items"]) == sorted([first, second])
    by_id = {s["id"]: s for s in listed["items"]}
    assert by_id[second]["status"] == "active" and by_id[first]["status"] == "draft"
    assert [s["step"] for s in by_id[first]["steps"]] == [1, 2]
    everything = api.ok(api.get("/v1/sequences"))["items"]
    assert {first, second, elsewhere} == {s["id"] for s in everything}
    active = api.ok(api.get("/v1/sequences", params={"status": "active"}))["items"]
    assert [s["id"] for s in active] == [second]
