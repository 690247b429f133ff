"""An import job's rows in PostgreSQL: the job, its uploaded file in chunks, its rejected rows.

Every process on the database sees them, so an API process takes the upload and any worker runs
it; the file is kept until the job ends (decision 0016).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from plera.commands.lead_import import Rejection

LEASE = "5 minutes"  # of real time, renewed by every batch, as claims' leases
STALLED_UPLOAD = "1 hour"  # an upload that stopped this long ago is dropped

_COLUMNS = (
    "id, workspace_id, source_group_id, actor, status, rows_total, rows_done, enrolled_through, imported,"
    " existing, rejected_count, enrolled, header, ignored_columns, created_at, started_at, finished_at, error,"
    " worker, attempts, chunks"
)


@dataclass(frozen=True)
class ImportJob:
    id: UUID
    workspace_id: UUID
    source_group_id: UUID
    actor: str
    status: str
    rows_total: int | None
    rows_done: int
    enrolled_through: int
    imported: int
    existing: int
    rejected_count: int
    enrolled: int
    header: list[str] | None
    ignored_columns: list[str] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    worker: str | None
    attempts: int
    chunks: int


def begin_upload(
    pool: ConnectionPool, job_id: UUID, workspace_id: UUID, group_id: UUID, actor: str, at: datetime
) -> None:
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO plera_import_jobs (id, workspace_id, source_group_id, actor, status, created_at)"
            " VALUES (%s, %s, %s, %s, 'uploading', %s)",
            (job_id, workspace_id, group_id, actor, at),
        )


def add_chunk(pool: ConnectionPool, job_id: UUID, seq: int, data: bytes) -> None:
    """One piece of the file, committed on its own: the upload never holds a transaction open."""
    with pool.connection() as conn:
        conn.execute("INSERT INTO plera_import_chunks (job_id, seq, data) VALUES (%s, %s, %s)", (job_id, seq, data))
        conn.execute(
            "UPDATE plera_import_jobs SET chunks = %s, bytes = bytes + %s, uploaded_at = now() WHERE id = %s",
            (seq + 1, len(data), job_id),
        )


def queue(pool: ConnectionPool, job_id: UUID) -> None:
    with pool.connection() as conn:
        conn.execute("UPDATE plera_import_jobs SET status = 'queued' WHERE id = %s AND status = 'uploading'", (job_id,))


def drop(pool: ConnectionPool, job_id: UUID) -> None:
    """An upload refused or cut off: nothing of it stays."""
    with pool.connection() as conn:
        conn.execute("DELETE FROM plera_import_chunks WHERE job_id = %s", (job_id,))
        conn.execute("DELETE FROM plera_import_jobs WHERE id = %s", (job_id,))


def drop_stalled_uploads(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        stalled = conn.execute(
            f"DELETE FROM plera_import_jobs WHERE status = 'uploading' AND uploaded_at < now() - interval '{STALLED_UPLOAD}'"
            " RETURNING id"
        ).fetchall()
        if stalled:
            conn.execute("DELETE FROM plera_import_chunks WHERE job_id = ANY(%s)", ([r[0] for r in stalled],))
    return len(stalled)


def claim(pool: ConnectionPool, worker: str, at: datetime) -> ImportJob | None:
    """The oldest job waiting, or running under a lease that ran out (its worker stopped), now this worker's."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"UPDATE plera_import_jobs SET status = 'running', worker = %s, lease_until = now() + interval '{LEASE}',"
            " started_at = coalesce(started_at, %s), attempts = attempts + 1"
            " WHERE id = (SELECT id FROM plera_import_jobs"
            "  WHERE status = 'queued' OR (status = 'running' AND lease_until < now())"
            "  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_COLUMNS}",
            (worker, at),
        )
        row = cur.fetchone()
    return ImportJob(**row) if row else None


def find(pool: ConnectionPool, job_id: UUID, workspace_id: UUID | None = None) -> ImportJob | None:
    """The job, if it is this workspace's (None: any workspace's); an upload under way is not a job yet."""
    query = f"SELECT {_COLUMNS} FROM plera_import_jobs WHERE id = %s AND status <> 'uploading'"
    params: list[Any] = [job_id]
    if workspace_id is not None:
        query += " AND workspace_id = %s"
        params.append(workspace_id)
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, params).fetchone()
    return ImportJob(**row) if row else None


def set_header(pool: ConnectionPool, job: ImportJob, header: list[str], ignored: list[str], rows_total: int) -> None:
    with pool.connection() as conn:
        conn.execute(
            "UPDATE plera_import_jobs SET header = %s, ignored_columns = %s, rows_total = %s WHERE id = %s AND worker = %s",
            (header, ignored, rows_total, job.id, job.worker),
        )


