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
"""

from __future__ import annotations

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


def sequence_dashboard(conn: Connection, workspace_id: UUID, sequence_id: UUID) -> dict[str, Any] | None:
    """The dashboard in the contract's shape, or None when the sequence is not the workspace's."""
    sequence = conn.execute(
        "SELECT status, data->'steps' FROM read.catalog WHERE id = %s AND workspace_id = %s AND kind = 'sequence'",
        (sequence_id, workspace_id),
    ).fetchone()
    if sequence is None:
        return None
    return dashboard_for(conn, sequence_id, sequence[0], sequence[1] or [])


def dashboard_for(conn: Connection, sequence_id: UUID, status: str, plan: list[dict[str, Any]]) -> dict[str, Any]:
    """The dashboard with a status and steps given by the caller (the aggregate, when the catalog lags)."""
    return {"status": status, **shape(plan, counts(conn, [sequence_id])[sequence_id])}


def shape(plan: list[dict[str, Any]], found: Counts) -> dict[str, Any]:
    """{steps, totals} from a sequence's steps (catalog) and its counts."""
    steps = []
    for number, step in enumerate(plan, start=1):
        row: dict[str, Any] = {"step": number, "name": step.get("name"), "channel": step.get("channel")}
        row |= {column: found.get((number, column), 0) for column in STEP_COLUMNS}
        row["reply_rate"] = row["replied"] / row["sent"] if row["sent"] else 0.0
        steps.append(row)
    return {"steps": steps, "totals": {column: found.get((TOTALS, column), 0) for column in TOTAL_COLUMNS}}
