"""The drill-down: a sequence's leads by step and status (GET /v1/sequences/{id}/leads).

No tables of its own (so not in ALL): enrollments rows joined at query time with the leads
table for names, so a lead's events and its enrollments' may arrive in either order.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection, sql

from plera.projections.paging import decode_cursor, encode_cursor

STATUSES = ("active", "paused", "stopped", "completed")


def sequence_leads(
    conn: Connection,
    workspace_id: UUID,
    sequence_id: UUID,
    *,
    step: int | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any] | None:
    """A page of the sequence's leads in enrollment order, as {items, next_cursor}.

    `step` keeps the leads whose next step it is (stopped and completed leads have none);
    `status` is active, paused, stopped or completed. None when the sequence is not the workspace's.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"status is one of {', '.join(STATUSES)}")
    known = conn.execute(
        "SELECT jsonb_array_length(data->'steps') FROM read.catalog"
        " WHERE id = %s AND workspace_id = %s AND kind = 'sequence'",
        (sequence_id, workspace_id),
    ).fetchone()
    if known is None:
        return None
    if step is not None and (status in ("stopped", "completed") or step > (known[0] or 0)):
        return {"items": [], "next_cursor": None}  # nobody can match: spare the scan of every lead
    # Only the filters given, so each combination gets its own plan: a prepared statement with
    # "(%s IS NULL OR ...)" would settle on one generic plan that scans and sorts the whole sequence.
    where = [sql.SQL("e.sequence_id = %s AND e.workspace_id = %s")]
    params: list[Any] = [sequence_id, workspace_id]
    if step is not None:
        where.append(sql.SQL("e.next_step = %s"))
        params.append(step)
    if status is not None:
        where.append(sql.SQL("e.status = %s"))
        params.append(status)
    if cursor:
        where.append(sql.SQL("(e.enrolled_at, e.id) > (%s, %s)"))
        params.extend(decode_cursor(cursor))
    query = sql.SQL(
        "SELECT e.lead_id, l.name, l.company, e.status, e.next_step, e.next_send_at, e.last_event_at,"
        " e.enrolled_at, e.id"
        " FROM (SELECT * FROM read.enrollments e WHERE {} ORDER BY e.enrolled_at, e.id LIMIT %s) e"
        " LEFT JOIN read.leads l ON l.id = e.lead_id"  # names for the page only
        " ORDER BY e.enrolled_at, e.id"
    ).format(sql.SQL(" AND ").join(where))
    rows = conn.execute(query, [*params, limit + 1]).fetchall()
    items = [
        {
            "lead_id": str(r[0]),
            "enrollment_id": str(r[8]),
            "name": r[1],
            "company": r[2],
            "status": r[3],
            "next_step": r[4],
            "next_send_at": r[5].isoformat() if r[5] else None,
            "last_event_at": r[6].isoformat(),
        }
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1][7], rows[limit - 1][8]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
