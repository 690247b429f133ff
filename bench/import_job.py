"""Rows per second of a large CSV import through the HTTP API, from upload to done, beside the synchronous path.

Run: python bench/import_job.py [--rows N] [--sync-rows M]

The API runs in its own process (uvicorn, as deployed) and a worker in another (`plera worker`),
both on a scratch database. A CSV of N rows (default 200,000, every lead field, about 25 MB, one row
in a thousand bad) is posted to `POST /v1/source-groups/{id}/leads` (202, a job) and its job polled
until done: rows/s counts from the first byte sent to the job's end. Then a CSV of M other rows
(default 20,000) goes through the synchronous path (the API's job threshold raised for the
benchmark), answered 200 when imported. Target: >= 5,000 rows/s for the job.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx
from common import api_server, cpu_seconds, machine_load, scratch_services

from plera.commands.runs import CreateRun, create_run
from plera.commands.source_groups import CreateSourceGroup, create_source_group
from plera.commands.workspaces import CreateWorkspace, create_workspace

HEADER = "First Name,Last Name,Email,LinkedIn,Company Name,Job Title,Phone,Country,City\n"


def csv_body(rows: int, prefix: str) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        email = f"not-an-address-{i}" if i % 1000 == 999 else f"{prefix}{i}@company{i % 997}.example"
        lines.append(
            f"Firstname{i},Lastname{i},{email},https://www.linkedin.com/in/{prefix}{i},Company {i % 997} GmbH,"
            f"Head of Sales,+49 30 {i:07d},Germany,Berlin\n"
        )
    return "".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--sync-rows", type=int, default=20_000)
    args = parser.parse_args()
    big = csv_body(args.rows, "job")
    small = csv_body(args.sync_rows, "sync")
    # The synchronous path is taken for the smaller file only: the threshold is raised above it.
    settings = {"PLERA_IMPORT_JOB_ROWS": str(args.sync_rows), "PLERA_IMPORT_JOB_BYTES": str(len(small))}
    with scratch_services() as sv:
        ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench")
        run = create_run(sv, ws.workspace.id, CreateRun(name="bench"), "bench")
        groups = [
            create_source_group(sv, ws.workspace.id, run.id, CreateSourceGroup(name=name), "bench").id
            for name in ("job", "sync")
        ]
        env = (
            os.environ
            | settings
            | {
                "PLERA_DATABASE_URL": sv.db.url,
                "PLERA_DATA_DIR": str(sv.settings.data_dir),
                "PLERA_SECRET_KEY": sv.settings.secret_key or "",
            }
        )
        worker = subprocess.Popen([sys.executable, "-m", "plera.cli", "worker"], env=env)
        headers = {"Authorization": f"Bearer {ws.api_key}", "Content-Type": "text/csv"}
        try:
            with api_server(sv, env=settings) as (url, api_pid), httpx.Client(base_url=url, timeout=600) as client:
                cpu_before = cpu_seconds(api_pid) + cpu_seconds(worker.pid)
                started = time.perf_counter()
                answer = client.post(f"/v1/source-groups/{groups[0]}/leads", content=big, headers=headers)
                assert answer.status_code == 202, answer.text
                uploaded = time.perf_counter() - started
                progress = answer.json()["progress_url"]
                samples = []
                while True:
                    job = client.get(progress, headers=headers).json()
                    samples.append((time.perf_counter() - started, job["rows_done"]))
                    if job["status"] in ("done", "failed"):
                        break
                    time.sleep(0.2)
                job_s = time.perf_counter() - started
                job_cpu = cpu_seconds(api_pid) + cpu_seconds(worker.pid) - cpu_before
                assert job["status"] == "done", job
                rejected = client.get(f"{progress}/rejected", headers=headers)
                assert rejected.status_code == 200

                started = time.perf_counter()
                answer = client.post(f"/v1/source-groups/{groups[1]}/leads", content=small, headers=headers)
                sync_s = time.perf_counter() - started
                assert answer.status_code == 200, answer.text
        finally:
            worker.terminate()
            worker.wait(60)
    moving = [rows for _, rows in samples if 0 < rows < args.rows]
    print(f"import job: {args.rows:,} rows ({len(big) / 1e6:.1f} MB) in {job_s:.1f} s from upload to done")
    print(f"  = {args.rows / job_s:,.0f} rows/s (target >= 5,000); upload answered 202 after {uploaded:.1f} s")
    print(f"  imported {job['imported']:,}, existing {job['existing']:,}, rejected {job['rejected_count']:,}")
    print(
        f"  API and worker CPU: {job_cpu:.1f} s = {args.rows / job_cpu:,.0f} rows per CPU second (PostgreSQL's not counted)"
    )
    print(f"  progress seen at {len(moving)} distinct points; rejected rows CSV {len(rejected.content):,} bytes")
    print(f"synchronous: {args.sync_rows:,} rows in {sync_s:.1f} s = {args.sync_rows / sync_s:,.0f} rows/s (200)")
    print(f"  {machine_load()}")


if __name__ == "__main__":
    main()
