from datetime import timedelta

from tests.integration.api.conftest import assert_problem


def test_the_workspace_shows_its_settings_and_its_webhook_secret_only_on_get(api):
    shown = api.ok(api.get("/v1/workspace"))
    assert shown["id"] == str(api.workspace_id)
    assert shown["window_start"] == "09:00" and shown["window_end"] == "17:00"
    assert shown["sending_days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert len(shown["webhook_secret"]) >= 32

    changed = api.ok(
        api.patch(
            "/v1/workspace", json={"timezone": "Europe/Berlin", "window_start": "08:30", "holiday_countries": ["DE"]}
        )
    )
    assert changed["timezone"] == "Europe/Berlin" and changed["window_start"] == "08:30"
    assert changed["holiday_countries"] == ["DE"]
    assert shown["out_of_office_pause_days"] == 7
    assert api.ok(api.patch("/v1/workspace", json={"out_of_office_pause_days": 3}))["out_of_office_pause_days"] == 3
    assert "webhook_secret" not in changed
    assert shown["webhook_secret"] not in api.patch("/v1/workspace", json={}).text


def test_workspace_settings_that_break_a_rule_are_refused(api):
    assert_problem(api.patch("/v1/workspace", json={"window_start": "18:00"}), 422, "invalid_value")
    assert_problem(api.patch("/v1/workspace", json={"sending_days": ["someday"]}), 422, "invalid_request")
    assert_problem(api.patch("/v1/workspace", json={"name": "  "}), 422, "invalid_request")
    assert_problem(api.patch("/v1/workspace", json={"out_of_office_pause_days": 0}), 422, "invalid_request")
    assert_problem(api.patch("/v1/workspace", json={"out_of_office_pause_days": "a week"}), 422, "invalid_request")
    assert api.ok(api.get("/v1/workspace"))["window_start"] == "09:00"


def test_a_run_is_created_read_and_archived(api):
    created = api.ok(api.post("/v1/runs", json={"name": "  Q1 outbound "}), 201)
    assert created["name"] == "Q1 outbound" and created["status"] == "active"
    assert api.ok(api.get(f"/v1/runs/{created['id']}")) == created
    archived = api.ok(api.post(f"/v1/runs/{created['id']}/archive"))
    assert archived["status"] == "archived"
    assert api.ok(api.post(f"/v1/runs/{created['id']}/archive"))["status"] == "archived"  # a no-op
    refused = api.post(f"/v1/runs/{created['id']}/source-groups", json={"name": "late"})
    assert_problem(refused, 409, "run_archived")


def test_runs_list_by_status_and_page_by_cursor(api, catch_up):
    ids = []
    for n in range(5):
        ids.append(api.run(f"Run {n}"))
    api.post(f"/v1/runs/{ids[1]}/archive")
    catch_up()

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.ok(api.get("/v1/runs", params=params))
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)  # each run once, none missing
    assert pages == 3

    active = api.ok(api.get("/v1/runs", params={"status": "active"}))["items"]
    assert ids[1] not in [r["id"] for r in active] and len(active) == 4
    archived = api.ok(api.get("/v1/runs", params={"status": "archived"}))["items"]
    assert [(r["id"], r["status"]) for r in archived] == [(ids[1], "archived")]
    assert {"id", "name", "status", "created_at", "version"} <= archived[0].keys()


def test_a_run_list_is_oldest_first(api, catch_up, clock):
    first = api.run("first")
    clock.advance(timedelta(seconds=1))
    second = api.run("second")
    catch_up()
    items = api.ok(api.get("/v1/runs"))["items"]
    assert [r["id"] for r in items] == [first, second]
