"""`plera demo` end to end on the test database, then `plera history` over what it recorded."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest

from .conftest import Cli, assert_clean_failure, cli_env

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, subprocess.CompletedProcess[str]]:
    """One demo run for the module: the CLI it ran with and what it printed."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    cli = Cli(env=cli_env(data_dir, database_url), data_dir=data_dir)
    return cli, cli("demo", timeout=120)  # into a pipe, as into a file: no COLUMNS, no terminal


@pytest.fixture(scope="module")
def lead_id(workspace: Workspace) -> str:
    return workspace.lead("Lena Fischer")  # she goes through all four steps


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


def sent_by_lead(out: str) -> dict[str, dict[int, str]]:
    """The "What went out" table: lead → step → when, in the recipient's time."""
    found: dict[str, dict[int, str]] = {}
    for lead, step, channel, at, sender in table(out, "What went out, in each recipient's local time"):
        assert sender == "Alex"
        assert channel == ("LinkedIn invite" if step == "1" else "email")
        found.setdefault(lead, {})[int(step)] = at
    return found


def steps_not_sent(out: str) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(lead, step) → (when, status, why)."""
    rows = table(out, "Steps that did not go out, and why")
    return {(lead, int(step)): (at, status, why) for lead, step, _channel, status, at, why in rows}


def reactions(out: str) -> dict[str, tuple[str, ...]]:
    """lead → (what, to step, when, Plera's answer)."""
    return {lead: tuple(rest) for lead, *rest in table(out, "What came back")}


def course(out: str) -> dict[str, list[tuple[str, ...]]]:
    """lead → [(when, what, by)] from the lead timeline, in time order."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for lead, *rest in table(out, "How the leads' courses changed"):
        found.setdefault(lead, []).append(tuple(rest))
    return found


@dataclass(frozen=True)
class Workspace:
    """The workspace the demo made, found by its printed API key, and its leads by name."""

    leads: dict[str, str]

    def lead(self, name: str) -> str:
        return self.leads[name]


@pytest.fixture(scope="module")
def workspace(demo: tuple[Cli, subprocess.CompletedProcess[str]], database_url: str) -> Workspace:
    _, result = demo
    key = re.search(r"Workspace key \(for the API\): (plera_\S+)", result.stdout)
    assert key, result.stdout
    workspace_id = uuid.UUID(hex=key.group(1).split("_")[1])
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT name, id FROM read.leads WHERE workspace_id = %s", (workspace_id,)).fetchall()
    return Workspace({name: str(lead_id) for name, lead_id in rows})


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
    assert "LinkedIn invite" in out
    assert re.search(r"Workspace key \(for the API\): plera_\S+$", out, re.MULTILINE)


WHEN = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2}:\d{2} [A-Z]{3,4}\b"
KEY = re.compile(r"^Workspace key \(for the API\): plera_\S+$", re.MULTILINE)


def test_the_demo_names_leads_and_no_ids_and_uses_no_internal_words(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    assert result.returncode == 0, result.stderr
    key = KEY.search(result.stdout)
    assert key, result.stdout
    out = result.stdout.replace(key.group(0), "")  # the key must be printed whole: it is all that is left out

    assert not re.search(UUID_RE, out)
    assert re.findall(r"(?<![\w-])[0-9a-f]{8,}(?![\w-])", out) == []  # no fragment of an id either
    assert re.findall(r"clock moves|read model|enrollment|aggregate", out, re.IGNORECASE) == []
    leads = [row[0] for row in table(out, "Leads")]
    assert leads == sorted(leads) and "Lena Fischer" in leads and len(leads) == 7


def test_the_demo_prints_every_time_in_one_format(demo: tuple[Cli, subprocess.CompletedProcess[str]]) -> None:
    _, result = demo
    out = result.stdout

    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", out)  # no ISO 8601 anywhere
    clock_times = re.findall(r"(?<![\d.:])\d{2}:\d{2}(?![\d:])", out)
    assert len(clock_times) > 50
    assert len(re.findall(WHEN, out)) == len(clock_times)  # each one as "Thu 05 Mar 09:00 JST"


def test_the_demo_tells_things_in_the_order_they_happen_and_ends_with_a_history_in_words(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    out = result.stdout

    order = [
        "Imported 7 leads",
        "would receive (drafts written offline, not yet approved)",
        "Ready to launch: yes",
        "Sequence 'LinkedIn first': active",
        "Running the sequence",
        "What went out",
        "Marco Rossi's history",
        "The demo's API at http://127.0.0.1:",
        "Workspace key (for the API)",
    ]
    assert [out.index(part) for part in order] == sorted(out.index(part) for part in order)
    assert "  warning: 1 lead has no email address: it skips steps 2, 3 and 4" in out
    assert "  warning: 2 leads have no LinkedIn URL: they skip step 1" in out
    assert re.search(r"The demo's API at http://127\.0\.0\.1:\d+ stopped with the demo\.", out)

    told = table(out, "Marco Rossi's history")
    assert all(re.fullmatch(WHEN, when) for when, _ in told), told
    said = [what for _, what in told]
    assert said[:4] == [
        "imported from the sample CSV",
        "entered the sequence 'LinkedIn first'",
        "step 1 (LinkedIn invite) went out from Alex",
        "step 2 (email) went out from Alex",
    ]
    assert "replied by email" in said and "the sequence stopped for them: replied" in said
    assert any(what.startswith("their email came in: “Hi Alex, Good timing") for what in said)
    assert told[said.index("replied by email")][0] == reactions(out)["Marco Rossi"][2]


def test_the_demos_tables_keep_one_line_a_row_when_printed_to_a_file(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]

    assert len(rows) > 60
    assert [row for row in rows if not row.strip("│").split("│")[0].strip()] == []  # a wrapped cell leaves it empty


def test_the_demo_sends_each_step_in_its_recipients_window_over_simulated_days(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    out = result.stdout
    assert result.returncode == 0, result.stderr

    by_lead = sent_by_lead(out)
    for lead, steps in by_lead.items():
        for step, at in steps.items():
            weekday, _day, _month, clock, _zone = at.split()
            assert weekday in {"Mon", "Tue", "Wed", "Thu", "Fri"}, (lead, at)
            if step > 1:  # from 09:00, in the first hour: the sender's spacing orders the queue
                assert clock.startswith("09:"), (lead, at)
    # The first email three days after Monday's invite (or its skip), at 09:00 where each recipient is;
    # the follow-up two days on falls on Saturday, so Monday; the last one two days later.
    # Los Angeles moves to daylight time on 8 March: still 09:00 there.
    assert by_lead["Sarah Johnson"] == {
        1: "Mon 02 Mar 09:00 PST",
        2: "Thu 05 Mar 09:00 PST",
        3: "Mon 09 Mar 09:00 PDT",
        4: "Wed 11 Mar 09:00 PDT",
    }
    assert by_lead["Kenji Tanaka"][1].startswith("Mon 02 Mar 16:")  # at once: Tokyo's window was open
    assert by_lead["Kenji Tanaka"][2] == "Thu 05 Mar 09:00 JST"
    assert sorted(by_lead["Lena Fischer"]) == [1, 2, 3, 4]
    assert by_lead["Diego Martinez"].keys() == {1}  # no email address
    assert len(table(out, "What went out, in each recipient's local time")) == 18  # each (lead, step) once
    assert len([step for steps in by_lead.values() for step in steps]) == 18

    not_sent = steps_not_sent(out)
    assert not_sent[("Aisha Khan", 1)][1:] == not_sent[("Priya Patel", 1)][1:] == ("skipped", "no LinkedIn URL")
    assert {not_sent[("Diego Martinez", n)][1:] for n in (2, 3, 4)} == {("skipped", "no email address")}


def test_a_reply_through_the_webhook_stops_that_leads_follow_ups(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], workspace: Workspace
) -> None:
    cli, result = demo
    out = result.stdout

    came_back = reactions(out)
    what, step, replied_at, answer = came_back["Marco Rossi"]
    assert (what, step, answer) == ("replied", "2", "202 reply")
    assert replied_at.startswith("Thu 05 Mar ") and replied_at.endswith(" CET")
    assert came_back["Sarah Johnson"] == ("accepted the LinkedIn invite", "1", "Tue 03 Mar 11:00 PST", "202")

    assert sorted(sent_by_lead(out)["Marco Rossi"]) == [1, 2]
    not_sent = steps_not_sent(out)
    assert [not_sent[("Marco Rossi", n)] for n in (3, 4)] == [(replied_at, "skipped", "replied")] * 2
    assert (replied_at, "the sequence stopped for them: replied", "webhook") in course(out)["Marco Rossi"]

    events = history(cli, workspace.lead("Marco Rossi"))["events"]
    replied = next(e for e in events if e["type"] == "ReplyDetected")
    assert replied["actor"] == "webhook" and replied["data"]["channel"] == "email"
    assert [e["data"]["step"] for e in events if e["type"] == "StepSkipped"] == [3, 4]
    assert [e["data"]["step"] for e in events if e["type"] == "MessageSent"] == [1, 2]


def test_an_out_of_office_pauses_the_lead_until_the_worker_wakes_it_after_the_return_date(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], workspace: Workspace
) -> None:
    cli, result = demo
    out = result.stdout

    what, step, away_at, answer = reactions(out)["Kenji Tanaka"]
    assert (what, step, away_at, answer) == (
        "out-of-office auto-reply, back Mon 09 Mar",
        "2",
        "Thu 05 Mar 09:02 JST",
        "202 auto_reply",
    )
    kenji = course(out)["Kenji Tanaka"]
    assert kenji == [
        (away_at, "out of office: paused until Tue 10 Mar 09:00 JST (not a reply)", "webhook"),
        ("Tue 10 Mar 09:00 JST", "back: the sequence goes on", "worker"),  # 00:00 UTC on the day after the return
    ]
    # The follow-up was due Monday 9 March; it went out once the lead was back, and the last one after it.
    kenji_sent = sent_by_lead(out)["Kenji Tanaka"]
    assert kenji_sent.keys() == {1, 2, 3, 4}
    assert kenji_sent[1].startswith("Mon 02 Mar 16:")  # at once: Tokyo's window was open
    assert {n: kenji_sent[n] for n in (2, 3, 4)} == {
        2: "Thu 05 Mar 09:00 JST",
        3: "Tue 10 Mar 09:00 JST",
        4: "Thu 12 Mar 09:00 JST",
    }

    events = history(cli, workspace.lead("Kenji Tanaka"))["events"]
    types = [e["type"] for e in events]
    away, back = types.index("OutOfOfficeDetected"), types.index("EnrollmentResumed")
    assert events[away]["actor"] == "webhook" and events[back]["actor"] == "worker"
    assert "ReplyDetected" not in types  # an auto-reply is not a reply
    sent_after_away = [e["data"]["step"] for e in events[away:] if e["type"] == "MessageSent"]
    assert sent_after_away == [3, 4]
    assert types.index("MessageSent", away) > back  # nothing went out while away
    assert datetime.fromisoformat(events[back]["at"]) >= datetime.fromisoformat(events[away]["data"]["until"])


def test_a_hard_bounce_suppresses_the_address_and_ends_the_email_steps(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], workspace: Workspace
) -> None:
    cli, result = demo
    out = result.stdout

    what, step, bounced_at, answer = reactions(out)["Aisha Khan"]
    assert (what, step, bounced_at, answer) == (
        "email bounced (5.1.1 user unknown)",
        "2",
        "Thu 05 Mar 09:01 GMT",
        "202 bounce",
    )
    assert sent_by_lead(out)["Aisha Khan"] == {2: "Thu 05 Mar 09:00 GMT"}  # it went out, then came back
    not_sent = steps_not_sent(out)
    at, status, why = not_sent[("Aisha Khan", 2)]
    assert (at, status) == (bounced_at, "bounced") and "5.1.1" in why
    for n in (3, 4):
        assert not_sent[("Aisha Khan", n)] == (bounced_at, "skipped", f"email bounced: {why}")
    suppressed = {row[1]: row for row in table(out, "Suppression list")}
    assert suppressed["aisha@fabrikam.example"][:3] == ["email", "aisha@fabrikam.example", "hard_bounce"]

    events = history(cli, workspace.lead("Aisha Khan"))["events"]
    [bounce] = [e for e in events if e["type"] == "MessageBounced"]
    assert bounce["data"]["hard"] is True and bounce["data"]["step"] == 2 and bounce["actor"] == "webhook"


def test_the_one_click_unsubscribe_suppresses_and_stops_the_lead(
    demo: tuple[Cli, subprocess.CompletedProcess[str]], workspace: Workspace
) -> None:
    cli, result = demo
    out = result.stdout

    what, step, clicked_at, answer = reactions(out)["Priya Patel"]
    assert (what, step, clicked_at, answer) == ("clicked the one-click unsubscribe", "3", "Mon 09 Mar 11:00 IST", "200")
    assert sent_by_lead(out)["Priya Patel"] == {2: "Thu 05 Mar 09:00 IST", 3: "Mon 09 Mar 09:00 IST"}
    assert steps_not_sent(out)[("Priya Patel", 4)] == (clicked_at, "not sent", "lead stopped: unsubscribed")
    assert course(out)["Priya Patel"] == [(clicked_at, "the sequence stopped for them: unsubscribed", "unsubscribe")]
    suppressed = {row[1]: row for row in table(out, "Suppression list")}
    assert suppressed["priya.patel@wingtip.example"][2] == "unsubscribe"
    assert len(suppressed) == 2

    events = history(cli, workspace.lead("Priya Patel"))["events"]
    [stopped] = [e for e in events if e["type"] == "EnrollmentStopped"]
    assert stopped["data"]["reason"] == "unsubscribed" and stopped["actor"] == "unsubscribe"
    assert [e["data"]["step"] for e in events if e["type"] == "MessageSent"] == [2, 3]


def test_the_inbox_shows_the_reply_the_out_of_office_and_the_bounce(
    demo: tuple[Cli, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo
    out = result.stdout

    assert "Alex read 1 reply in the inbox." in out
    assert "The unified inbox: 11 threads, 2 unread" in out
    threads = {(lead, channel): rest for lead, channel, *rest in table(out, "The unified inbox")}
    assert len(threads) == 11  # an email thread for each lead emailed, a LinkedIn one for each invited
    marco = threads[("Marco Rossi", "email")]
    assert marco[:2] == ["read", "replied"] and marco[3] == "them (reply)" and marco[4].startswith("Hi Alex")
    aisha = threads[("Aisha Khan", "email")]
    assert aisha[:2] == ["unread", "bounced"] and aisha[3] == "them (bounce)"
    kenji = threads[("Kenji Tanaka", "email")]
    assert kenji[:2] == ["unread", "ooo"] and kenji[2] == "Thu 12 Mar 09:00 JST" and kenji[3] == "us"
    assert threads[("Priya Patel", "email")][:2] == ["read", ""]  # an unsubscribe click writes no message
    assert [rest[0] for rest in threads.values()].count("unread") == 2

    assert (
        "The SMTP sink received 13 emails and the LinkedIn sandbox 5 invitations (1 accepted)."
        " Leads: 5 completed, 2 stopped." in out
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
