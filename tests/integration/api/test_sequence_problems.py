"""A sequence says what keeps its leads from going on (GET /v1/sequences/{id} and its dashboard), and
how long a due step waits on a stopped sender before it moves to another (sender_failover_hours)."""

from tests.integration.api.conftest import TWO_STEPS, assert_problem

PEOPLE = [{"first_name": "Ann", "email": "ann@example.com"}, {"first_name": "Ben", "email": "ben@example.com"}]


def launched(api):
    run = api.run()
    group = api.group(run)
    api.import_leads(group, PEOPLE)
    api.enrich(group)
    sequence = api.sequence(run, [group], steps=TWO_STEPS)
    api.launch(sequence)
    return sequence


def test_a_paused_sender_shows_as_a_problem_with_its_reason_and_its_waiting_leads_and_as_failed_steps(api, catch_up):
    sequence = launched(api)
    catch_up()
    assert api.ok(api.get(f"/v1/sequences/{sequence}"))["problems"] == []
    (email_sender,) = api.ok(api.get(f"/v1/sequences/{sequence}"))["senders"]["email"]

    api.ok(api.post(f"/v1/sender-accounts/{email_sender}/pause", json={"reason": "login refused: 535"}))
    catch_up()

    expected = {
        "code": "sender_paused",
        "detail": "Test email is paused (login refused: 535): 2 leads wait on it",
        "sender_id": email_sender,
        "sender_name": "Test email",
        "reason": "login refused: 535",
        "leads_waiting": 2,
        "sends": None,
        "steps": [1],
    }
    assert api.ok(api.get(f"/v1/sequences/{sequence}"))["problems"] == [expected]
    board = api.ok(api.get(f"/v1/sequences/{sequence}/dashboard"))
    assert board["problems"] == [expected]
    assert [step["failed"] for step in board["steps"]] == [2, 0]

    api.ok(api.post(f"/v1/sender-accounts/{email_sender}/resume"))
    catch_up()
    board = api.ok(api.get(f"/v1/sequences/{sequence}/dashboard"))
    assert board["problems"] == [] and [step["failed"] for step in board["steps"]] == [0, 0]


def test_the_failover_wait_is_a_sequence_setting_of_24_hours_by_default(api):
    sequence = launched(api)
    assert api.ok(api.get(f"/v1/sequences/{sequence}"))["settings"]["sender_failover_hours"] == 24

    changed = api.ok(api.patch(f"/v1/sequences/{sequence}", json={"settings": {"sender_failover_hours": 4}}))

    assert changed["settings"]["sender_failover_hours"] == 4
    assert_problem(
        api.patch(f"/v1/sequences/{sequence}", json={"settings": {"sender_failover_hours": -1}}), 422, "invalid_request"
    )
