"""The due queue: scheduled steps not yet done, for the dispatcher to claim (the send protocol's step 1).

A row appears on StepScheduled and goes on StepDispatching, StepSkipped, StepSendFailed (a message
that could not be built fails before its dispatch), EnrollmentStopped and EnrollmentCompleted; its
`paused` follows EnrollmentPaused and EnrollmentResumed, its `sender_id` SenderReassigned.

A deleted row cannot remember the version that deleted it, so the version guard lives in
due_enrollments, one row per enrollment that outlives its queue rows: every handler first moves
that row `WHERE version < :v` and changes the queue only when it hit. So a redelivered
StepScheduled cannot bring back a step that was dispatched since, and a step scheduled again
after a retryable failure comes back exactly once. due_enrollments also keeps what the queue
rows need from LeadEnrolled (sequence, lead, the plan's channels), since StepScheduled names
only the step: the same aggregate's facts, never another's.

LeadEnrolled and StepScheduled, the most frequent, wait in the batch and go in bulk statements,
CHUNK rows at a time, before any other statement of this projection and at the batch's end; an
enrollment new in the batch is inserted as of its StepScheduled (the runner applies each
aggregate's events of a batch together), so its row is written once.

claimed_by, lease_until and not_before belong to the dispatcher (commands/dispatch.py), not to
events: a rebuild clears them and `projections verify` leaves them out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor
from pydantic_core import to_json

from plera.envelope import Envelope
from plera.projections.batch import CHUNK, BatchBuffer, columns, text_array
from plera.projections.registry import Projection

due_queue = Projection(
    name="due_queue",
    ddl=[
        "CREATE TABLE IF NOT EXISTS due_enrollments ("
        " enrollment_id uuid PRIMARY KEY, workspace_id uuid NOT NULL, sequence_id uuid NOT NULL,"
        " lead_id uuid NOT NULL, channels text[] NOT NULL, senders jsonb NOT NULL, paused boolean NOT NULL,"
        " away_until timestamptz, version int NOT NULL)"
        " WITH (fillfactor = 80)",  # most enrollment events move `version`: room for HOT updates
        "CREATE TABLE IF NOT EXISTS due_queue ("
        " enrollment_id uuid NOT NULL, step int NOT NULL, workspace_id uuid NOT NULL, sequence_id uuid NOT NULL,"
        " lead_id uuid NOT NULL, channel text NOT NULL, eligible_at timestamptz NOT NULL, sender_id uuid,"
        " paused boolean NOT NULL, version int NOT NULL, claimed_by text, lease_until timestamptz,"
        " not_before timestamptz, PRIMARY KEY (enrollment_id, step))",
        # The dispatcher looks at a row from its eligible time, or from the later time it set
        # itself (the recipient's window, the sender's next slot, a full day rolled over).
        "CREATE INDEX IF NOT EXISTS due_queue_due_idx ON due_queue ((coalesce(not_before, eligible_at)))"
        " WHERE NOT paused",
        "CREATE INDEX IF NOT EXISTS due_queue_eligible_idx ON due_queue (eligible_at, enrollment_id, step)",
        "CREATE INDEX IF NOT EXISTS due_queue_sender_idx ON due_queue (sender_id, eligible_at, enrollment_id, step)"
        " WHERE NOT paused",
        "CREATE INDEX IF NOT EXISTS due_enrollments_away_idx ON due_enrollments (away_until) WHERE away_until IS NOT NULL",
    ],
    volatile={"due_queue": frozenset({"claimed_by", "lease_until", "not_before"})},
)


# Each handler is one statement: the CTE moves the enrollment's guard to this event, and the
# queue changes only for the row it returned (none on a redelivery).
_ADVANCE = (
    "WITH g AS (UPDATE due_enrollments SET version = %(v)s, paused = coalesce(%(paused)s, paused)"
    " WHERE enrollment_id = %(id)s AND version < %(v)s"
    " RETURNING enrollment_id, workspace_id, sequence_id, lead_id, channels, senders, paused) "
)


def _params(e: Envelope, **more: Any) -> dict[str, Any]:
    return {"v": e.aggregate_version, "id": e.aggregate_id, "paused": None, **more}


# Enrollments this batch enrolled, by id: their due_enrollments row, as of their last event so far
# (the version last). A StepScheduled of one moves its version here, so the row is written once.
_new: BatchBuffer[dict[Any, list[Any]]] = BatchBuffer(dict)
_steps: BatchBuffer[dict[Any, tuple[Any, ...]]] = BatchBuffer(dict)  # enrollment id → its StepScheduled


@due_queue.handles("enrollment", "LeadEnrolled")
def _enrolled(cur: Cursor, e: Envelope) -> None:
    if e.aggregate_id in _new.of(cur):
        return
    if len(_new.of(cur)) >= CHUNK:  # those are complete: an aggregate's events of a batch come together
        _write(cur)
    p = e.payload
    _new.of(cur)[e.aggregate_id] = [
        e.aggregate_id,
        e.workspace_id,
        str(p["sequence_id"]),
        str(p["lead_id"]),
        text_array(s["channel"] for s in p["steps"]),
        to_json(p.get("senders") or {}).decode(),
        e.aggregate_version,
    ]


@due_queue.handles("enrollment", "StepScheduled")
def _scheduled(cur: Cursor, e: Envelope) -> None:
    """Noted, and written with the batch's others in one statement: at most one per enrollment in it."""
    if e.aggregate_id in _steps.of(cur):
        _write(cur)
    steps = _steps.of(cur)
    steps[e.aggregate_id] = (
        e.aggregate_id,
        e.aggregate_version,
        e.payload["step"],
        datetime.fromisoformat(e.payload["eligible_at"]),
    )
    new = _new.of(cur).get(e.aggregate_id)
    if new is not None and new[-1] < e.aggregate_version:  # inserted as of this event, should it be inserted
        new[-1] = e.aggregate_version
    if len(steps) >= CHUNK:
        _write(cur)


