"""Two workers whose wall clocks are minutes apart share the due queue and its leases.

Each `plera worker` runs under libfaketime (Debian's `faketime`), one four minutes behind the real
time and one four minutes ahead: eight minutes apart, more than a claim's five-minute lease. Leases
are counted on the database's clock and every decision on `plera.clock`, so neither worker may take
the other's claims for expired ones: nothing is sent twice, and no send is given up as an unknown
outcome.
"""

from __future__ import annotations

import glob
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from tests.fakes.smtp_server import FakeSmtp

from .counting import tally
from .service import Campaign, ClockDriver, open_services, plera, service_env, settled, wait_for

LEADS = 150


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:  # infra/test.sh installs it; a machine without it cannot run this test at all
        pytest.fail("libfaketime is not installed (apt-get install faketime)")
    return found[0]


def test_two_workers_with_wall_clocks_eight_minutes_apart_send_each_step_once(
    empty_database_url: str, smtp_server: FakeSmtp, tmp_path: Path
):
    smtp = smtp_server
    sv = open_services(empty_database_url, tmp_path / "data")
    campaign = Campaign.launch(sv, smtp, leads=LEADS, senders=6)
    stop = threading.Event()
    feed = threading.Thread(target=InProcessFeed(sv, ALL).run, args=(stop,), daemon=True)
    feed.start()
    workers, logs, seen = [], [], set()
    try:
        for name, skew in (("behind", "-4m"), ("ahead", "+4m")):
            env = service_env(empty_database_url, tmp_path / name)
            env.update(LD_PRELOAD=libfaketime(), FAKETIME=skew, FAKETIME_DONT_FAKE_MONOTONIC="1")
            logs.append((tmp_path / f"{name}.log").open("wb"))
            workers.append(plera("worker", env=env, log=logs[-1]))

        def claimers() -> int:
            with sv.db.pool.connection() as conn:
                seen.update(w for (w,) in conn.execute("SELECT DISTINCT worker FROM plera_claims"))
            return len(smtp.messages)

        with ClockDriver(sv, step=timedelta(minutes=1)):
            wait_for(lambda: claimers() >= LEADS, 240, "every lead's first email")
            settled(claimers, quiet=5)
        wait_for(lambda: all(w.poll() is None for w in workers), 1, "both workers to be running")
        result = tally(sv, smtp, campaign.sequence_id, campaign.lead_ids, 1)
        assert len(seen) == 2, f"both workers claimed steps: {seen}"
        assert result.duplicates == 0
        assert result.received == LEADS
        assert result.statuses == {"sent": LEADS}, result.statuses  # none given up as unknown by the other
    finally:
        stop.set()
        for worker in workers:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        for log in logs:
            log.close()
        feed.join(10)
        sv.close()
