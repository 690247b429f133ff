"""The simulated clock over HTTP: only with PLERA_CLOCK=simulated; 404 otherwise."""

from __future__ import annotations

from fastapi.testclient import TestClient

from plera.api import create_app
from plera.clock import SimulatedClock
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services
from plera.settings import Settings

from .conftest import assert_problem


def test_the_dev_clock_sets_and_advances_the_shared_simulated_clock(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-key", clock="simulated")
    sv = Services.open(settings)
    try:
        key = create_workspace(sv, CreateWorkspace(name="Clock"), "test").api_key
        auth = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(sv)) as client:
            set_to = client.post("/v1/dev/clock/set", json={"now": "2026-03-02T08:00:00+01:00"}, headers=auth)
            assert set_to.status_code == 200 and set_to.json()["now"].startswith("2026-03-02T07:00:00")
            moved = client.post("/v1/dev/clock/advance", json={"seconds": 86400 * 3}, headers=auth)
            assert moved.json()["now"].startswith("2026-03-05T07:00:00")
            assert client.get("/v1/dev/clock", headers=auth).json()["now"].startswith("2026-03-05T07:00:00")
            other_process = SimulatedClock(sv.db.pool)  # another process on the same database sees the same time
            assert other_process.now().isoformat().startswith("2026-03-05T07:00:00")
            assert_problem(
                client.post("/v1/dev/clock/advance", json={"seconds": -5}, headers=auth), 422, "invalid_request"
            )
            # The schema says a string: a number (which pydantic would read as unix seconds) is refused.
            assert_problem(client.post("/v1/dev/clock/set", json={"now": 0}, headers=auth), 422, "invalid_request")
            assert client.get("/v1/dev/clock").status_code == 401
    finally:
        sv.close()


def test_the_dev_clock_advances_by_a_duration_as_the_cli_writes_it(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-key", clock="simulated")
    sv = Services.open(settings)
    try:
        auth = {"Authorization": f"Bearer {create_workspace(sv, CreateWorkspace(name='By'), 'test').api_key}"}
        with TestClient(create_app(sv)) as client:
            client.post("/v1/dev/clock/set", json={"now": "2026-03-02T08:00:00Z"}, headers=auth)
            moves = [client.post("/v1/dev/clock/advance", json={"by": by}, headers=auth) for by in ("1d", "4h", "90m")]
            assert [m.status_code for m in moves] == [200, 200, 200], [m.text for m in moves]
            assert moves[-1].json()["now"].startswith("2026-03-03T13:30:00")

            for bad in (
                {"by": "3w"},
                {"by": "soon"},
                {"by": "0s"},
                {"by": "401d"},
                {"by": "99999999999d"},
                {"by": "1d", "seconds": 60},
                {},
            ):
                problem = assert_problem(
                    client.post("/v1/dev/clock/advance", json=bad, headers=auth), 422, "invalid_request"
                )
                assert problem["detail"], bad
            assert "not a duration: '3w'" in str(
                client.post("/v1/dev/clock/advance", json={"by": "3w"}, headers=auth).json()
            )
            assert client.get("/v1/dev/clock", headers=auth).json()["now"].startswith("2026-03-03T13:30:00")
    finally:
        sv.close()


def test_without_a_simulated_clock_the_dev_paths_do_not_exist(api):
    assert_problem(api.get("/v1/dev/clock"), 404, "not_found")
    assert_problem(api.post("/v1/dev/clock/advance", json={"seconds": 60}), 404, "not_found")
