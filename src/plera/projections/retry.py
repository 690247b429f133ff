"""`plera projections retry`: dead letters applied again after a fix, and removed when they now apply.

Each read model's dead letters go aggregate by aggregate, in version order, each in a savepoint:
one that fails again keeps its place (with the new error), and so do the later events of its
aggregate, which must not overtake it. The positions do not move: the feeds are past these events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from plera.projections import dead_letters
from plera.projections.registry import Projection

if TYPE_CHECKING:
    from plera.runtime import Services


@dataclass(frozen=True)
class Retried:
    applied: int  # dead letters that now applied, and are gone
    failing: list[str]  # one sentence per dead letter that still fails


def retry(sv: Services, projections: Sequence[Projection], *, schema: str = "read") -> Retried:
    by_name = {p.name: p for p in projections}
    applied, failing = 0, []
    with sv.db.pool.connection() as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (dead_letters.RETRY_LOCK,))  # no feed mid-batch
        rows = conn.execute(
            "SELECT projection, event_id, aggregate_id, ce_type, envelope FROM dead_letters"
            " WHERE projection = ANY(%s) ORDER BY projection, aggregate_id, aggregate_version",
            (list(by_name),),
        ).fetchall()
        stuck: set[tuple[str, object]] = set()  # (projection, aggregate) whose earlier event failed again
        for name, event_id, aggregate_id, ce_type, text in rows:
            projection = by_name[name]
            envelope = dead_letters.envelope_of_letter(ce_type, text)
            if (name, aggregate_id) in stuck:
                continue
            try:
                with conn.transaction(), conn.cursor() as cur:
                    projection.apply(cur, envelope)
                    if projection.finish is not None:
                        projection.finish(cur)
                    cur.execute("DELETE FROM dead_letters WHERE projection = %s AND event_id = %s", (name, event_id))
                applied += 1
            except dead_letters.TRANSIENT:
                raise
            except Exception as e:
                stuck.add((name, aggregate_id))
                error = dead_letters.error_text(e)
                conn.execute(
                    "UPDATE dead_letters SET error = %s, held_behind = NULL, failed_at = now()"
                    " WHERE projection = %s AND event_id = %s",
                    (error, name, event_id),
                )
                failing.append(f"{name}: {envelope.type} {aggregate_id} v{envelope.aggregate_version}: {error}")
    return Retried(applied, failing)
