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
from plera.projections.enrollment_state import TOTALS, Counts
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
        sequences[str(run_id)].append(
            {"id": str(sequence_id), "name": name, "status": sequence_status, **headline(found[sequence_id])}
        )
    items = [
        {
            "id": run["id"],
            "name": run["name"],
            "status": run["status"],
            "created_at": run["created_at"],
            "sequences": sequences[run["id"]],
            "totals": added_up(sequences[run["id"]]),
        }
        for run in runs
    ]
    return {"items": items, "next_cursor": page["next_cursor"]}


def headline(found: Counts) -> dict[str, int]:
    """A sequence's headline counts: enrolled, active (open, not paused), replied, messages sent."""
    return {
        "enrolled": found.get((TOTALS, "enrolled"), 0),
        "active": found.get((TOTALS, "active"), 0),
        "replied": found.get((TOTALS, "replied"), 0),
        "sent": sum(value for (step, column), value in found.items() if step != TOTALS and column == "sent"),
    }


def added_up(headlines: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(h[k] for h in headlines) for k in _COUNTS}


def _with_headline(sequence_id: UUID, name: str, status: str, mine: Any) -> dict[str, Any]:
    headline = {
        "enrolled": mine.get((TOTALS, "enrolled"), 0),
        "active": mine.get((TOTALS, "active"), 0),
        "replied": mine.get((TOTALS, "replied"), 0),
        "sent": sum(value for (step, column), value in mine.items() if step != TOTALS and column == "sent"),
    }
    return {"id": str(sequence_id), "name": name, "status": status, **headline}


def run_sequences(
    conn: Connection, workspace_id: UUID, run_id: UUID, *, limit: int = 50, cursor: str | None = None
) -> dict[str, Any] | None:
    """A page of the run's sequences with headline counts, and the run's totals; None when the run is not
    (yet) in the workspace's catalog."""
    run = conn.execute(
        "SELECT 1 FROM read.catalog WHERE id = %s AND workspace_id = %s AND kind = 'run'", (run_id, workspace_id)
    ).fetchone()
    if run is None:
        return None
    page = list_items(conn, workspace_id, "sequence", limit=limit, cursor=cursor, parent_id=run_id)
    all_ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM read.catalog WHERE workspace_id = %s AND kind = 'sequence' AND parent_id = %s",
            (workspace_id, run_id),
        ).fetchall()
    ]
    found = counts(conn, all_ids)
    every = [_with_headline(i, "", "", found[i]) for i in all_ids]
    items = [s | headline(found[UUID(s["id"])]) for s in page["items"]]  # keeps created_at and version
    totals = {k: sum(s[k] for s in every) for k in _COUNTS}
    return {"items": items, "next_cursor": page["next_cursor"], "totals": totals}