def _write(cur: Cursor) -> None:
    """Writes what the batch noted, in one statement: the new enrollments, and the steps scheduled, of
    those it inserted (as of their step) and of those the table had (moved under the version guard)."""
    new, steps = _new.take(cur) or {}, _steps.take(cur) or {}
    if not new and not steps:
        return
    cur.execute(
        "WITH n AS (SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::text[]::uuid[], %b::text[]::uuid[], %b::text[],"
        " %b::text[], %b::int[]) AS n(id, w, s, l, c, j, v)),"
        " i AS (INSERT INTO due_enrollments (enrollment_id, workspace_id, sequence_id, lead_id, channels, senders,"
        " paused, version) SELECT id, w, s, l, c::text[], j::jsonb, false, v FROM n"
        " ON CONFLICT (enrollment_id) DO NOTHING RETURNING *),"
        " r AS (SELECT * FROM unnest(%b::uuid[], %b::int[], %b::int[], %b::timestamptz[]) AS r(id, v, step, at)),"
        # the rows the table had already: those i inserted are not seen here
        " g AS (UPDATE due_enrollments d SET version = r.v FROM r WHERE d.enrollment_id = r.id AND d.version < r.v"
        " RETURNING d.*),"
        " q AS (SELECT i.*, r.step, r.at FROM i JOIN r ON r.id = i.enrollment_id AND r.v = i.version"
        " UNION ALL SELECT g.*, r.step, r.at FROM g JOIN r ON r.id = g.enrollment_id)"
        " INSERT INTO due_queue (enrollment_id, step, workspace_id, sequence_id, lead_id, channel, eligible_at,"
        " sender_id, paused, version)"
        " SELECT enrollment_id, step, workspace_id, sequence_id, lead_id, channels[step], at,"
        # the sender the lead keeps for the step's channel: email, or linkedin for invites and messages
        " (senders->>(CASE channels[step] WHEN 'email' THEN 'email' ELSE 'linkedin' END))::uuid, paused, version"
        " FROM q ON CONFLICT (enrollment_id, step) DO UPDATE SET eligible_at = EXCLUDED.eligible_at,"
        " sender_id = EXCLUDED.sender_id, paused = EXCLUDED.paused, version = EXCLUDED.version,"
        " claimed_by = NULL, lease_until = NULL, not_before = NULL",
        [*columns(new.values(), 7), *columns(steps.values(), 4)],
    )


due_queue.finish = _write


def _advance(cur: Cursor, statement: str, params: dict[str, Any]) -> None:
    _write(cur)  # what the batch noted comes first
    cur.execute(statement, params)


def _step_done(cur: Cursor, e: Envelope) -> None:
    _advance(
        cur,
        _ADVANCE + "DELETE FROM due_queue d USING g WHERE d.enrollment_id = g.enrollment_id AND d.step = %(step)s",
        _params(e, step=e.payload["step"]),
    )


def _enrollment_closed(cur: Cursor, e: Envelope) -> None:
    _advance(cur, _ADVANCE + "DELETE FROM due_queue d USING g WHERE d.enrollment_id = g.enrollment_id", _params(e))


def _pause_changed(cur: Cursor, e: Envelope, paused: bool) -> None:
    advance = _ADVANCE if paused else _ADVANCE.replace("paused = coalesce(", "away_until = NULL, paused = coalesce(")
    _advance(
        cur,
        advance + "UPDATE due_queue d SET paused = g.paused, version = %(v)s FROM g"
        " WHERE d.enrollment_id = g.enrollment_id",
        _params(e, paused=paused),
    )


