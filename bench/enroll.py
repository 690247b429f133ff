"""Events per second of enrolling 10,000 leads through the commands, beside a raw psycopg batch INSERT.

Run: python bench/enroll.py [--leads N]   (PLERA_DATABASE_URL, else the local server, else embedded)
Prints: enrollment events/s, the raw INSERT rows/s ceiling, their ratio, and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import uuid

import psycopg
from common import make_ready_on_sinks, scratch_services

from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    n = parser.parse_args().leads
    with scratch_services() as sv:
        ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench").workspace
        run = create_run(sv, ws.id, CreateRun(name="bench"), "bench")
        group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="bench"), "bench")
        rows = [{"email": f"lead{i}@bench.example", "first_name": f"Lead{i}", "company": "Bench"} for i in range(n)]
        t = time.perf_counter()
        import_leads(sv, ws.id, group.id, parse_json_rows(rows), "bench")
        import_s = time.perf_counter() - t
        mark_enriched(sv, ws.id, group.id, "bench")
        steps = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3, 2, 2)]
        sequence = create_sequence(
            sv,
            ws.id,
            CreateSequence.model_validate(
                {"run_id": run.id, "name": "bench", "source_group_ids": [group.id], "steps": steps}
            ),
            "bench",
        )
        make_ready_on_sinks(sv, ws.id, sequence.id)
        before = sv.events.app.recorder.max_notification_id() or 0
        t = time.perf_counter()
        _, enrolled = launch_sequence(sv, ws.id, sequence.id, "bench")
        enroll_s = time.perf_counter() - t
        events = (sv.events.app.recorder.max_notification_id() or 0) - before
        assert enrolled == n, f"enrolled {enrolled} of {n}"

        with psycopg.connect(sv.db.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE raw_ceiling (id uuid PRIMARY KEY, version int, topic text, state bytea)")
            payload = os.urandom(300)
            data = [(uuid.uuid4(), 1, "plera.bench", payload) for _ in range(events)]
            t = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO raw_ceiling VALUES (%s, %s, %s, %s)", data)
            raw_s = time.perf_counter() - t

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"leads imported:          {n} in {import_s:.2f} s ({n / import_s:,.0f} leads/s)")
    print(f"enrollments:             {enrolled} in {enroll_s:.2f} s (target <= 3 s)")
    print(f"enrollment events:       {events} ({events / enroll_s:,.0f} events/s)")
    print(f"raw psycopg INSERT:      {events} rows in {raw_s:.2f} s ({events / raw_s:,.0f} rows/s)")
    print(f"ratio enroll/raw:        {(events / enroll_s) / (events / raw_s):.2f}")
    print(f"peak RSS:                {rss_mb:,.0f} MB (target < 500 MB)")


if __name__ == "__main__":
    main()
