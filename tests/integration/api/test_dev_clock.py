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
            assert client.get("/v1/dev/clock").status_code == 401
    finally:
        sv.close()


def test_without_a_simulated_clock_the_dev_paths_do_not_exist(api):
    assert_problem(api.get("/v1/dev/clock"), 404, "not_found")
    assert_problem(api.post("/v1/dev/clock/advance", json={"seconds": 60}), 404, "not_found")
