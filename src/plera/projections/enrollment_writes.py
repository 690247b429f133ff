"""The enrollments projection's writes: rows loaded and saved during a batch, sent without waiting.

A handler loads its enrollment's row (`load`), computes the next one (enrollment_state.py) and
saves it (`save`) with what the event changes in its step's child row. The batch keeps the rows
it computed, so the next event of an enrollment starts from there instead of selecting again.

Until the batch's end (`flush`) nothing here waits for the server, but to load a row the batch
has not seen. A new enrollment (`enroll`, from LeadEnrolled) waits in the batch, and the saves of
its later events in the batch change it there: it is inserted once, as of the last of them, with
its child rows, so its rows are written once (the runner applies each aggregate's events of a
batch together). Other saves go out as bulk UPDATEs, each written only over the version it was
computed from (compare and set), in rounds holding at most one write per enrollment, so each
enrollment's writes keep their order. Both go out CHUNK rows at a time, so the server writes
while the batch goes on. At the end the statements' results say which rows they wrote, and the
counts move for those. An enrollment with a statement that wrote nothing (a LeadEnrolled
delivered again, or one that came after later events) has its events of the batch applied again,
loading the table's row (locked, so its writes hit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import Cursor

from plera.envelope import Envelope
from plera.projections import sequence_counts
from plera.projections.batch import CHUNK, BatchBuffer, columns, reader, text_array
from plera.projections.enrollment_state import Row

# What an event may change in a step's child row: values to set, but `attempts` is added to and
# `replied_credit` only turns true. Events never set a column back to NULL.
CHILD = (
    "status",
    "eligible_at",
    "attempts",
    "reason",
    "sent_at",
    "accepted_at",
    "replied_credit",
    "bounced_at",
    "failed_at",
    "outcome_unknown_at",
    "skipped_at",
    "message_id",
    "sender_id",
)
_CHILD_TYPES = (
    "text",
    "timestamptz",
    "int",
    "text",
    "timestamptz",
    "timestamptz",
    "boolean",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "text",
    "text[]::uuid",
)


@dataclass(frozen=True)
class Loaded:
    sequence_id: Any
    row: Row
    version: int  # of the enrollment, as of this row


@dataclass
class _New:
    """An enrollment this batch enrolled, as of its last event so far, with its child rows' changes."""

    ids: tuple[Any, Any, str, str]  # enrollment, workspace, lead, sequence
    enrolled_at: Any
    channels: str  # text[] literals of the plan
    conditions: str
    row: Row
    version: int
    last_event_at: Any
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Each event's change in the row, for the counts: they move event by event, as for rows already
    # in the table, so the same counter rows are touched whichever way the events were batched.
    changes: list[tuple[Row | None, Row]] = field(default_factory=list)


_Write = tuple[Any, Any, Row, Row, tuple[Any, ...]]  # (enrollment id, sequence id, before, after, columns)


@dataclass
class _Batch:
    # The rows as this batch computed them, by enrollment id. A row at that version in the table holds
    # exactly this: a row is a fold of its enrollment's events, and each aggregate's events come in order.
    loaded: dict[Any, Loaded] = field(default_factory=dict)
    new: dict[Any, _New] = field(default_factory=dict)
    writes: list[_Write] = field(default_factory=list)
    # Statements sent, whose results (the ids they wrote) are read at the end, with what they wrote.
    sent: list[tuple[Cursor, dict[Any, _New] | list[_Write]]] = field(default_factory=list)
    events: dict[Any, list[Envelope]] = field(default_factory=dict)  # by enrollment, to apply again


_batches: BatchBuffer[_Batch] = BatchBuffer(_Batch)

