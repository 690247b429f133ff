"""`plera demo` with PLERA_KAFKA_BOOTSTRAP takes the whole path through Kafka before it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path


def test_the_demo_ends_only_after_the_read_models_caught_up_through_kafka(services, bootstrap):
    env = {
        **os.environ,
        "PLERA_DATABASE_URL": services.db.url,
        "PLERA_KAFKA_BOOTSTRAP": bootstrap,
        "PLERA_KAFKA_GROUP": f"plera-demo-{uuid.uuid4().hex[:8]}",
        "PLERA_DATA_DIR": str(services.settings.data_dir),
        "PLERA_SECRET_KEY": "test-key",
        "COLUMNS": "200",
    }
    plera = str(Path(sys.executable).with_name("plera"))
    done = subprocess.run([plera, "demo"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "7 leads enrolled" in done.stdout
    key = next(line.split()[-1] for line in done.stdout.splitlines() if "plera_" in line)
    workspace_id = uuid.UUID(hex=key.split("_")[1])
    with services.db.pool.connection() as conn:
        runs = conn.execute(
            "SELECT name FROM read.catalog WHERE workspace_id = %s AND kind = 'run'", (workspace_id,)
        ).fetchall()
        enrolled = conn.execute(
            "SELECT count(*) FROM read.enrollments WHERE workspace_id = %s", (workspace_id,)
        ).fetchone()
        stopped = conn.execute(
            "SELECT stop_reason FROM read.enrollments WHERE workspace_id = %s AND status = 'stopped'"
            " ORDER BY stop_reason",
            (workspace_id,),
        ).fetchall()
        inbox = conn.execute(
            "SELECT count(*) FILTER (WHERE replied), count(*) FILTER (WHERE ooo), count(*) FILTER (WHERE bounced)"
            " FROM read.inbox_threads WHERE workspace_id = %s",
            (workspace_id,),
        ).fetchone()
    assert runs == [("Q1 outbound",)]
    assert enrolled == (7,)
    # What came back through the webhooks and the unsubscribe link reached the read models too.
    assert stopped == [("replied",), ("unsubscribed",)]
    assert inbox == (1, 1, 1)
