"""A large CSV import runs as a job: 202 at once, progress, every row imported once, rejected rows as CSV."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
from uuid import UUID

import psycopg
from fastapi.testclient import TestClient

from plera.aggregates.lead import Lead, SourceGroup
from plera.api import create_app
from plera.commands.import_jobs import run_import_jobs
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services
from plera.settings import Settings
from tests.integration.api.conftest import Api, assert_problem

HEADER = "First Name,Last Name,E-mail,Company,Country,Notes\n"


def _csv(rows: int, *, bad_every: int = 0, domain: str = "big.example") -> bytes:
    lines = [HEADER]
    for i in range(1, rows + 1):
        if bad_every and i % bad_every == 0:
            lines.append(f"Bad{i},Row,not-an-email-{i},Acme,Germany,x\n")
        else:
            lines.append(f"Lead{i},Person,lead{i}@{domain},Acme {i % 7},Germany,note {i}\n")
    return "".join(lines).encode()


def _upload(api: Api, group: str, body: bytes, query: str = "") -> dict:
    response = api.post(f"/v1/source-groups/{group}/leads{query}", content=body, headers={"Content-Type": "text/csv"})
    return api.ok(response, 202)


class StopAfter(threading.Event):
    """A worker asked to stop after `batches` batches (it looks before each one)."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.looks = 0
        self.batches = batches

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks > self.batches + 1  # the first look is run_import_jobs' own, before the claim


def _stored_leads(sv: Services, group_id: str) -> tuple[list[UUID], int]:
    """The group's leads as stored, and how many LeadImported events the store holds for them."""
    group = sv.events.get(UUID(group_id), SourceGroup)
    with sv.db.pool.connection() as conn:
        imported = conn.execute(
            "SELECT count(*) FROM plera_events WHERE originator_id = ANY(%s) AND topic LIKE %s",
            (group.lead_ids, "%Lead.LeadImported"),
        ).fetchone()[0]
    return group.lead_ids, imported


def test_a_large_csv_is_answered_202_and_its_job_imports_every_row(api, services):
    group = api.group(api.run())
    accepted = _upload(api, group, _csv(5000, bad_every=500))
    assert accepted["status"] == "queued"
    assert accepted["progress_url"] == f"/v1/import-jobs/{accepted['job_id']}"
    queued = api.ok(api.get(accepted["progress_url"]))
    assert (queued["status"], queued["rows_done"], queued["rows_total"]) == ("queued", 0, None)

    assert run_import_jobs(services, "worker-a", threading.Event()) >= 1

    done = api.ok(api.get(accepted["progress_url"]))
    assert done["status"] == "done" and done["error"] is None
    assert (done["rows_total"], done["rows_done"]) == (5000, 5000)
    assert (done["imported"], done["existing"], done["rejected_count"]) == (4990, 0, 10)
    assert done["ignored_columns"] == ["Notes"]
    assert done["started_at"] and done["finished_at"]
    lead_ids, imported_events = _stored_leads(services, group)
    assert len(lead_ids) == len(set(lead_ids)) == imported_events == 4990
    ada = services.events.get(lead_ids[0], Lead)
    assert ada.details == {"first_name": "Lead1", "last_name": "Person", "email": "lead1@big.example",
                           "company": "Acme 1", "country": "DE"}  # fmt: skip


def test_the_rejected_rows_come_as_csv_with_their_cells_as_written(api, services):
    group = api.group(api.run())
    body = HEADER.encode() + b"Ada,L,ada@x.example,A,Germany,\n,,,,,\nBo,B,nope,B,Narnia,hi\nCy,C,cy@x.example\n"
    job = _upload(api, group, body, "?async=true")
    assert_problem(api.get(f"/v1/import-jobs/{job['job_id']}/rejected"), 409, "import_not_finished")
    run_import_jobs(services, "worker-a", threading.Event())

    response = api.get(f"/v1/import-jobs/{job['job_id']}/rejected")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["row", "code", "detail", "First Name", "Last Name", "E-mail", "Company", "Country", "Notes"]
    assert [r[:2] for r in rows[1:]] == [["2", "empty_row"], ["3", "invalid_email"], ["4", "malformed_row"]]
    assert rows[2][3:] == ["Bo", "B", "nope", "B", "Narnia", "hi"]
    assert rows[3][3:] == ["Cy", "C", "cy@x.example"]
    done = api.ok(api.get(job["progress_url"]))
    assert (done["imported"], done["rejected_count"]) == (1, 3)


def test_a_job_stopped_between_batches_resumes_and_imports_each_row_once(api, services):
    group = api.group(api.run())
    api.import_leads(group, [{"email": "lead7@big.example", "first_name": "Known"}])  # one already there
    job = _upload(api, group, _csv(7000))

    run_import_jobs(services, "worker-a", StopAfter(batches=2))
    halfway = api.ok(api.get(job["progress_url"]))
    assert (halfway["status"], halfway["rows_done"], halfway["rows_total"]) == ("running", 4000, 7000)

    run_import_jobs(services, "worker-b", threading.Event())  # the lease was given back: b takes it at once
    done = api.ok(api.get(job["progress_url"]))
    assert (done["status"], done["rows_done"], done["imported"], done["existing"]) == ("done", 7000, 6999, 1)
    lead_ids, imported_events = _stored_leads(services, group)
    assert len(lead_ids) == len(set(lead_ids)) == 7000 and imported_events == 7000


