"""The event store: one eventsourcing Application on PostgreSQL (table plera_events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg_pool import ConnectionPool

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import NotFound
from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.sequence import Sequence as SequenceAggregate
from plera.aggregates.suppressions import SuppressionList
from plera.aggregates.workspace import Workspace

A = TypeVar("A", bound=PleraAggregate)


class Plera(Application[UUID]):
    """The name gives the tables: plera_events and plera_snapshots."""

    name = "Plera"
    # Aggregates that live long get snapshots, so loading them stays quick.
    snapshotting_intervals = {  # noqa: RUF012 (the library reads this class attribute)
        Workspace: 50,
        SequenceAggregate: 50,
        SourceGroup: 20,
        LeadEnrollment: 50,
        Lead: 50,
        SuppressionList: 50,
    }


class EventStore:
    """The application plus the few bulk reads the library does not offer."""

    def __init__(self, env: dict[str, str], pool: ConnectionPool) -> None:
        self.app = Plera(env=env)
        self._pool = pool

    def save(
        self,
        *aggregates: PleraAggregate,
        delivery: tuple[UUID, str] | None = None,
        alongside: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> None:
        """Records the aggregates' new events in one transaction; with `delivery` (workspace id, delivery
        id), also that webhook delivery, and IntegrityError when it was taken in already; `alongside`:
        SQL statements (with their parameters) committed in the same transaction, even with no event."""
        # the recorder (recorder.py) takes `delivery` and `alongside`
        self.app.save(*aggregates, delivery=delivery, alongside=alongside)

    def get(self, aggregate_id: UUID, kind: type[A], workspace_id: UUID | None = None) -> A:
        """The aggregate, or NotFound when it is missing, of another kind, or another workspace's."""
        try:
            found: Any = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {_label(kind)} {aggregate_id}") from None
        return checked(found, aggregate_id, kind, workspace_id)

    def get_as_of(self, aggregate_id: UUID, version: int) -> Any:
        return self.app.repository.get(aggregate_id, version=version)

    def existing(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these aggregates exist, in one query."""
        wanted = list(set(ids))
        if not wanted:
            return set()
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT originator_id FROM plera_events WHERE originator_id = ANY(%s) AND originator_version = 1",
                (wanted,),
            ).fetchall()
        return {r[0] for r in rows}

    def load_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Many aggregates in one query, replayed from their events (no snapshots: for small ones)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM plera_events"
                " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version",
                (wanted,),
            ).fetchall()
        return self._replay(rows)

    def stored_events(self, ids: Iterable[UUID], kind: type | None = None) -> list[Any]:
        """Every domain event of these aggregates (or only those of class `kind`: one fact of a large
        aggregate, such as the sequences of a source group, without replaying its thousands of leads),
        in commit order, so each aggregate's in version order."""
        wanted = list(set(ids))
        if not wanted:
            return []
        query = "SELECT originator_id, originator_version, topic, state FROM plera_events WHERE originator_id = ANY(%s)"
        params: list[Any] = [wanted]
        if kind is not None:
            query += " AND topic = %s"
            params.append(get_topic(kind))
        with self._pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY notification_id", params).fetchall()
        return [self._to_event(r) for r in rows]

    def _to_event(self, row: Any) -> Any:
        stored = StoredEvent(originator_id=row[0], originator_version=row[1], topic=row[2], state=bytes(row[3]))
        return self.app.mapper.to_domain_event(stored)

    def _replay(self, rows: Iterable[Any]) -> dict[UUID, Any]:
        out: dict[UUID, Any] = {}
        for row in rows:
            event = self._to_event(row)
            out[row[0]] = event.mutate(out.get(row[0]))
        return out

    def close(self) -> None:
        self.app.close()


def checked(found: Any, aggregate_id: UUID, kind: type[A], workspace_id: UUID | None) -> A:
    """`found`, unless it is of another kind or another workspace's: then NotFound, as for a missing one."""
    if not isinstance(found, kind) or (
        workspace_id is not None and getattr(found, "workspace_id", found.id) != workspace_id
    ):
        raise NotFound(f"no {_label(kind)} {aggregate_id}")
    return found


def _label(kind: type) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in kind.__name__).lstrip("_").replace("_", " ")
