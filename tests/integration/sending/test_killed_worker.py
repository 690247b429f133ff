"""A worker killed with SIGKILL in the middle of a send: nothing is sent twice, and the unknown outcome shows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

from plera.aggregates.enrollment import StepStatus
from plera.aggregates.sender_account import SenderAccount
from plera.clock import SimulatedClock
from plera.commands.recovery import recover_expired
from plera.projections.dashboard import sequence_dashboard
from tests.integration.sending.helpers import add_email_sender

ONE_EMAIL = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 1, "condition": "no_reply"},
]


def test_a_worker_killed_mid_send_leaves_an_unknown_outcome_and_no_duplicate(world, tmp_path):
    hanging = socket.socket()  # a mail server that accepts and never answers: the send hangs in flight
    hanging.bind(("127.0.0.1", 0))
    hanging.listen()
    stuck = world.sv.events.get(add_email_sender(world, "Stuck", daily_limit=100), SenderAccount)
    # it checked out when it was added; its server hangs since
    connection = stuck.connection | {"port": hanging.getsockname()[1]}
    stuck.change(connection=connection, at=world.clock.now(), actor="test")
    world.sv.events.save(stuck)
    world.senders["email"] = stuck.id
    world.import_leads({"first_name": "Kim", "email": "kim@acme.example", "timezone": "Europe/Berlin"})
    world.launch(steps=ONE_EMAIL)
    world.clock.advance(timedelta(hours=1))  # 09:00 Berlin
    SimulatedClock(world.sv.db.pool).set(world.clock.now())  # the worker process reads the shared simulated clock
    world.catch_up()

    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from uuid import UUID
        from plera.runtime import Services
        from plera.settings import Settings
        from plera.scheduling.worker import Worker
        sv = Services.open(Settings(database_url={world.sv.db.url!r}, data_dir=Path({str(tmp_path)!r}),
                                    secret_key="test-key", clock="simulated"))
        Worker(sv, name="doomed", workspace_id=UUID({str(world.workspace_id)!r})).dispatch_due()
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    try:
        hanging.settimeout(60)
        connection, _ = hanging.accept()  # the worker has decided (StepDispatching) and is sending
        deadline = time.monotonic() + 10
        while world.enrollment("Kim").step_status(1) is not StepStatus.DISPATCHING and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        connection.close()
    finally:
        if worker.poll() is None:
            worker.kill()
        hanging.close()
    assert world.enrollment("Kim").step_status(1) is StepStatus.DISPATCHING

    # The lease runs 5 minutes of real time; the test ends it rather than waiting.
    with world.sv.db.pool.connection() as conn:
        conn.execute("UPDATE plera_claims SET lease_until = now() - interval '1 second'")
    assert recover_expired(world.sv) == 1
    kim = world.enrollment("Kim")
    assert kim.step_status(1) is StepStatus.OUTCOME_UNKNOWN
    assert kim.step_status(2) is StepStatus.SCHEDULED  # the lead goes on; step 1 is never resent

    world.senders["email"] = stuck.id
    world.dispatch()
    assert world.smtp.messages == []  # nothing resent through any server
    world.catch_up()
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)
    assert board is not None and board["steps"][0].get("outcome_unknown", 0) == 1
