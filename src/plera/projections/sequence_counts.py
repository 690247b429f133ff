"""A sequence's counts for the dashboard and the run overview: one row per (sequence, step, column).

The counts move only with the enrollments projection's guarded writes: when a write hits its
row, the difference between what the row added up to before and after (enrollment_state.counts_of)
is recorded here. So a redelivered event, whose guarded write hits nothing, moves nothing.

The differences of one batch wait in memory, keyed by the batch's cursor, and the runner's
finish hook applies them at the end of the batch, in the same transaction, in key order:
each counter row is written once per batch, and concurrent consumers take the counter rows'
locks in the same order, so they may wait for each other but never deadlock. Projections
with counts must be applied through runner.apply_batch.

`recount` derives the same numbers by GROUP BY over the enrollments rows: a check that the
counters are right, but 40 to 70 ms for 100,000 leads where the counters take under 1 ms.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor

from plera.projections.batch import BatchBuffer
from plera.projections.enrollment_state import Counts, Row, counts_of, difference

DDL = [
    "CREATE TABLE IF NOT EXISTS sequence_counts ("
    " sequence_id uuid NOT NULL, step int NOT NULL, name text NOT NULL, value int NOT NULL,"
    " PRIMARY KEY (sequence_id, step, name))",
]

_pending: BatchBuffer[defaultdict[tuple[Any, int, str], int]] = BatchBuffer(lambda: defaultdict(int))


def record(cur: Cursor, sequence_id: Any, before: Row | None, after: Row) -> None:
    """Notes how one enrollment's guarded write changed its sequence's counts, for the batch's end."""
    pending = _pending.of(cur)
    for (step, name), delta in difference(before, after).items():
        pending[(str(sequence_id), step, name)] += delta


def flush(cur: Cursor) -> None:
    """Applies the batch's differences, in key order (the finish hook of the enrollments projection)."""
    pending = _pending.take(cur)
    if not pending:
        return
    keys = sorted(pending)
    cur.execute(
        "INSERT INTO sequence_counts (sequence_id, step, name, value)"
        " SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::int[]) ORDER BY 1, 2, 3"
        " ON CONFLICT (sequence_id, step, name) DO UPDATE SET value = sequence_counts.value + EXCLUDED.value",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [pending[k] for k in keys]),
    )


# ---- queries


def counts(conn: Connection, sequence_ids: list[UUID]) -> dict[UUID, Counts]:
    rows = conn.execute(
        "SELECT sequence_id, step, name, value FROM read.sequence_counts WHERE sequence_id = ANY(%s)",
        (sequence_ids,),
    ).fetchall()
    found: dict[UUID, Counts] = {s: {} for s in sequence_ids}
    for sequence_id, step, name, value in rows:
        found[sequence_id][(step, name)] = value
    return found


def recount(conn: Connection, sequence_id: UUID) -> Counts:
    """The same counts derived from the enrollments rows (GROUP BY), without the zeros."""
    groups = conn.execute(
        "SELECT status, next_step, replied, reply_step, step_states, accepted_step, count(*) FROM read.enrollments"
        " WHERE sequence_id = %s GROUP BY status, next_step, replied, reply_step, step_states, accepted_step",
        (sequence_id,),
    ).fetchall()
    total: Counts = defaultdict(int)
    for status, next_step, replied, reply_step, step_states, accepted_step, leads in groups:
        for key, value in counts_of(status, next_step, replied, reply_step, step_states, accepted_step).items():
            total[key] += value * leads
    return dict(total)
