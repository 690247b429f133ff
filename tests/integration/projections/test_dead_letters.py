"""One event a read model cannot take does not stop the read models (decision 0010).

The fault is real: a trigger on `read.leads` refuses one lead's row, as a database would refuse
text it cannot hold. The test runs on a database of its own, since it leaves the read side
degraded on purpose until the fault is removed and `plera projections retry` runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from plera.api import create_app
from plera.clock import FixedClock
from plera.commands.lead_import import parse_json_rows
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL, by_name
from plera.projections.dashboard import sequence_dashboard
from plera.projections.maintenance import rebuild, verify
from plera.projections.retry import retry
from plera.runtime import Services
from plera.settings import Settings

from .world import ACTOR, World, make_world

PLERA = Path(sys.executable).with_name("plera")
LEADS = 3_400  # each brings three events (imported, enrolled, step 1 scheduled): over 10,000 in all
POISON = "Lead1700"

REFUSE = """
CREATE FUNCTION read.refuse_one_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.first_name = '{name}' THEN RAISE EXCEPTION 'this row is refused' USING ERRCODE = 'check_violation'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_one_lead BEFORE INSERT OR UPDATE ON read.leads FOR EACH ROW EXECUTE FUNCTION read.refuse_one_lead();
"""
REMOVE = "DROP TRIGGER refuse_one_lead ON read.leads; DROP FUNCTION read.refuse_one_lead()"


@pytest.fixture
def own(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[Services, FixedClock]]:
    clock = FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    settings = Settings(database_url=empty_database_url, data_dir=tmp_path / "data", secret_key="test-key")
    sv = Services.open(settings, clock=clock)
    yield sv, clock
    sv.close()


def plera(sv: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(sv.settings.data_dir),
        "PLERA_DATABASE_URL": sv.settings.database_url or "",
        "PLERA_DATA_DIR": str(sv.settings.data_dir),
        "PLERA_SECRET_KEY": "test-key",
    }
    return subprocess.run([str(PLERA), *args], env=env, capture_output=True, text=True, timeout=300)


def metric(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def lead_names(sv: Services, world: World) -> set[str]:
    with sv.db.pool.connection() as conn:
        rows = conn.execute("SELECT first_name FROM read.leads WHERE workspace_id = %s", (world.workspace_id,))
        return {r[0] for r in rows.fetchall()}


def dead_letters(sv: Services) -> list[tuple[str, str, int, bool]]:
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT projection, consumer, aggregate_version, held_behind IS NOT NULL FROM read.dead_letters"
            " ORDER BY aggregate_version"
        )
        return [tuple(r) for r in rows.fetchall()]  # type: ignore[misc]


def test_a_poison_event_among_10000_good_ones_waits_aside_while_everything_else_is_applied(own):
    sv, clock = own
    feed = InProcessFeed(sv, ALL)
    with sv.db.pool.connection() as conn:
        conn.execute(REFUSE.format(name=POISON))
    names = [f"Lead{i}" for i in range(LEADS)]
    world = make_world(sv, clock, names)
    # A later event of the poisoned lead (it joins a second group with a title), which must wait behind it.
    group = create_source_group(sv, world.workspace_id, world.run_id, CreateSourceGroup(name="Again"), ACTOR)
    again = {"first_name": POISON, "email": f"{POISON.lower()}@{world.workspace_id.hex[:8]}.example", "title": "CTO"}
    import_leads(sv, world.workspace_id, group.id, parse_json_rows([again]), ACTOR)

    applied = feed.catch_up()

    assert applied > 10_000
    assert lead_names(sv, world) == set(names) - {POISON}  # every other lead, in the same read model
    with sv.db.pool.connection() as conn:
        totals = sequence_dashboard(conn, world.workspace_id, world.sequence_id)["totals"]
    assert totals["enrolled"] == LEADS  # the other read models took the poisoned lead's events too
    assert dead_letters(sv) == [("leads", "embedded", 1, False), ("leads", "embedded", 2, True)]

    with TestClient(create_app(sv)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        check = ready.json()["checks"]["projections"]
        assert check["status"] == "failing" and check["dead_letters"] == {"leads": 2}
        assert "leads: 2 event(s) not applied" in check["detail"] and "leads: 2" in ready.json()["detail"]
        page = client.get("/metrics").text
        assert metric(page, "plera_projection_dead_letters", consumer="embedded", projection="leads") == 2
        assert metric(page, "plera_feed_failing", consumer="embedded") == 0

    verified = plera(sv, "projections", "verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "leads: 2 event(s) not applied" in verified.stdout

    still = plera(sv, "projections", "retry", "leads")  # the fault is still there: nothing changes
    assert still.returncode == 1 and "1 still fail" in still.stdout, still.stdout + still.stderr
    assert len(dead_letters(sv)) == 2

    with sv.db.pool.connection() as conn:
        conn.execute(REMOVE)
    retried = plera(sv, "projections", "retry")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "Applied 2 dead letter(s)" in retried.stdout

    assert dead_letters(sv) == []
    assert lead_names(sv, world) == set(names)
    with sv.db.pool.connection() as conn:
        row = conn.execute("SELECT title, version FROM read.leads WHERE first_name = %s", (POISON,)).fetchone()
    assert row == ("CTO", 2)  # its later event applied after it, not lost
    with TestClient(create_app(sv)) as client:
        assert client.get("/readyz").status_code == 200
    verified = plera(sv, "projections", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_read_models_go_on_after_a_poison_event_and_retry_finds_the_events_it_held(own):
    """The feed's next batches keep holding the poisoned aggregate's events, and only those."""
    sv, clock = own
    feed = InProcessFeed(sv, ALL)
    with sv.db.pool.connection() as conn:
        conn.execute(REFUSE.format(name="Bea"))
    world = make_world(sv, clock, ["Ann", "Bea"])
    feed.catch_up()
    group = create_source_group(sv, world.workspace_id, world.run_id, CreateSourceGroup(name="Later"), ACTOR)
    rows = [
        {"first_name": n, "email": f"{n.lower()}@{world.workspace_id.hex[:8]}.example", "title": "VP"}
        for n in ("Ann", "Bea")
    ]
    import_leads(sv, world.workspace_id, group.id, parse_json_rows(rows), ACTOR)
    feed.catch_up()  # a batch that fails nothing: Bea's new event is held, Ann's applied

    with sv.db.pool.connection() as conn:
        titles = dict(conn.execute("SELECT first_name, title FROM read.leads").fetchall())
        conn.execute(REMOVE)
    assert titles == {"Ann": "VP"}
    assert [(v, held) for _, _, v, held in dead_letters(sv)] == [(1, False), (2, True)]

    done = retry(sv, ALL)
    assert (done.applied, done.failing) == (2, [])
    with sv.db.pool.connection() as conn:
        found = conn.execute("SELECT title FROM read.leads WHERE id = %s", (world.leads["Bea"],)).fetchone()
    assert found == ("VP",)


def test_a_feed_that_cannot_apply_anything_makes_the_service_unready_until_it_recovers(own):
    sv, clock = own
    feed = InProcessFeed(sv, ALL)
    with sv.db.pool.connection() as conn:  # a real fault: the position cannot be written at all
        conn.execute(
            "CREATE FUNCTION read.refuse_positions() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'positions are refused' USING ERRCODE = 'check_violation'; END $$;"
            " CREATE TRIGGER refuse_positions BEFORE INSERT OR UPDATE ON read.positions"
            " FOR EACH ROW EXECUTE FUNCTION read.refuse_positions()"
        )
    make_world(sv, clock, ["Ann"])
    thread, stop = feed.start()
    try:
        with TestClient(create_app(sv)) as client:
            failing = wait_for(lambda: client.get("/readyz"), lambda r: r.status_code == 503)
            check = failing.json()["checks"]["projections"]
            assert [f["consumer"] for f in check["failing_feeds"]] == ["embedded"]
            assert "positions are refused" in check["failing_feeds"][0]["error"]
            assert metric(client.get("/metrics").text, "plera_feed_failing", consumer="embedded") == 1

            with sv.db.pool.connection() as conn:
                conn.execute("DROP TRIGGER refuse_positions ON read.positions; DROP FUNCTION read.refuse_positions()")
            wait_for(lambda: client.get("/readyz"), lambda r: r.status_code == 200)
            assert metric(client.get("/metrics").text, "plera_feed_failing", consumer="embedded") == 0
        assert feed.position() == sv.events.app.recorder.max_notification_id()
    finally:
        stop.set()
        thread.join(timeout=30)


def wait_for(probe, done, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if done(found) or time.monotonic() > deadline:
            assert done(found), found.text
            return found
        time.sleep(0.2)


def test_a_rebuild_that_applies_the_skipped_event_leaves_no_dead_letter_behind(own):
    sv, clock = own
    with sv.db.pool.connection() as conn:
        conn.execute(REFUSE.format(name="Bea"))
    world = make_world(sv, clock, ["Ann", "Bea"])
    InProcessFeed(sv, ALL).catch_up()
    assert len(dead_letters(sv)) == 1

    rebuild(sv, [by_name("leads")])  # the new table has no trigger: the fault went with the old one

    assert dead_letters(sv) == []
    assert lead_names(sv, world) == {"Ann", "Bea"}
    assert verify(sv, ALL) == []
