"""`plera demo` end to end on the test database, then `plera history` over what it recorded."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from typing import Any

import pytest

from .conftest import Cli, assert_clean_failure, cli_env

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, subprocess.CompletedProcess[str]]:
    """One demo run for the module: the CLI it ran with and what it printed."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    cli = Cli(env=cli_env(data_dir, database_url), data_dir=data_dir)
    return cli, cli("demo", timeout=120)


@pytest.fixture(scope="module")
def lead_id(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> str:
    _, result = demo
    match = re.search(rf"History of lead ({UUID_RE})", result.stdout)
    assert match, result.stdout
    return match.group(1)


def history(cli: Cli, lead_id: str, *args: str) -> dict[str, Any]:
    result = cli("history", lead_id, "--json", *args)
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_demo_runs_the_scenario_and_prints_what_happened(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> None:
    _, result = demo

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Plera demo" in out
    assert re.search(r"Database: (new|reused, \d+ events already stored)", out)
    # The sequence table: its title with the enrolled count, then the seed's four steps.
    assert "Sequence 'LinkedIn first': active, 7 leads enrolled" in out
    for step in ("Connect on LinkedIn", "First email", "Follow-up", "Final email"):
        assert step in out
    assert "linkedin_invite" in out
    # The history table of the first lead.
    assert re.search(rf"History of lead {UUID_RE}", out)
    for event in ("LeadImported", "LeadEnrolled", "StepScheduled"):
        assert event in out
    assert re.search(r"Workspace key \(for the API\): plera_\S+$", out, re.MULTILINE)


def test_history_json_replays_the_events_in_order_with_the_state(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], lead_id: str
) -> None:
    cli, _ = demo

    body = history(cli, lead_id)

    assert body["lead_id"] == lead_id
    datetime.fromisoformat(body["as_of"])
    events = body["events"]
    assert events, body
    for event in events:
        assert {"at", "type", "aggregate_id", "version", "actor", "data"} <= event.keys()
        assert event["actor"] == "demo"
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)
    types = [e["type"] for e in events]
    assert types[0] == "LeadImported" and events[0]["aggregate_id"] == lead_id
    assert types.index("LeadEnrolled") < types.index("StepScheduled")
    by_aggregate: dict[str, list[int]] = {}
    for event in events:
        by_aggregate.setdefault(event["aggregate_id"], []).append(event["version"])
    for versions in by_aggregate.values():
        assert versions == list(range(versions[0], versions[0] + len(versions)))
    [enrollment] = body["state"]
    assert enrollment["lead_id"] == lead_id
    assert enrollment["status"] == "active"
    assert enrollment["id"] == events[types.index("LeadEnrolled")]["aggregate_id"]


def test_history_as_of_before_the_enrollment_shows_no_enrollment(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], lead_id: str
) -> None:
    cli, _ = demo
    events = history(cli, lead_id)["events"]
    imported_at = next(e["at"] for e in events if e["type"] == "LeadImported")
    enrolled_at = next(e["at"] for e in events if e["type"] == "LeadEnrolled")
    assert datetime.fromisoformat(imported_at) < datetime.fromisoformat(enrolled_at)

    between = history(cli, lead_id, "--as-of", imported_at)
    assert [e["type"] for e in between["events"]] == ["LeadImported"]
    assert between["state"] == []

    before = history(cli, lead_id, "--as-of", "2000-01-01T00:00:00Z")
    assert before["events"] == [] and before["state"] == []
    assert datetime.fromisoformat(before["as_of"]) == datetime.fromisoformat("2000-01-01T00:00:00+00:00")


def test_history_prints_a_table_by_default(demo: tuple[Cli, subprocess.CompletedProcess[str]], lead_id: str) -> None:
    cli, _ = demo

    result = cli("history", lead_id)

    assert result.returncode == 0, result.stderr
    assert f"History of lead {lead_id}" in result.stdout
    assert "LeadImported" in result.stdout and "LeadEnrolled" in result.stdout


def test_history_refuses_bad_arguments_with_a_message(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> None:
    cli, _ = demo

    assert_clean_failure(cli("history", "not-a-uuid"), "bad argument")
    assert_clean_failure(cli("history", "00000000-0000-0000-0000-000000000001", "--as-of", "yesterday"), "yesterday")


def test_history_of_an_unknown_lead_says_there_is_no_such_lead(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    cli, _ = demo

    assert_clean_failure(cli("history", "00000000-0000-0000-0000-000000000001"), "no lead")
