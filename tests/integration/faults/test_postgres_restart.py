"""PostgreSQL crashes and comes back while the service sends and while its read models are fed.

`plera up` runs as a real process on a PostgreSQL of the test's own, which the test stops at once
(as a power cut would: `pg_ctl -m immediate`) and starts again. What must hold: nothing is sent
twice, no due step is lost (each is sent, or shows as an unknown outcome), and once the feed has
caught up the read models equal a rebuild from the event store.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from plera.consumers.lag import event_store_head, stored_positions
from plera.runtime import Services

from .counting import tally
from .private_postgres import PrivatePostgres
from .service import Campaign, ClockDriver, free_port, open_services, plera, service_env, settled, wait_for

LEADS = 120


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def service(postgres: PrivatePostgres, tmp_path: Path) -> Iterator[tuple[Services, subprocess.Popen[bytes]]]:
    sv = open_services(postgres.url, tmp_path / "test-data")
    env = service_env(postgres.url, tmp_path / "service-data")
    log_path = tmp_path / "plera-up.log"
    with log_path.open("wb") as log:
        up = plera("up", "--port", str(free_port()), env=env, log=log)
    try:
        yield sv, up
    finally:
        up.terminate()
        try:
            up.wait(20)
        except subprocess.TimeoutExpired:
            up.kill()
        sv.close()
        sys.stderr.write(log_path.read_text(errors="replace")[-4000:])


def caught_up(sv: Services) -> bool:
    try:
        with sv.db.pool.connection() as conn:
            return stored_positions(conn, "embedded").get("log", -1) >= event_store_head(conn)
    except Exception:
        return False


def expire_leases(sv: Services) -> None:
    """The lease runs 5 minutes of real time; the test ends it rather than waiting (as a killed worker's would)."""
    with sv.db.pool.connection() as conn:
        conn.execute("UPDATE plera_claims SET lease_until = clock_timestamp() - interval '1 second'")


def verify(postgres: PrivatePostgres, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plera.cli", "projections", "verify"],
        env=service_env(postgres.url, tmp_path / "verify-data"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_postgresql_crashing_mid_send_loses_no_step_and_sends_none_twice(postgres, smtp_server, service, tmp_path):
    sv, up = service
    smtp = smtp_server
    campaign = Campaign.launch(sv, smtp, leads=LEADS, senders=6)
    with ClockDriver(sv, step=timedelta(minutes=2)):
        wait_for(lambda: len(smtp.messages) >= LEADS // 4, 120, "the first sends")
        postgres.restart(down_for=3)  # mid-send: claims held, decisions and outcomes in flight
        wait_for(lambda: len(smtp.messages) >= LEADS // 2, 180, "sending to go on after the restart")
        postgres.restart(down_for=1)  # and again, while the feed applies the sends
        settled(lambda: len(smtp.messages), quiet=5, timeout=240)
    expire_leases(sv)  # a send cut off by the crash waits on its lease: end it, so recovery decides
    with ClockDriver(sv, step=timedelta(minutes=10)):  # the next day: step 2 for everyone
        wait_for(lambda: len(smtp.messages) >= 2 * LEADS - 10, 300, "the second step")
        settled(lambda: len(smtp.messages), quiet=5, timeout=240)
    expire_leases(sv)
    # The worker's recovery job runs every 15 s; a claim never decided goes back to the queue with the
    # time of its sender's next slot, so the day goes on meanwhile.
    with ClockDriver(sv, step=timedelta(minutes=5), every=0.5):
        deadline = time.monotonic() + 90
        while (result := tally(sv, smtp, campaign.sequence_id, campaign.lead_ids, 2)).lost:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
    wait_for(lambda: caught_up(sv), 60, "the feed to catch up")
    assert up.poll() is None, "the service died with its database"

    assert result.duplicates == 0
    assert result.lost == 0, result.statuses
    # A message is either recorded as sent, or in doubt (an unknown outcome): never sent and forgotten.
    assert result.statuses["sent"] <= result.received <= result.statuses["sent"] + result.statuses["outcome_unknown"]
    checked = verify(postgres, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_postgresql_crashing_while_the_feed_applies_an_import_leaves_read_models_equal_to_a_rebuild(
    postgres, smtp_server, service, tmp_path
):
    sv, up = service
    smtp = smtp_server
    campaign = Campaign.launch(sv, smtp, leads=10, senders=1)
    wait_for(lambda: caught_up(sv), 60, "the feed to start")
    from plera.commands.lead_import import parse_json_rows
    from plera.commands.source_groups import import_leads

    rows = [{"first_name": f"Late{n}", "email": f"late{n}@beta.example"} for n in range(3000)]
    head_before = event_store_head_now(sv)
    import_leads(sv, campaign.workspace_id, campaign.group_id, parse_json_rows(rows), "fault-test")
    # The running sequence enrolls the newcomers: thousands of events for the feed to apply.
    wait_for(lambda: position_now(sv) > head_before, 60, "the feed to start on the import")
    postgres.restart(down_for=2)
    wait_for(lambda: caught_up(sv), 180, "the feed to catch up after the restart")
    assert up.poll() is None, "the service died with its database"
    with sv.db.pool.connection() as conn:
        leads = conn.execute("SELECT count(*) FROM read.leads WHERE workspace_id = %s", (campaign.workspace_id,))
        row = leads.fetchone()
    assert row is not None and row[0] == 3010
    checked = verify(postgres, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def event_store_head_now(sv: Services) -> int:
    with sv.db.pool.connection() as conn:
        return event_store_head(conn)


def position_now(sv: Services) -> int:
    try:
        with sv.db.pool.connection() as conn:
            return stored_positions(conn, "embedded").get("log", -1)
    except Exception:
        return -1
