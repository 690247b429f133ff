"""The run overview: runs, their sequences and each sequence's headline counts.

`run_sequences` serves GET /v1/runs/{id}/sequences; `runs_overview` pages runs with theirs nested.

No tables of its own (so not in ALL): a page of runs and their sequences from the catalog,
with each sequence's counts from sequence_counts (kept by the enrollments projection).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection

from plera.projections.catalog import list_items
from plera.projections.enrollment_state import TOTALS
from plera.projections.sequence_counts import counts

_COUNTS = ("enrolled", "active", "replied", "sent")


def runs_overview(
    conn: Connection, workspace_id: UUID, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """A page of runs, oldest first, as {items, next_cursor}; each run lists its sequences, oldest first.

    A sequence's counts: enrolled leads, active ones (open, not paused), those who replied, and
    messages sent. A run's `totals` add up its sequences'.
    """
    page = list_items(conn, workspace_id, "run", limit=limit, cursor=cursor, status=status)
    runs = page["items"]
    rows = conn.execute(
        "SELECT parent_id, id, name, status FROM read.catalog"
        " WHERE workspace_id = %s AND kind = 'sequence' AND parent_id = ANY(%s) ORDER BY created_at, id",
        (workspace_id, [UUID(r["id"]) for r in runs]),
    ).fetchall()
    found = counts(conn, [r[1] for r in rows])
    sequences: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in runs}
    for run_id, sequence_id, name, sequence_status in rows:
        mine = found[sequence_id]
        headline = {
            "enrolled": mine.get((TOTALS, "enrolled"), 0),
            "active": mine.get((TOTALS, "active"), 0),
            "replied": mine.get((TOTALS, "replied"), 0),
            "sent": sum(value for (step, column), value in mine.items() if step != TOTALS and column == "sent"),
        }
        sequences[str(run_id)].append({"id": str(sequence_id), "name": name, "status": sequence_status, **headline})
    items = []
    for run in runs:
        listed = sequences[run["id"]]
        items.append(
            {
                "id": run["id"],
                "name": run["name"],
                "status": run["status"],
                "created_at": run["created_at"],
                "sequences": listed,
                "totals": {k: sum(s[k] for s in listed) for k in _COUNTS},
            }
        )
    return {"items": items, "next_cursor": page["next_cursor"]}