@due_queue.handles("enrollment", "InviteAccepted")
def _accepted(cur: Cursor, e: Envelope) -> None:
    """A LinkedIn message held back for the acceptance is due at once (the dispatcher's hint goes)."""
    _advance(
        cur,
        _ADVANCE + "UPDATE due_queue d SET not_before = NULL FROM g WHERE d.enrollment_id = g.enrollment_id",
        _params(e),
    )


@due_queue.handles("enrollment", "SenderReassigned")
def _reassigned(cur: Cursor, e: Envelope) -> None:
    """The lead's steps on that channel go out through the new sender from now on, and are looked at at once."""
    _advance(
        cur,
        _ADVANCE.replace(
            "paused = coalesce(",
            "senders = senders || jsonb_build_object(%(family)s::text, %(to)s::text), paused = coalesce(",
        )
        + "UPDATE due_queue d SET sender_id = %(to)s::uuid, not_before = NULL, version = %(v)s FROM g"
        " WHERE d.enrollment_id = g.enrollment_id"
        " AND (CASE d.channel WHEN 'email' THEN 'email' ELSE 'linkedin' END) = %(family)s",
        _params(e, family=e.payload["channel"], to=str(e.payload["to_sender_id"])),
    )


due_queue.handles("enrollment", "StepDispatching")(_step_done)
due_queue.handles("enrollment", "StepSkipped")(_step_done)
due_queue.handles("enrollment", "StepSendFailed")(_step_done)
due_queue.handles("enrollment", "EnrollmentStopped")(_enrollment_closed)
due_queue.handles("enrollment", "EnrollmentCompleted")(_enrollment_closed)


@due_queue.handles("enrollment", "EnrollmentPaused")
def _paused(cur: Cursor, e: Envelope) -> None:
    _pause_changed(cur, e, True)


@due_queue.handles("enrollment", "OutOfOfficeDetected")
def _away(cur: Cursor, e: Envelope) -> None:
    _advance(
        cur,
        _ADVANCE.replace("paused = coalesce(%(paused)s, paused)", "paused = true, away_until = %(until)s")
        + "UPDATE due_queue d SET paused = true, version = %(v)s FROM g WHERE d.enrollment_id = g.enrollment_id",
        _params(e, until=datetime.fromisoformat(e.payload["until"])),
    )


@due_queue.handles("enrollment", "EnrollmentResumed")
def _resumed(cur: Cursor, e: Envelope) -> None:
    _pause_changed(cur, e, False)


# ---- queries


_KEYS = (
    "enrollment_id",
    "step",
    "workspace_id",
    "sequence_id",
    "lead_id",
    "channel",
    "eligible_at",
    "sender_id",
    "paused",
    "claimed_by",
    "lease_until",
    "version",
)
_SELECT = (
    "SELECT d.enrollment_id, d.step, d.workspace_id, d.sequence_id, d.lead_id, d.channel, d.eligible_at,"
    " d.sender_id, d.paused, d.claimed_by, d.lease_until, d.version FROM read.due_queue d"
)


def due_steps(conn: Connection, now: datetime, limit: int, *, workspace_id: UUID | None = None) -> list[dict[str, Any]]:
    """Steps eligible by `now`, earliest first, of leads not paused in sequences that are running.

    Across workspaces unless one is given: the dispatcher serves them all. The sequence's status
    is joined from the catalog here, so a paused sequence's steps wait without blocking the others.
    Claims (claimed_by, lease_until) are returned for the dispatcher to judge; it re-checks
    everything against the aggregates before it sends.
    """
    rows = conn.execute(
        _SELECT + " JOIN read.catalog s ON s.id = d.sequence_id AND s.status = 'active'"
        " WHERE NOT d.paused AND d.eligible_at <= %s AND (%s::uuid IS NULL OR d.workspace_id = %s)"
        " ORDER BY d.eligible_at, d.enrollment_id, d.step LIMIT %s",
        (now, workspace_id, workspace_id, limit),
    ).fetchall()
    return [dict(zip(_KEYS, r, strict=True)) for r in rows]


def queued_steps(conn: Connection, workspace_id: UUID, *, sequence_id: UUID | None = None) -> list[dict[str, Any]]:
    """Every queued step of a workspace (or one sequence), paused or not, due or not, earliest first."""
    rows = conn.execute(
        _SELECT + " WHERE d.workspace_id = %s AND (%s::uuid IS NULL OR d.sequence_id = %s)"
        " ORDER BY d.eligible_at, d.enrollment_id, d.step",
        (workspace_id, sequence_id, sequence_id),
    ).fetchall()
    return [dict(zip(_KEYS, r, strict=True)) for r in rows]
