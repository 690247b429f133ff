"""Enrollments: one row per lead in a sequence, a child row per step of its plan, and the sequence's counts.

The drill-down reads these rows; the dashboard and the run overview read sequence_counts,
which move with them (see sequence_counts.py).

Redelivery is harmless: every handler loads the row as it was before its event (as this batch
computed it, or from the table `WHERE version < :v`, locking it; a redelivered event finds none
and changes nothing), computes the new row (enrollment_state.py, pure) and saves it, with what
the event sets in its step's child row. A saved row is written only over the version it was
computed from, and the counts move only with rows written (enrollment_writes.py).
Only the enrollment's own events are read: the lead's name and the sequence's step names are
joined at query time, so the interleaving of different aggregates' events does not matter.

`step_states` repeats the child rows' statuses, one letter per step in step order (see
enrollment_state.LETTERS), so a row alone says what the lead adds to its sequence's counts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from psycopg import Connection, Cursor

from plera.envelope import Envelope
from plera.projections import sequence_counts
from plera.projections.enrollment_state import Row
from plera.projections.enrollment_writes import enroll, flush, load, save
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


def _finish(cur: Cursor) -> None:
    flush(cur, enrollments.apply)


enrollments.finish = _finish


def _step_changed(cur: Cursor, e: Envelope, status: str, **child: Any) -> None:
    """The common shape: the event sets its step's status, in the row and in the step's child row."""
    found = load(cur, e)
    if found:
        step = e.payload["step"]
        row = found.row.with_step(step, status, child.get("eligible_at"))
        save(cur, e, found, row, step, status=status, **child)


@enrollments.handles("enrollment", "LeadEnrolled")
def _enrolled(cur: Cursor, e: Envelope) -> None:
    enroll(cur, e, str(e.payload["sequence_id"]), Row.enrolled(len(e.payload["steps"])))


@enrollments.handles("enrollment", "StepScheduled")
def _scheduled(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "scheduled", eligible_at=datetime.fromisoformat(e.payload["eligible_at"]))


@enrollments.handles("enrollment", "StepDispatching")
def _dispatching(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "dispatching", message_id=e.payload["message_id"], sender_id=e.payload["sender_id"])


@enrollments.handles("enrollment", "MessageSent")
def _sent(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "sent", sent_at=e.occurred_at)


@enrollments.handles("enrollment", "StepSendFailed")
def _send_failed(cur: Cursor, e: Envelope) -> None:
    """A retryable failure returns the step to pending (to be scheduled again); a permanent one ends it."""
    reason = e.payload["reason"]
    if e.payload["retryable"]:
        _step_changed(cur, e, "pending", attempts=1, reason=reason)
    else:
        _step_changed(cur, e, "failed", attempts=1, reason=reason, failed_at=e.occurred_at)


@enrollments.handles("enrollment", "SendOutcomeUnknown")
def _outcome_unknown(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "outcome_unknown", outcome_unknown_at=e.occurred_at)


@enrollments.handles("enrollment", "StepSkipped")
def _skipped(cur: Cursor, e: Envelope) -> None:
    _step_changed(cur, e, "skipped", skipped_at=e.occurred_at, reason=e.payload["reason"])


@enrollments.handles("enrollment", "ReplyDetected")
def _replied(cur: Cursor, e: Envelope) -> None:
    """The first reply is credited to the last step sent before it; later ones move only the version."""
    found = load(cur, e)
    if found is None:
        return
    row = found.row.replied(e.occurred_at)
    if row.reply_step is not None and found.row.replied_at is None:
        save(cur, e, found, row, row.reply_step, replied_credit=True)
    else:
        save(cur, e, found, row)


@enrollments.handles("enrollment", "InviteAccepted")
def _accepted(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        step = e.payload["step"]
        save(cur, e, found, replace(found.row, accepted_step=step), step, accepted_at=e.occurred_at)


@enrollments.handles("enrollment", "MessageBounced")
def _bounced(cur: Cursor, e: Envelope) -> None:
    """A hard bounce ends the step as bounced; a soft one returns it to pending (to be sent again)."""
    reason = e.payload["reason"]
    if e.payload["hard"]:
        _step_changed(cur, e, "bounced", attempts=1, reason=reason, bounced_at=e.occurred_at)
    else:
        _step_changed(cur, e, "pending", attempts=1, reason=reason)


@enrollments.handles("enrollment", "OutOfOfficeDetected")
def _away(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        save(cur, e, found, replace(found.row, status="paused") if found.row.status == "active" else found.row)


@enrollments.handles("enrollment", "EnrollmentPaused")
def _paused(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        save(cur, e, found, replace(found.row, status="paused") if found.row.status == "active" else found.row)


@enrollments.handles("enrollment", "EnrollmentResumed")
def _resumed(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        save(cur, e, found, replace(found.row, status="active") if found.row.status == "paused" else found.row)


@enrollments.handles("enrollment", "EnrollmentStopped")
def _stopped(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        save(cur, e, found, found.row.closed("stopped", e.payload["reason"]))


@enrollments.handles("enrollment", "EnrollmentCompleted")
def _completed(cur: Cursor, e: Envelope) -> None:
    found = load(cur, e)
    if found:
        save(cur, e, found, found.row.closed("completed"))


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