def batch_statements(
    job: ImportJob,
    done_before: int,
    done_after: int,
    imported: int,
    existing: int,
    rejected: list[tuple[Rejection, list[str]]],
) -> list[tuple[str, list[Any]]]:
    """What goes in with a batch's events: its progress, guarded so that only the job's worker moves it
    on from where it stood, and its rejected rows with their cells."""
    progress = (
        "UPDATE plera_import_jobs SET rows_done = %s, imported = imported + %s, existing = existing + %s,"
        f" rejected_count = rejected_count + %s, lease_until = now() + interval '{LEASE}'"
        " WHERE id = %s AND worker = %s AND rows_done = %s"
    )
    statements: list[tuple[str, list[Any]]] = [
        (progress, [done_after, imported, existing, len(rejected), job.id, job.worker, done_before])
    ]
    if rejected:
        statements.append(
            (
                "INSERT INTO plera_import_rejections (job_id, row, code, detail, cells)"
                " SELECT %s, r, c, d, x::jsonb FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) AS t(r, c, d, x)"
                " ON CONFLICT (job_id, row) DO NOTHING",
                [
                    job.id,
                    [r.row for r, _ in rejected],
                    [r.code for r, _ in rejected],
                    [_storable(r.detail) for r, _ in rejected],
                    [json.dumps([_storable(c) for c in cells]) for _, cells in rejected],
                ],
            )
        )
    return statements


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL


def progress_of(pool: ConnectionPool, job_id: UUID) -> tuple[str | None, int]:
    """(the worker holding the job, rows done), to see whether a batch's progress was this worker's."""
    with pool.connection() as conn:
        row = conn.execute("SELECT worker, rows_done FROM plera_import_jobs WHERE id = %s", (job_id,)).fetchone()
    return (row[0], row[1]) if row else (None, -1)


def note_enrolled(pool: ConnectionPool, job: ImportJob, through: int, enrolled: int) -> None:
    with pool.connection() as conn:
        conn.execute(
            "UPDATE plera_import_jobs SET enrolled_through = %s, enrolled = enrolled + %s WHERE id = %s AND worker = %s",
            (through, enrolled, job.id, job.worker),
        )


def release(pool: ConnectionPool, job: ImportJob, *, count_attempt: bool = False) -> None:
    """The worker stops: another may take the job at once. A stop between batches, asked for, is no
    failed attempt; an unexpected end is."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE plera_import_jobs SET lease_until = now(), attempts = attempts - %s WHERE id = %s AND worker = %s",
            (0 if count_attempt else 1, job.id, job.worker),
        )


def finish(pool: ConnectionPool, job: ImportJob, at: datetime, error: str | None = None) -> None:
    """Done (or failed, with the error); the file goes, the rejected rows stay."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE plera_import_jobs SET status = %s, error = %s, finished_at = %s, lease_until = NULL"
            " WHERE id = %s AND worker = %s",
            ("failed" if error else "done", error, at, job.id, job.worker),
        )
        conn.execute("DELETE FROM plera_import_chunks WHERE job_id = %s", (job.id,))


def rejected_rows(pool: ConnectionPool, job_id: UUID, page: int = 5000) -> Iterator[tuple[int, str, str, list[str]]]:
    """The rejected rows in row order, read a page at a time."""
    after = 0
    while True:
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT row, code, detail, cells FROM plera_import_rejections WHERE job_id = %s AND row > %s"
                " ORDER BY row LIMIT %s",
                (job_id, after, page),
            ).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][0]


class ChunkStream(io.RawIOBase):
    """The uploaded file, read back a chunk at a time (never whole in memory)."""

    def __init__(self, pool: ConnectionPool, job_id: UUID, chunks: int) -> None:
        self._pool, self._job_id, self._chunks = pool, job_id, chunks
        self._next = 0
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            if self._next >= self._chunks:
                return 0
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT data FROM plera_import_chunks WHERE job_id = %s AND seq = %s", (self._job_id, self._next)
                ).fetchone()
            self._next += 1
            self._buffer = memoryview(bytes(row[0]) if row else b"")
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def text_of(pool: ConnectionPool, job: ImportJob) -> io.TextIOWrapper:
    """The file as text, lines split as the synchronous import splits them (newline='')."""
    raw = io.BufferedReader(ChunkStream(pool, job.id, job.chunks), buffer_size=1 << 20)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