_PARENT = (
    "status, stop_reason, step_states, next_step, next_send_at, sent, replied_at, reply_step, accepted_step,"
    " last_event_at, version"
)
_PARENT_TYPES = "text, text, text, int, timestamptz, int, timestamptz, int, int, timestamptz, int"
_INSERT = (
    "WITH r AS (SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::text[]::uuid[], %b::text[]::uuid[],"
    " %b::timestamptz[], %b::text[], %b::text[], "
    + ", ".join(f"%b::{t}[]" for t in _PARENT_TYPES.split(", "))
    + f") AS r(id, workspace_id, lead_id, sequence_id, enrolled_at, channels, conditions, {_PARENT})),"
    " c AS (SELECT * FROM unnest(%b::uuid[], %b::int[], "
    + ", ".join(f"%b::{t}[]" for t in _CHILD_TYPES)
    + f") AS c(id, step, {', '.join(CHILD)})),"
    f" i AS (INSERT INTO enrollments (id, workspace_id, sequence_id, lead_id, enrolled_at, replied, {_PARENT})"
    f" SELECT id, workspace_id, sequence_id, lead_id, enrolled_at, replied_at IS NOT NULL, {_PARENT} FROM r"
    " ON CONFLICT (id) DO NOTHING RETURNING id),"
    f" steps AS (INSERT INTO enrollment_steps (enrollment_id, step, channel, condition, {', '.join(CHILD)})"
    " SELECT i.id, p.step, p.channel, p.condition, coalesce(c.status, 'pending'), c.eligible_at,"
    " coalesce(c.attempts, 0), c.reason, c.sent_at, c.accepted_at, coalesce(c.replied_credit, false), c.bounced_at,"
    " c.failed_at, c.outcome_unknown_at, c.skipped_at, c.message_id, c.sender_id"
    " FROM i JOIN r USING (id)"
    " CROSS JOIN unnest(r.channels::text[], r.conditions::text[]) WITH ORDINALITY AS p(channel, condition, step)"
    " LEFT JOIN c ON c.id = i.id AND c.step = p.step)"
    " SELECT id::text FROM i"
)
_UPDATE = (
    "WITH r AS (SELECT * FROM unnest(%b::uuid[], %b::int[], "
    + ", ".join(f"%b::{t}[]" for t in _PARENT_TYPES.split(", "))
    + ", %b::int[], "
    + ", ".join(f"%b::{t}[]" for t in _CHILD_TYPES)
    + f") AS r(id, prior, {_PARENT}, step, step_{', step_'.join(CHILD)})),"
    " u AS (UPDATE enrollments e SET "
    + ", ".join(f"{c} = r.{c}" for c in _PARENT.split(", "))
    + ", replied = r.replied_at IS NOT NULL"
    " FROM r WHERE e.id = r.id AND e.version = r.prior RETURNING e.id),"  # the version guard, exactly
    " c AS (UPDATE enrollment_steps s SET attempts = s.attempts + r.step_attempts,"
    " replied_credit = s.replied_credit OR r.step_replied_credit, "
    + ", ".join(f"{c} = coalesce(r.step_{c}, s.{c})" for c in CHILD if c not in ("attempts", "replied_credit"))
    + " FROM r JOIN u USING (id) WHERE s.enrollment_id = r.id AND s.step = r.step)"
    " SELECT id::text FROM u"
)


def enroll(cur: Cursor, e: Envelope, sequence_id: str, row: Row) -> None:
    """Notes a LeadEnrolled row, with its plan's, unless this batch has its row already."""
    batch = _batches.of(cur)
    if e.aggregate_id in batch.loaded:  # a redelivery
        return
    if len(batch.new) >= CHUNK:  # those are complete: an aggregate's events of a batch come together
        _send_new(cur, batch)
    steps = e.payload["steps"]
    batch.new[e.aggregate_id] = _New(
        (e.aggregate_id, e.workspace_id, str(e.payload["lead_id"]), sequence_id),
        e.occurred_at,
        text_array(s["channel"] for s in steps),
        text_array(s["condition"] for s in steps),
        row,
        e.aggregate_version,
        e.occurred_at,
        changes=[(None, row)],
    )
    batch.loaded[e.aggregate_id] = Loaded(sequence_id, row, e.aggregate_version)


def load(cur: Cursor, e: Envelope) -> Loaded | None:
    """The row before this event; None when the row already reflects it (a redelivery)."""
    batch = _batches.of(cur)
    batch.events.setdefault(e.aggregate_id, []).append(e)
    known = batch.loaded.get(e.aggregate_id)
    if known is not None:
        return known if known.version < e.aggregate_version else None
    found = (
        reader(cur)
        .execute(
            "SELECT sequence_id, version, status, stop_reason, step_states, next_step, next_send_at, sent,"
            " replied_at, reply_step, accepted_step FROM enrollments WHERE id = %s AND version < %s FOR UPDATE",
            (e.aggregate_id, e.aggregate_version),
        )
        .fetchone()
    )
    return None if found is None else Loaded(found[0], Row(*found[2:]), found[1])


