"""Large CSV imports as jobs: the API keeps the upload, a worker imports it in batches (decision 0016).

Rows are read, checked and decided exactly as a synchronous import decides them (lead_import,
source_groups.decide_leads), BATCH rows at a time. A batch's events, its progress and its rejected
rows are committed in one transaction, the progress guarded by the rows done before it and by the
worker holding the job: a job resumed after its worker stopped starts after the last batch
committed, and a worker that lost its lease cannot move the job on. A batch decided twice (two
workers on it, one of them late) is refused by the aggregates' version check, so no lead is ever
added twice. Each batch is decided while the one before it is saved (`_Saver`).
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from plera.aggregates.errors import DomainError, NotFound
from plera.aggregates.lead import SourceGroup
from plera.commands import import_job_store as store
from plera.commands.enrollments import enroll_arrivals
from plera.commands.import_job_store import ImportJob
from plera.commands.lead_import import (
    ParsedRows,
    Record,
    Rejection,
    csv_errors,
    csv_reader,
    csv_records,
    parse_rows,
    read_header,
)
from plera.commands.source_groups import Decided, decide_leads, open_group
from plera.runtime import Services

log = logging.getLogger(__name__)

BATCH = 2000  # rows per transaction
MAX_ATTEMPTS = 3  # runs that ended unexpectedly (not a stop between batches) before the job fails
_SAVE_ATTEMPTS = 3  # another writer changed the group meanwhile: decide the batch again


def start_upload(sv: Services, workspace_id: UUID, group_id: UUID, actor: str) -> UUID:
    """A job for a file about to be uploaded into the group (which must exist, in an open run)."""
    open_group(sv, workspace_id, group_id)
    job_id = uuid4()
    store.begin_upload(sv.db.pool, job_id, workspace_id, group_id, actor, sv.clock.now())
    return job_id


def run_import_jobs(sv: Services, worker: str, stop: threading.Event) -> int:
    """Runs the jobs waiting (and those whose worker stopped), one after another, until none is left."""
    store.drop_stalled_uploads(sv.db.pool)
    ran = 0
    while not stop.is_set():
        job = store.claim(sv.db.pool, worker, sv.clock.now())
        if job is None:
            break
        run_import_job(sv, job, stop)
        ran += 1
    return ran


def run_import_job(sv: Services, job: ImportJob, stop: threading.Event) -> None:
    pool = sv.db.pool
    if job.attempts > MAX_ATTEMPTS:
        store.finish(pool, job, sv.clock.now(), error=f"the import stopped unexpectedly {MAX_ATTEMPTS} times")
        return
    try:
        if _run(sv, job, stop):
            store.finish(pool, job, sv.clock.now())
    except DomainError as e:  # the file is broken, the group or its run is gone or closed
        store.finish(pool, job, sv.clock.now(), error=e.detail)
    except UnicodeDecodeError as e:
        store.finish(pool, job, sv.clock.now(), error=f"the CSV is not UTF-8 (byte {e.start} cannot be read)")
    except Exception:
        log.exception("import job %s stopped; it is tried again", job.id)
        store.release(pool, job, count_attempt=True)
        raise


def _run(sv: Services, job: ImportJob, stop: threading.Event) -> bool:
    """Imports what is left of the job; False when it stopped before the end (asked to, or taken over)."""
    if job.rows_total is None:
        job = _count(sv, job)
    group = open_group(sv, job.workspace_id, job.source_group_id)
    reader = csv_reader(store.text_of(sv.db.pool, job))
    with csv_errors(reader):
        records = csv_records(reader, read_header(reader).names)
        if job.enrolled_through < job.rows_done and group.eligible and group.sequence_ids:
            _enroll_again(sv, job, group, islice(records, job.enrolled_through, job.rows_done))
        else:
            for _ in islice(records, job.rows_done):
                pass
        with _Saver(sv, job, group) as saver:
            done = job.rows_done
            while rows := list(islice(records, BATCH)):
                if stop.is_set():
                    if saver.wait():
                        store.release(sv.db.pool, job)
                    return False
                batch = _prepare(rows, done)
                # Decided while the batch before is saved; again after it, when a person is in both.
                decided = decide_leads(sv, job.workspace_id, job.source_group_id, batch.parsed, job.actor)
                if decided.identities & saver.identities:
                    if not saver.wait():
                        return False
                    decided = decide_leads(sv, job.workspace_id, job.source_group_id, batch.parsed, job.actor)
                if not saver.wait():
                    return False
                saver.submit(batch, decided)
                done = batch.done_after
            return saver.wait()


def _count(sv: Services, job: ImportJob) -> ImportJob:
    """Reads the whole file once before importing anything: a broken one fails the job whole, as a
    synchronous import is refused whole, and the rows are counted for the progress."""
    reader = csv_reader(store.text_of(sv.db.pool, job))
    with csv_errors(reader):
        header = read_header(reader)
        total = sum(1 for _ in reader)
    store.set_header(sv.db.pool, job, header.cells, header.ignored, total)
    return replace(job, header=header.cells, ignored_columns=header.ignored, rows_total=total)


@dataclass(frozen=True)
class _Batch:
    parsed: ParsedRows  # the rows that are leads
    rejected: list[tuple[Rejection, list[str]]]  # the others, with their cells as written
    done_before: int
    done_after: int


def _prepare(rows: list[Record], done_before: int) -> _Batch:
    parsed = parse_rows([(n, cells) for n, _, cells in rows if not isinstance(cells, Rejection)])
    written = {n: values for n, values, _ in rows}
    refused = [cells for _, _, cells in rows if isinstance(cells, Rejection)] + parsed.rejected
    rejected = sorted(((r, written[r.row]) for r in refused), key=lambda pair: pair[0].row)
    return _Batch(parsed, rejected, done_before, done_before + len(rows))


class _Saver:
    """Saves a job's batches one at a time, in a thread of its own, while the next batch is decided: the
    store's round trips and the decisions' CPU overlap. Only this thread touches the group."""

    def __init__(self, sv: Services, job: ImportJob, group: SourceGroup) -> None:
        self.sv, self.job, self.group = sv, job, group
        self.identities: set[UUID] = set()  # the people of the batch being saved
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="plera-import-save")
        self._saving: Future[bool] | None = None

    def __enter__(self) -> _Saver:
        return self

    def __exit__(self, *_: object) -> None:
        self._executor.shutdown(wait=True)

    def submit(self, batch: _Batch, decided: Decided) -> None:
        self.identities = decided.identities
        self._saving = self._executor.submit(self._save, batch, decided)

    def wait(self) -> bool:
        """Waits for the batch being saved: whether the job is still this worker's."""
        saving, self._saving = self._saving, None
        self.identities = set()
        return saving.result() if saving is not None else True

    def _save(self, batch: _Batch, decided: Decided) -> bool:
        """Saves the batch with its progress; another writer's change to the group (or a lead) meanwhile
        refuses it, and it is decided again on what is stored."""
        sv, job = self.sv, self.job
        for attempt in range(_SAVE_ATTEMPTS):
            touched = decided.join(self.group, job.actor)
            statements = store.batch_statements(
                job, batch.done_before, batch.done_after, decided.imported, decided.existing, batch.rejected
            )
            try:
                sv.events.save(*touched, alongside=statements)
                break
            except IntegrityError:
                if store.progress_of(sv.db.pool, job.id) != (job.worker, batch.done_before):
                    return False  # another worker took the job over and saved this batch
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
                self.group = open_group(sv, job.workspace_id, job.source_group_id)
                decided = decide_leads(sv, job.workspace_id, job.source_group_id, batch.parsed, job.actor)
        if store.progress_of(sv.db.pool, job.id) != (job.worker, batch.done_after):
            return False  # another worker took the job over: what it saves counts, not this
        if self.group.eligible and self.group.sequence_ids:
            enrolled = enroll_arrivals(sv, self.group, decided.lead_ids, job.actor)
            store.note_enrolled(sv.db.pool, job, batch.done_after, enrolled)
        return True


