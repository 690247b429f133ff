"""What the read models say about one launched sequence: the numbers the fault tests compare."""

from __future__ import annotations


def read_counts(services, ids: dict) -> dict[str, int]:
    with services.db.pool.connection() as conn:
        lead_count = conn.execute(
            "SELECT (data->>'lead_count')::int FROM read.catalog WHERE id = %s", (ids["group_id"],)
        ).fetchone()
        enrollments = conn.execute(
            "SELECT count(*) FROM read.enrollments WHERE sequence_id = %s", (ids["sequence_id"],)
        ).fetchone()
        scheduled = conn.execute(
            "SELECT count(*) FROM read.due_queue WHERE sequence_id = %s", (ids["sequence_id"],)
        ).fetchone()
    return {
        "group_lead_count": lead_count[0] if lead_count else 0,
        "enrollments": enrollments[0] if enrollments else 0,
        "due": scheduled[0] if scheduled else 0,
    }


def expected(leads: int) -> dict[str, int]:
    return {"group_lead_count": leads, "enrollments": leads, "due": leads}