def test_a_job_whose_worker_is_killed_is_taken_over_and_imports_each_row_once(empty_database_url, tmp_path):
    settings = Settings(database_url=empty_database_url, data_dir=tmp_path, secret_key="test-key")
    sv = Services.open(settings)
    try:
        with TestClient(create_app(sv)) as client:
            made = create_workspace(sv, CreateWorkspace(name="Kill"), actor="test")
            api = Api(client=client, workspace_id=made.workspace.id, api_key=made.api_key)
            group = api.group(api.run())
            job = _upload(api, group, _csv(20000, bad_every=1000))
            env = os.environ | {
                "PLERA_DATABASE_URL": empty_database_url,
                "PLERA_DATA_DIR": str(tmp_path),
                "PLERA_SECRET_KEY": "test-key",
            }
            worker = subprocess.Popen([sys.executable, "-m", "plera.cli", "worker"], env=env)
            try:
                rows_done = _wait_for(api, job["progress_url"], worker)
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
            assert 0 < rows_done < 20000, "the worker was to be killed mid-way"
            with psycopg.connect(empty_database_url, autocommit=True) as conn:  # its lease runs out
                conn.execute("UPDATE plera_import_jobs SET lease_until = now() - interval '1 second'")

            run_import_jobs(sv, "worker-b", threading.Event())
            done = api.ok(api.get(job["progress_url"]))
            assert (done["status"], done["rows_done"]) == ("done", 20000)
            assert (done["imported"], done["existing"], done["rejected_count"]) == (19980, 0, 20)
            lead_ids, imported_events = _stored_leads(sv, group)
            assert len(lead_ids) == len(set(lead_ids)) == imported_events == 19980
    finally:
        sv.close()


def _wait_for(api: Api, url: str, worker: subprocess.Popen, timeout: float = 120.0) -> int:
    """The rows done once the worker has saved a batch of the job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker ended on its own ({worker.returncode})"
        job = api.ok(api.get(url))
        if job["rows_done"] > 0:
            return int(job["rows_done"])
        time.sleep(0.02)
    raise AssertionError(f"the job did not move in {timeout} s")


def test_small_csv_imports_still_answer_200_at_once(api):
    group = api.group(api.run())
    result = api.ok(
        api.post(f"/v1/source-groups/{group}/leads", content=_csv(1000), headers={"Content-Type": "text/csv"})
    )
    assert (result["imported"], len(result["lead_ids"])) == (1000, 1000)


def test_another_workspaces_job_is_not_found(api, new_workspace, services):
    group = api.group(api.run())
    job = _upload(api, group, _csv(3), "?async=true")
    other = new_workspace("Other")
    assert_problem(other.get(job["progress_url"]), 404, "not_found")
    assert_problem(other.get(f"{job['progress_url']}/rejected"), 404, "not_found")
    assert_problem(api.get("/v1/import-jobs/not-a-uuid"), 404, "not_found")
    another_group = other.group(other.run())
    assert_problem(
        api.post(
            f"/v1/source-groups/{another_group}/leads?async=true", content=_csv(3), headers={"Content-Type": "text/csv"}
        ),
        404,
        "not_found",
    )


def test_a_large_upload_that_is_not_utf8_or_has_no_lead_header_leaves_no_job(api, services):
    group = api.group(api.run())
    with services.db.pool.connection() as conn:
        before = conn.execute("SELECT count(*) FROM plera_import_jobs").fetchone()[0]
    broken = _csv(30000) + b"Bad,Bytes,\xff\xfe@x.example,,,\n"
    response = api.post(f"/v1/source-groups/{group}/leads", content=broken, headers={"Content-Type": "text/csv"})
    assert "not UTF-8" in assert_problem(response, 422, "invalid_value")["detail"]
    headless = b"Notes,Shoe size\n" + b"x,9\n" * 300_000
    response = api.post(f"/v1/source-groups/{group}/leads", content=headless, headers={"Content-Type": "text/csv"})
    assert_problem(response, 422, "invalid_value")
    with services.db.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM plera_import_jobs").fetchone()[0] == before
        assert conn.execute("SELECT count(*) FROM plera_import_chunks c LEFT JOIN plera_import_jobs j"
                            " ON j.id = c.job_id WHERE j.id IS NULL").fetchone()[0] == 0  # fmt: skip


def test_json_bodies_keep_their_10_mb_limit_on_the_import_route(api):
    group = api.group(api.run())
    big = b'{"leads": [' + b'{"email": "a@example.com"},' * 400_000 + b"{}]}"
    response = api.post(f"/v1/source-groups/{group}/leads", content=big, headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")
