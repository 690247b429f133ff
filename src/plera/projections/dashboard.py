"""The sequence dashboard (GET /v1/sequences/{id}/dashboard).

It keeps no tables of its own (so it is not in ALL): the numbers are the sequence's rows in
sequence_counts, which the enrollments projection moves with its guarded writes, and the
sequence's status and step names come from its catalog row, joined here rather than copied.
Reading a handful of counter rows keeps the query's cost independent of the number of leads.

Meanings (API.md; enrollment_state.counts_of): leads_at_step counts active (open, not paused)
leads whose next step is this one; scheduled counts steps of open leads waiting in the due
queue; sent, failed (permanently), outcome_unknown and skipped count how each step ended; a reply
is credited to the last step sent before it, once per lead; reply_rate = replied / sent, 0 with
nothing sent. `accepted` counts LinkedIn invites accepted (InviteAccepted); `bounced` has no events yet and reads 0.

A send that failed for its sender leaves the step waiting on that sender, not failed: `failed` adds
the steps of leads (not paused) whose sender is not active now, and `problems` names those senders
with their reason and how many leads wait on each (they move to another sender after the
sequence's sender_failover_hours, commands/failover.py), and the sends whose outcome is unknown.
Both are read at query time from the due queue and the catalog: a sender's pause changes them at
once, without an event of the enrollment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from plera.projections.enrollment_state import TOTALS, Counts
from plera.projections.sequence_counts import counts

STEP_COLUMNS = (
    "leads_at_step",
    "scheduled",
    "sent",
    "accepted",
    "replied",
    "bounced",
    "failed",
    "skipped",
    "outcome_unknown",
)
TOTAL_COLUMNS = ("enrolled", "active", "replied", "completed", "stopped", "paused")


def sequence_dashboard(
    conn: Connection, workspace_id: UUID, sequence_id: UUID, senders: Iterable[UUID] = ()
) -> dict[str, Any] | None:
    """The dashboard in the contract's shape, or None when the sequence is not the workspace's.
    `senders`: the sequence's sender accounts, whose troubles are its `problems`."""
    sequence = conn.execute(
        "SELECT status, data->'steps' FROM read.catalog WHERE id = %s AND workspace_id = %s AND kind = 'sequence'",
        (sequence_id, workspace_id),
    ).fetchone()
    if sequence is None:
        return None
    return dashboard_for(conn, sequence_id, sequence[0], sequence[1] or [], senders)


def dashboard_for(
    conn: Connection, sequence_id: UUID, status: str, plan: list[dict[str, Any]], senders: Iterable[UUID] = ()
) -> dict[str, Any]:
    """The dashboard with a status and steps given by the caller (the aggregate, when the catalog lags)."""
    found = counts(conn, [sequence_id])[sequence_id]
    stopped = stopped_senders(conn, sequence_id, senders)
    waiting: dict[int, int] = {}
    for sender in stopped:
        for step, leads in sender.waiting.items():
            waiting[step] = waiting.get(step, 0) + leads
    board = shape(plan, found | {(step, "failed"): found.get((step, "failed"), 0) + n for step, n in waiting.items()})
    return {"status": status, **board, "problems": problems(stopped, found)}


def shape(plan: list[dict[str, Any]], found: Counts) -> dict[str, Any]:
    """{steps, totals} from a sequence's steps (catalog) and its counts."""
    steps = []
    for number, step in enumerate(plan, start=1):
        row: dict[str, Any] = {"step": number, "name": step.get("name"), "channel": step.get("channel")}
        row |= {column: found.get((number, column), 0) for column in STEP_COLUMNS}
        row["reply_rate"] = row["replied"] / row["sent"] if row["sent"] else 0.0
        steps.append(row)
    return {"steps": steps, "totals": {column: found.get((TOTALS, column), 0) for column in TOTAL_COLUMNS}}


@dataclass(frozen=True)
class StoppedSender:
    """One of the sequence's senders that is not active, and its leads (not paused) waiting on it, by step."""

    sender_id: UUID
    name: str
    status: str
    reason: str | None
    waiting: dict[int, int]


def stopped_senders(conn: Connection, sequence_id: UUID, senders: Iterable[UUID]) -> list[StoppedSender]:
    """Of these senders, those not active, with the sequence's queued steps waiting on each (one per lead)."""
    wanted = list(dict.fromkeys(senders))
    if not wanted:
        return []
    rows = conn.execute(
        "SELECT a.id, a.name, a.status, a.data->>'paused_reason', w.step, w.n"
        " FROM read.catalog a LEFT JOIN LATERAL ("
        "  SELECT d.step, count(*) AS n FROM read.due_queue d"
        "  WHERE d.sender_id = a.id AND NOT d.paused AND d.sequence_id = %s GROUP BY d.step) w ON true"
        " WHERE a.id = ANY(%s) AND a.kind = 'sender_account' AND a.status <> 'active'"
        " ORDER BY a.name, a.id, w.step",
        (sequence_id, wanted),
    ).fetchall()
    found: dict[UUID, StoppedSender] = {}
    for sender_id, name, status, reason, step, n in rows:
        sender = found.setdefault(sender_id, StoppedSender(sender_id, name, status, reason, {}))
        if step is not None:
            sender.waiting[step] = n
    return list(found.values())


def sequence_problems(conn: Connection, sequence_id: UUID, senders: Iterable[UUID]) -> list[dict[str, Any]]:
    """The dashboard's `problems` alone (GET /v1/sequences/{id} shows them too)."""
    return problems(stopped_senders(conn, sequence_id, senders), counts(conn, [sequence_id])[sequence_id])


def problems(stopped: list[StoppedSender], found: Counts) -> list[dict[str, Any]]:
    """What keeps the sequence's leads from going on: senders that stopped, and sends of unknown outcome."""
    out: list[dict[str, Any]] = []
    for sender in stopped:
        leads = sum(sender.waiting.values())
        paused = sender.status == "paused"
        out.append(
            {
                "code": "sender_paused" if paused else "sender_unavailable",
                "detail": f"{sender.name} is {sender.status}"
                + (f" ({sender.reason})" if sender.reason else "")
                + f": {leads} lead{'s' if leads != 1 else ''} wait on it",
                "sender_id": sender.sender_id,
                "sender_name": sender.name,
                "reason": sender.reason if paused else sender.status,
                "leads_waiting": leads,
                "steps": sorted(sender.waiting),
            }
        )
    unknown = {step: n for (step, column), n in found.items() if column == "outcome_unknown" and n and step != TOTALS}
    if unknown:
        sends = sum(unknown.values())
        out.append(
            {
                "code": "send_outcome_unknown",
                "detail": f"{sends} send{'s' if sends != 1 else ''} may or may not have gone out: never resent",
                "sends": sends,
                "steps": sorted(unknown),
            }
        )
    return out
