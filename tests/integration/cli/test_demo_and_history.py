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
    return cli, cli("demo", timeout=120, COLUMNS="200")  # wide: no table cell wraps


@pytest.fixture(scope="module")
def lead_id(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> str:
    _, result = demo
    match = re.search(rf"History of lead ({UUID_RE})", result.stdout)
    assert match, result.stdout
    return match.group(1)


def table(out: str, title: str) -> list[list[str]]:
    """The body rows of the rich table printed under `title`, each as its stripped cells."""
    lines = out[out.index(title) :].splitlines()
    rows = []
    for line in lines[1:]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


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


def test_the_demo_sends_each_step_in_its_recipients_window_over_simulated_days(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    out = result.stdout
    assert result.returncode == 0, result.stderr

    sent = table(out, "What went out, in each recipient's local time")
    by_lead: dict[str, dict[int, str]] = {}
    for lead, step, channel, at, sender in sent:
        assert sender == "Alex"
        assert channel == ("linkedin_invite" if step == "1" else "email")
        by_lead.setdefault(lead, {})[int(step)] = at
        weekday, _day, _month, clock, _zone = at.split()
        assert weekday in {"Mon", "Tue", "Wed", "Thu", "Fri"}, at
        if channel == "email":  # from 09:00, in the first hour: the sender's spacing orders the queue
            assert clock.startswith("09:"), at
    # The first email three days after Monday's invite (or its skip), at 09:00 where each recipient is;
    # the follow-up two days on falls on Saturday, so Monday; the last one two days later.
    assert by_lead["Kenji Tanaka"] == {
        1: by_lead["Kenji Tanaka"][1],  # at once: the window in Tokyo was open at the launch
        2: "Thu 05 Mar 09:00 JST",
        3: "Mon 09 Mar 09:00 JST",
        4: "Wed 11 Mar 09:00 JST",
    }
    assert by_lead["Kenji Tanaka"][1].startswith("Mon 02 Mar 16:")
    assert by_lead["Priya Patel"] == {2: "Thu 05 Mar 09:00 IST", 3: "Mon 09 Mar 09:00 IST", 4: "Wed 11 Mar 09:00 IST"}
    assert by_lead["Aisha Khan"] == {2: "Thu 05 Mar 09:00 GMT", 3: "Mon 09 Mar 09:00 GMT", 4: "Wed 11 Mar 09:00 GMT"}
    # Los Angeles moves to daylight time on 8 March: still 09:00 there.
    assert by_lead["Sarah Johnson"] == {
        1: "Mon 02 Mar 09:00 PST",
        2: "Thu 05 Mar 09:00 PST",
        3: "Mon 09 Mar 09:00 PDT",
        4: "Wed 11 Mar 09:00 PDT",
    }
    assert sorted(by_lead["Lena Fischer"]) == [1, 2, 3, 4]
    assert by_lead["Diego Martinez"].keys() == {1}  # no email address
    assert len(sent) == 21

    skipped = {(lead, int(step)): why for lead, step, _at, why in table(out, "Steps skipped")}
    assert skipped[("Aisha Khan", 1)] == skipped[("Priya Patel", 1)] == "no LinkedIn URL"
    assert {skipped[("Diego Martinez", n)] for n in (2, 3, 4)} == {"no email address"}


def test_a_reply_in_the_demo_stops_that_leads_follow_ups(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> None:
    _, result = demo
    out = result.stdout

    came_back = {(lead, what): at for lead, what, at in table(out, "What came back")}
    replied_at = came_back[("Marco Rossi", "replied to the first email")]
    assert replied_at.startswith("Thu 05 Mar ") and replied_at.endswith(" CET")
    assert came_back[("Sarah Johnson", "accepted the LinkedIn invite")] == "Tue 03 Mar 11:00 PST"

    marco_sent = [int(step) for lead, step, *_ in table(out, "What went out") if lead == "Marco Rossi"]
    assert marco_sent == [1, 2]
    marco_skipped = [
        (int(step), at, why) for lead, step, at, why in table(out, "Steps skipped") if lead == "Marco Rossi"
    ]
    assert marco_skipped == [(3, replied_at, "replied"), (4, replied_at, "replied")]
    assert (
        "The SMTP sink received 16 emails and the LinkedIn sandbox 5 invitations (1 accepted)."
        " Leads: 6 completed, 1 stopped." in out
    )


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
        assert event["actor"] in {"demo", "worker"}  # the demo built and launched; the worker sent
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
    # Lena (Berlin) went through all four steps in the simulated days.
    assert types.count("MessageSent") == 4
    assert all(e["actor"] == "worker" for e in events if e["type"] in ("StepDispatching", "MessageSent"))
    [enrollment] = body["state"]
    assert enrollment["lead_id"] == lead_id
    assert enrollment["status"] == "completed"
    assert [s["status"] for s in enrollment["steps"]] == ["sent"] * 4
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