def _enroll_again(sv: Services, job: ImportJob, group: SourceGroup, records: Iterator[Record]) -> None:
    """The worker stopped between a batch and its enrollment: the batch's leads (decided again, without
    saving: they are stored) join the running sequences now. Enrolling is idempotent."""
    while rows := list(islice(records, BATCH)):
        parsed = parse_rows([(n, cells) for n, _, cells in rows if not isinstance(cells, Rejection)])
        lead_ids = decide_leads(sv, job.workspace_id, job.source_group_id, parsed, job.actor).lead_ids
        store.note_enrolled(sv.db.pool, job, job.rows_done, enroll_arrivals(sv, group, lead_ids, job.actor))


def check_header(first: str) -> None:
    """Refuses, before a job is made of it, a file whose beginning is no CSV with a lead header."""
    reader = csv_reader(io.StringIO(first, newline=""))
    with csv_errors(reader):
        read_header(reader)


def job_view(sv: Services, workspace_id: UUID, job_id: UUID) -> dict[str, Any]:
    """The job as the API shows it; another workspace's is not found."""
    job = _find(sv, workspace_id, job_id)
    return {
        "id": job.id,
        "source_group_id": job.source_group_id,
        "status": job.status,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "imported": job.imported,
        "existing": job.existing,
        "rejected_count": job.rejected_count,
        "enrolled": job.enrolled,
        "ignored_columns": job.ignored_columns or [],
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
        "progress_url": f"/v1/import-jobs/{job.id}",
        "rejected_url": f"/v1/import-jobs/{job.id}/rejected",
    }


def rejected_csv(sv: Services, workspace_id: UUID, job_id: UUID) -> Iterator[str]:
    """The rejected rows as CSV, once the job ended: row, code, detail, then the row's cells as written
    under the file's own header. Checked before the first line, read a page at a time after it."""
    job = _find(sv, workspace_id, job_id)
    if job.status not in ("done", "failed"):
        raise ImportNotFinished(f"import job {job.id} is {job.status}: its rejected rows come when it is done")
    return _csv_lines(sv, job)


def _csv_lines(sv: Services, job: ImportJob) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "code", "detail", *(job.header or [])])
    for row, code, detail, cells in store.rejected_rows(sv.db.pool, job.id):
        writer.writerow([row, code, detail, *cells])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _find(sv: Services, workspace_id: UUID, job_id: UUID) -> ImportJob:
    job = store.find(sv.db.pool, job_id, workspace_id)
    if job is None:
        raise NotFound(f"no import job {job_id}")
    return job


class ImportNotFinished(DomainError):
    code = "import_not_finished"
