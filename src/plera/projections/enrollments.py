"""Enrollments: one row per lead in a sequence, a child row per step of its plan, and the sequence's counts.

The drill-down reads these rows; the dashboard and the run overview read sequence_counts,
which move with them (see sequence_counts.py).

Redelivery is harmless: every handler loads the row only `WHERE version < :v` (locking it),
computes the new row (enrollment_state.py, pure), writes it back `WHERE version < :v`, and only
when that guarded write hit one row touches the child rows and records the change in counts.
Only the enrollment's own events are read: the lead's name and the sequence's step names are
joined at query time, so the interleaving of different aggregates' events does not matter.

`step_states` repeats the child rows' statuses, one letter per step in step order (see
enrollment_state.LETTERS), so a row alone says what the lead adds to its sequence's counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor
from psycopg.types.json import Jsonb

from plera.envelope import Envelope
from plera.projections import sequence_counts
from plera.projections.batch import BatchBuffer
from plera.projections.enrollment_state import Row
from plera.projections.registry import Projection

enrollments = Projection(
    name="enrollments",
    ddl=[
        "CREATE TABLE IF NOT EXISTS enrollments ("
        " id uuid PRIMARY KEY, workspace_id uuid NOT NULL, sequence_id uuid NOT NULL, lead_id uuid NOT NULL,"
        ' status text COLLATE "C" NOT NULL, stop_reason text,'
        " next_step int, next_send_at timestamptz,"
        ' step_states text COLLATE "C" NOT NULL, sent int NOT NULL,'
        " replied boolean NOT NULL, replied_at timestamptz, reply_step int, accepted_step int,"
        " enrolled_at timestamptz NOT NULL, last_event_at timestamptz NOT NULL, version int NOT NULL)"
        # Every event rewrites its row. No index covers a column that events change, and pages keep
        # room, so the updates are HOT: no index writes, and the heap stays compact without vacuum.
        " WITH (fillfactor = 70)",
        "CREATE INDEX IF NOT EXISTS enrollments_list_idx ON enrollments (sequence_id, enrolled_at, id)",
        "CREATE INDEX IF NOT EXISTS enrollments_lead_idx ON enrollments (lead_id)",
        "CREATE TABLE IF NOT EXISTS enrollment_steps ("
        " enrollment_id uuid NOT NULL, step int NOT NULL, channel text NOT NULL, condition text NOT NULL,"
        " status text NOT NULL, eligible_at timestamptz, attempts int NOT NULL DEFAULT 0, reason text,"
        " sent_at timestamptz, accepted_at timestamptz, replied_credit boolean NOT NULL DEFAULT false,"
        " bounced_at timestamptz, failed_at timestamptz, outcome_unknown_at timestamptz, skipped_at timestamptz,"
        " message_id text, sender_id uuid, PRIMARY KEY (enrollment_id, step)) WITH (fillfactor = 80)",
        # Inbound mail finds the step it answers by our Message-ID (In-Reply-To, References, a bounce's original).
        "CREATE INDEX IF NOT EXISTS enrollment_steps_message_idx ON enrollment_steps (message_id)"
        " WHERE message_id IS NOT NULL",
        *sequence_counts.DDL,
    ],
)


@dataclass(frozen=True)
class Loaded:
    sequence_id: Any
    row: Row


# The rows as this batch computed them, by id, with their version. A row at that version in the
# table holds exactly this (a row is a fold of its enrollment's events, and each aggregate's events
# arrive in order), so the next event of the same enrollment in the batch (LeadEnrolled and
# StepScheduled come together) starts from here instead of selecting again, and its guarded
# write hits only when the table is at that version.
_written: BatchBuffer[dict[Any, tuple[int, Loaded]]] = BatchBuffer(dict)

# The writes whose results are read only at the batch's end, so that the runner's pipeline need
# not wait for them: each on its own cursor, with the change in counts it makes when it hit.
_Write = tuple[Cursor, Any, Row | None, Row]
_unconfirmed: BatchBuffer[list[_Write]] = BatchBuffer(list)


def _finish(cur: Cursor) -> None:
    _written.take(cur)
    for write, sequence_id, before, after in _unconfirmed.take(cur) or []:
        hit = write.fetchone()
        write.close()
        if hit and hit[0] == 1:  # a redelivery's guarded write hits nothing, and moves no count
            sequence_counts.record(cur, sequence_id, before, after)
    sequence_counts.flush(cur)


def _write(cur: Cursor, e: Envelope, sequence_id: Any, before: Row | None, after: Row, query: str, params: Any) -> None:
    """Sends a write that answers how many rows it hit (0 or 1); see _finish."""
    write = cur.connection.cursor()
    write.execute(query, params)
    _unconfirmed.of(cur).append((write, sequence_id, before, after))
    _written.of(cur)[e.aggregate_id] = (e.aggregate_version, Loaded(sequence_id, after))


enrollments.finish = _finish


def _load(cur: Cursor, e: Envelope) -> Loaded | None:
    """The row before this event, locked; None when the row already reflects it (a redelivery)."""
    written = _written.of(cur).get(e.aggregate_id)
    if written is not None:
        version, loaded = written
        return loaded if version < e.aggregate_version else None
    cur.execute(
        "SELECT sequence_id, status, stop_reason, step_states, next_step, next_send_at, sent, replied_at, reply_step,"
        " accepted_step"
        " FROM enrollments WHERE id = %s AND version < %s FOR UPDATE",
        (e.aggregate_id, e.aggregate_version),
    )
    found = cur.fetchone()
    return None if found is None else Loaded(found[0], Row(*found[1:]))


def _save(
    cur: Cursor, e: Envelope, before: Loaded, row: Row, step: int | None = None, assignments: str = "", params: Any = ()
) -> None:
    """Writes the row as of this event and, with it, `assignments` to the child row of `step`: one
    statement. When the guarded write hit the row, the counts move (at the batch's end)."""
    child = (
        f", s AS (UPDATE enrollment_steps SET {assignments} WHERE EXISTS (SELECT FROM u)"
        " AND enrollment_id = %s AND step = %s)"
        if assignments
        else ""
    )
    _write(
        cur,
        e,
        before.sequence_id,
        before.row,
        row,
        "WITH u AS (UPDATE enrollments SET status = %s, stop_reason = %s, step_states = %s, next_step = %s,"
        " next_send_at = %s, sent = %s, replied = %s, replied_at = %s, reply_step = %s, accepted_step = %s,"
        f" last_event_at = %s, version = %s WHERE id = %s AND version < %s RETURNING 1){child}"
        " SELECT count(*) FROM u",
        (
            row.status,
            row.stop_reason,
            row.step_states,
            row.next_step,
            row.next_send_at,
            row.sent,
            row.replied_at is not None,
            row.replied_at,
            row.reply_step,
            row.accepted_step,
            e.occurred_at,
            e.aggregate_version,
            e.aggregate_id,
            e.aggregate_version,
            *((*params, e.aggregate_id, step) if assignments else ()),
        ),
    )


def _step_changed(cur: Cursor, e: Envelope, status: str, assignments: str, params: Any = (), **more: Any) -> None:
    """The common shape: the event sets its step's status, and the child row of that step."""
    found = _load(cur, e)
    if found:
        step = e.payload["step"]
        _save(cur, e, found, found.row.with_step(step, status, **more), step, assignments, params)


@enrollments.handles("enrollment", "LeadEnrolled")
def _enrolled(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    plan = p["steps"]
    row = Row.enrolled(len(plan))
    _write(
        cur,
        e,
        UUID(str(p["sequence_id"])),
        None,
        row,
        "WITH i AS (INSERT INTO enrollments (id, workspace_id, sequence_id, lead_id, status, next_step, step_states,"
        " sent, replied, enrolled_at, last_event_at, version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, false, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id),"
        " s AS (INSERT INTO enrollment_steps (enrollment_id, step, channel, condition, status)"
        " SELECT i.id, s.step, s.plan->>'channel', s.plan->>'condition', 'pending'"
        " FROM i, jsonb_array_elements(%s) WITH ORDINALITY AS s(plan, step))"
        " SELECT count(*) FROM i",
        (
            e.aggregate_id,
            e.workspace_id,
            p["sequence_id"],
            p["lead_id"],
            row.status,
            row.next_step,
            row.step_states,
            row.sent,
            e.occurred_at,
            e.occurred_at,
            e.aggregate_version,
            Jsonb(plan),
        ),
    )


@enrollments.handles("enrollment", "StepScheduled")
def _scheduled(cur: Cursor, e: Envelope) -> None:
    eligible_at = datetime.fromisoformat(e.payload["eligible_at"])
    _step_changed(
        cur, e, "scheduled", "status = 'scheduled', eligible_at = %s", (eligible_at,), eligible_at=eligible_at
    )


@enrollments.handles("enrollment", "StepDispatching")
def _dispatching(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    _step_changed(
        cur,
        e,
        "dispatching",
        "status = 'dispatching', message_id = %s, sender_id = %s",
        (p["message_id"], p["sender_id"]),
    )


@enrollments.handles("enrollment", "MessageSent")
def _sent(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "sent", "status = 'sent', sent_at = %s", (e.occurred_at,))


@enrollments.handles("enrollment", "StepSendFailed")
def _send_failed(cur: Cursor, e: Envelope) -> None:
    """A retryable failure returns the step to pending (to be scheduled again); a permanent one ends it."""
    reason = e.payload["reason"]
    if e.payload["retryable"]:
        _step_changed(cur, e, "pending", "status = 'pending', attempts = attempts + 1, reason = %s", (reason,))
    else:
        _step_changed(
            cur,
            e,
            "failed",
            "status = 'failed', attempts = attempts + 1, reason = %s, failed_at = %s",
            (reason, e.occurred_at),
        )


@enrollments.handles("enrollment", "SendOutcomeUnknown")
def _outcome_unknown(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "outcome_unknown", "status = 'outcome_unknown', outcome_unknown_at = %s", (e.occurred_at,))


@enrollments.handles("enrollment", "StepSkipped")
def _skipped(cur: Cursor, e: Envelope) -> None:
    _step_changed(
        cur, e, "skipped", "status = 'skipped', skipped_at = %s, reason = %s", (e.occurred_at, e.payload["reason"])
    )


@enrollments.handles("enrollment", "ReplyDetected")
def _replied(cur: Cursor, e: Envelope) -> None:
    """The first reply is credited to the last step sent before it; later ones move only the version."""
    found = _load(cur, e)
    if found is None:
        return
    row = found.row.replied(e.occurred_at)
    if row.reply_step is not None and found.row.replied_at is None:
        _save(cur, e, found, row, row.reply_step, "replied_credit = true")
    else:
        _save(cur, e, found, row)


@enrollments.handles("enrollment", "InviteAccepted")
def _accepted(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        step = e.payload["step"]
        _save(cur, e, found, replace(found.row, accepted_step=step), step, "accepted_at = %s", (e.occurred_at,))


@enrollments.handles("enrollment", "MessageBounced")
def _bounced(cur: Cursor, e: Envelope) -> None:
    """A hard bounce ends the step as bounced; a soft one returns it to pending (to be sent again)."""
    reason = e.payload["reason"]
    if e.payload["hard"]:
        assignments = "status = 'bounced', attempts = attempts + 1, reason = %s, bounced_at = %s"
        _step_changed(cur, e, "bounced", assignments, (reason, e.occurred_at))
    else:
        _step_changed(cur, e, "pending", "status = 'pending', attempts = attempts + 1, reason = %s", (reason,))


@enrollments.handles("enrollment", "OutOfOfficeDetected")
def _away(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        _save(cur, e, found, replace(found.row, status="paused") if found.row.status == "active" else found.row)


@enrollments.handles("enrollment", "EnrollmentPaused")
def _paused(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        _save(cur, e, found, replace(found.row, status="paused") if found.row.status == "active" else found.row)


@enrollments.handles("enrollment", "EnrollmentResumed")
def _resumed(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        _save(cur, e, found, replace(found.row, status="active") if found.row.status == "paused" else found.row)


@enrollments.handles("enrollment", "EnrollmentStopped")
def _stopped(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        _save(cur, e, found, found.row.closed("stopped", e.payload["reason"]))


@enrollments.handles("enrollment", "EnrollmentCompleted")
def _completed(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found:
        _save(cur, e, found, found.row.closed("completed"))


# ---- queries


def step_of_message(conn: Connection, message_ids: list[str]) -> tuple[Any, int, Any] | None:
    """(enrollment id, step, sender id) of the first of these outbound message ids that is ours."""
    if not message_ids:
        return None
    row = conn.execute(
        "SELECT enrollment_id, step, sender_id FROM read.enrollment_steps WHERE message_id = ANY(%s)"
        " ORDER BY array_position(%s, message_id) LIMIT 1",
        (message_ids, message_ids),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])