def save(cur: Cursor, e: Envelope, before: Loaded, row: Row, step: int | None = None, **child: Any) -> None:
    """The row as of this event and, with it, `child`'s changes (see CHILD) to the child row of `step`."""
    batch = _batches.of(cur)
    batch.loaded[e.aggregate_id] = Loaded(before.sequence_id, row, e.aggregate_version)
    new = batch.new.get(e.aggregate_id)
    if new is not None:  # not inserted yet: inserted as of this event
        new.row, new.version, new.last_event_at = row, e.aggregate_version, e.occurred_at
        new.changes.append((before.row, row))
        if step is not None:
            _merge(new.steps.setdefault(step, {}), child)
        return
    values = (
        e.aggregate_id,
        before.version,
        *_parent(row, e.occurred_at, e.aggregate_version),
        step,
        *_child(child),
    )
    batch.writes.append((e.aggregate_id, before.sequence_id, before.row, row, values))
    if len(batch.writes) >= CHUNK:
        _send_writes(cur, batch)


def flush(cur: Cursor, apply: Callable[[Cursor, Envelope], None]) -> None:
    """Sends what waits, reads what every statement wrote, moves the counts, and applies again (with
    `apply`, the projection's) the events of enrollments whose rows were found otherwise (the finish hook)."""
    batch = _batches.of(cur)
    for again in (False, True):
        _send_writes(cur, batch)  # the new rows first
        missed = _confirm(cur, batch)
        if not missed:
            break
        if again:  # rows loaded from the table are locked: their writes cannot miss
            raise AssertionError(f"enrollments {sorted(map(str, missed))} changed under a lock")
        events = [e for enrollment_id in missed for e in batch.events.pop(enrollment_id, [])]
        for enrollment_id in missed:
            batch.loaded.pop(enrollment_id, None)
        for e in events:
            apply(cur, e)
    _batches.take(cur)
    sequence_counts.flush(cur)


def _parent(row: Row, at: Any, version: int) -> tuple[Any, ...]:
    return (
        row.status,
        row.stop_reason,
        row.step_states,
        row.next_step,
        row.next_send_at,
        row.sent,
        row.replied_at,
        row.reply_step,
        row.accepted_step,
        at,
        version,
    )


def _child(changes: dict[str, Any]) -> tuple[Any, ...]:
    values = [changes.get(c) for c in CHILD]
    values[2] = values[2] or 0  # attempts added
    values[6] = bool(values[6])  # replied_credit
    values[12] = None if values[12] is None else str(values[12])  # sender_id
    return tuple(values)


def _merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    for column, value in changes.items():
        if column == "attempts":
            into[column] = into.get(column, 0) + value
        else:  # replied_credit only turns true; the others take the later value
            into[column] = value


def _send_new(cur: Cursor, batch: _Batch) -> None:
    rows, batch.new = batch.new, {}
    if not rows:
        return
    parents = [
        (*n.ids, n.enrolled_at, n.channels, n.conditions, *_parent(n.row, n.last_event_at, n.version))
        for n in rows.values()
    ]
    children = [(n.ids[0], step, *_child(c)) for n in rows.values() for step, c in n.steps.items()]
    insert = cur.connection.cursor()
    insert.execute(_INSERT, [*columns(parents, 18), *columns(children, 2 + len(CHILD))])
    batch.sent.append((insert, rows))


def _send_writes(cur: Cursor, batch: _Batch) -> None:
    _send_new(cur, batch)  # the rows these writes change may be among them
    writes, batch.writes = batch.writes, []
    while writes:
        later: list[_Write] = []
        now: list[_Write] = []
        seen = set()
        for write in writes:
            if write[0] in seen:  # this one, and so the enrollment's later ones, in a later round
                later.append(write)
            else:
                seen.add(write[0])
                now.append(write)
        update = cur.connection.cursor()
        update.execute(_UPDATE, columns(w[4] for w in now))
        batch.sent.append((update, now))
        writes = later


def _confirm(cur: Cursor, batch: _Batch) -> set[Any]:
    """Moves the counts of the rows the sent statements wrote; returns the enrollments of those that wrote nothing."""
    missed = set()
    sent, batch.sent = batch.sent, []
    for statement, wrote in sent:
        hit = {r[0] for r in statement.fetchall()}
        statement.close()
        if isinstance(wrote, dict):
            for enrollment_id, new in wrote.items():
                if str(enrollment_id) in hit:
                    for before, after in new.changes:
                        sequence_counts.record(cur, new.ids[3], before, after)
                else:
                    missed.add(enrollment_id)
        else:
            for enrollment_id, sequence_id, before, after, _ in wrote:
                if str(enrollment_id) in hit:
                    sequence_counts.record(cur, sequence_id, before, after)
                else:
                    missed.add(enrollment_id)
    return missed
