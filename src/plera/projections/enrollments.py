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

from psycopg import Cursor
from psycopg.types.json import Jsonb

from plera.envelope import Envelope
from plera.projections import sequence_counts
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
        " replied boolean NOT NULL, replied_at timestamptz, reply_step int,"
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
        " PRIMARY KEY (enrollment_id, step)) WITH (fillfactor = 80)",
        *sequence_counts.DDL,
    ],
    finish=sequence_counts.flush,
)


@dataclass(frozen=True)
class Loaded:
    sequence_id: Any
    row: Row


def _load(cur: Cursor, e: Envelope) -> Loaded | None:
    """The row before this event, locked; None when the row already reflects it (a redelivery)."""
    cur.execute(
        "SELECT sequence_id, status, stop_reason, step_states, next_step, next_send_at, sent, replied_at, reply_step"
        " FROM enrollments WHERE id = %s AND version < %s FOR UPDATE",
        (e.aggregate_id, e.aggregate_version),
    )
    found = cur.fetchone()
    return None if found is None else Loaded(found[0], Row(*found[1:]))


def _save(cur: Cursor, e: Envelope, before: Loaded, row: Row) -> bool:
    """Writes the row as of this event. When the guarded write hit it, the counts move, and True:
    the caller may then change the child rows."""
    cur.execute(
        "UPDATE enrollments SET status = %s, stop_reason = %s, step_states = %s, next_step = %s,"
        " next_send_at = %s, sent = %s, replied = %s, replied_at = %s, reply_step = %s,"
        " last_event_at = %s, version = %s WHERE id = %s AND version < %s",
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
            e.occurred_at,
            e.aggregate_version,
            e.aggregate_id,
            e.aggregate_version,
        ),
    )
    if cur.rowcount != 1:
        return False
    sequence_counts.record(cur, before.sequence_id, before.row, row)
    return True


def _update_step(cur: Cursor, e: Envelope, assignments: str, params: tuple[Any, ...] = ()) -> None:
    cur.execute(
        f"UPDATE enrollment_steps SET {assignments} WHERE enrollment_id = %s AND step = %s",
        (*params, e.aggregate_id, e.payload["step"]),
    )


@enrollments.handles("enrollment", "LeadEnrolled")
def _enrolled(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    plan = p["steps"]
    row = Row.enrolled(len(plan))
    cur.execute(
        "INSERT INTO enrollments (id, workspace_id, sequence_id, lead_id, status, next_step, step_states, sent,"
        " replied, enrolled_at, last_event_at, version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, false, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
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
        ),
    )
    if cur.rowcount == 1:
        sequence_counts.record(cur, p["sequence_id"], None, row)
        cur.execute(
            "INSERT INTO enrollment_steps (enrollment_id, step, channel, condition, status)"
            " SELECT %s, s.step, s.plan->>'channel', s.plan->>'condition', 'pending'"
            " FROM jsonb_array_elements(%s) WITH ORDINALITY AS s(plan, step)",
            (e.aggregate_id, Jsonb(plan)),
        )


@enrollments.handles("enrollment", "StepScheduled")
def _scheduled(cur: Cursor, e: Envelope) -> None:
    eligible_at = datetime.fromisoformat(e.payload["eligible_at"])
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "scheduled", eligible_at)):
        _update_step(cur, e, "status = 'scheduled', eligible_at = %s", (eligible_at,))


@enrollments.handles("enrollment", "StepDispatching")
def _dispatching(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "dispatching")):
        _update_step(cur, e, "status = 'dispatching'")


@enrollments.handles("enrollment", "MessageSent")
def _sent(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "sent")):
        _update_step(cur, e, "status = 'sent', sent_at = %s", (e.occurred_at,))


@enrollments.handles("enrollment", "StepSendFailed")
def _send_failed(cur: Cursor, e: Envelope) -> None:
    """A retryable failure returns the step to pending (to be scheduled again); a permanent one ends it."""
    retryable = bool(e.payload["retryable"])
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "pending" if retryable else "failed")):
        if retryable:
            _update_step(cur, e, "status = 'pending', attempts = attempts + 1, reason = %s", (e.payload["reason"],))
        else:
            _update_step(
                cur,
                e,
                "status = 'failed', attempts = attempts + 1, reason = %s, failed_at = %s",
                (e.payload["reason"], e.occurred_at),
            )


@enrollments.handles("enrollment", "SendOutcomeUnknown")
def _outcome_unknown(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "outcome_unknown")):
        _update_step(cur, e, "status = 'outcome_unknown', outcome_unknown_at = %s", (e.occurred_at,))


@enrollments.handles("enrollment", "StepSkipped")
def _skipped(cur: Cursor, e: Envelope) -> None:
    found = _load(cur, e)
    if found and _save(cur, e, found, found.row.with_step(e.payload["step"], "skipped")):
        _update_step(cur, e, "status = 'skipped', skipped_at = %s, reason = %s", (e.occurred_at, e.payload["reason"]))


@enrollments.handles("enrollment", "ReplyDetected")
def _replied(cur: Cursor, e: Envelope) -> None:
    """The first reply is credited to the last step sent before it; later ones move only the version."""
    found = _load(cur, e)
    if found is None:
        return
    row = found.row.replied(e.occurred_at)
    if _save(cur, e, found, row) and row.reply_step is not None and found.row.replied_at is None:
        cur.execute(
            "UPDATE enrollment_steps SET replied_credit = true WHERE enrollment_id = %s AND step = %s",
            (e.aggregate_id, row.reply_step),
        )


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
