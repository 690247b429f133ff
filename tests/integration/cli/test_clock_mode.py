"""The clock a database runs on is kept in it: a process started without PLERA_CLOCK follows the service,
and `plera history` shows every event, whatever clock stamped them."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .conftest import KEY_LINE, Cli, assert_clean_failure, cli_env, free_port, kill_postmasters, wait_until_healthy

FUTURE = "2031-01-06T08:00:00+00:00"  # simulated time far ahead of the wall clock: "up to now" would hide it all


def history(cli: Cli, lead_id: str, *args: str) -> dict[str, Any]:
    result = cli("history", lead_id, "--json", *args)
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_a_fresh_shell_follows_the_simulated_service_and_its_history_shows_every_event(
    fresh_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shell = Cli(env=cli_env(data_dir, fresh_database_url), data_dir=data_dir)  # no PLERA_CLOCK at all
    service = Cli(env={**shell.env, "PLERA_CLOCK": "simulated"}, data_dir=data_dir)
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        out, err = tmp_path / "up.out", tmp_path / "up.err"
        wait_until_healthy(service.start("up", "--port", str(port), stdout=out, stderr=err), base, err)
        key = KEY_LINE.search(out.read_text())
        assert key, out.read_text()
        assert "The clock is simulated" in out.read_text()
        api = httpx.Client(base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key.group(1)}"}, timeout=30)

        moved = shell("clock", "set", FUTURE)  # no PLERA_CLOCK: the database says simulated
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.strip() == FUTURE

        run = api.post("/runs", json={"name": "Q1"}).json()["id"]
        first = api.post(f"/runs/{run}/source-groups", json={"name": "First"}).json()["id"]
        lena = {"first_name": "Lena", "email": "lena@example.com", "timezone": "Europe/Berlin"}
        lead_id = api.post(f"/source-groups/{first}/leads", json={"leads": [lena]}).json()["lead_ids"][0]
        assert api.post("/dev/clock/advance", json={"by": "1d"}).json()["now"].startswith("2031-01-07T08:00:00")
        second = api.post(f"/runs/{run}/source-groups", json={"name": "Second"}).json()["id"]
        again = api.post(f"/source-groups/{second}/leads", json={"leads": [lena]}).json()
        assert again["existing"] == 1, again  # the same person: an event on the same lead, a day later

        body = history(shell, lead_id)
        times = [datetime.fromisoformat(e["at"]) for e in body["events"]]
        assert len(times) == 2, body
        assert times[0] == datetime.fromisoformat(FUTURE) and times[1] > times[0]
        assert datetime.fromisoformat(body["as_of"]) == times[-1]  # no as_of asked: the last event's time

        served = api.get(f"/leads/{lead_id}/history").json()
        assert [e["at"] for e in served["events"]] == [e["at"] for e in body["events"]]
        assert served["as_of"] == body["as_of"] and served["state"] == []

        assert len(history(shell, lead_id, "--as-of", FUTURE)["events"]) == 1
        assert api.get(f"/leads/{lead_id}/history", params={"as_of": FUTURE}).json()["as_of"].startswith("2031-01-06")

        # A process asking for the other clock would stamp its events on it: refused, with what to do.
        assert_clean_failure(shell("clock", "advance", "1d", PLERA_CLOCK="system"), "simulated clock", "unset")
        assert shell("clock", "advance", "1h").stdout.strip() == "2031-01-07T09:00:00+00:00"
        production = {"PLERA_ENV": "production", "PLERA_PUBLIC_URL": "https://plera.example", "PLERA_SECRET_KEY": "k"}
        assert_clean_failure(shell("history", lead_id, **production), "simulated clock is refused in production")
        api.close()
    finally:
        shell.stop_all()
        service.stop_all()


def test_a_shell_with_neither_data_folder_nor_database_says_which_data_folder_it_used(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLERA_")}
    data_dir = tmp_path / "xdg" / "plera"  # platformdirs' per-user data folder under XDG_DATA_HOME
    shell = Cli(env={**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}, data_dir=data_dir)
    try:
        result = shell("history", "00000000-0000-0000-0000-000000000001", timeout=180)  # starts an embedded server

        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.splitlines()[0] == f"using data folder {data_dir}"
        assert "no lead" in result.stderr
    finally:
        kill_postmasters(data_dir / "pg")
