"""The library's PostgreSQL recorder, with three changes.

- A webhook delivery's id goes in with the changes it caused (`EventStore.save(..., delivery=...)`),
  so a delivery is recorded whole or not at all, and only once: a crash between the two could
  otherwise mark it taken with nothing recorded, and the provider's retry would be refused.
- Statements of our own may go in with the events (`EventStore.save(..., alongside=...)`): an
  import job's progress and rejected rows are committed with its batch's events, so a job resumed
  after a crash starts from the last batch committed, never repeating one nor skipping one.
- The events are inserted with plain VALUES rows rather than as one array of a composite type:
  psycopg adapts a composite array in Python, field by field, and that was about a third of the
  CPU of a command's save. The rows, the table lock and the notification are the library's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor, sql
from psycopg.rows import DictRow

# No ON CONFLICT: a delivery taken in already fails the whole transaction with an IntegrityError.
_DELIVERY = "INSERT INTO plera_webhook_events (workspace_id, event_id) VALUES (%s, %s)"


class PleraRecorder(PostgresApplicationRecorder):
    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        delivery = kwargs.get("delivery")
        if delivery is not None:
            curs.execute(_DELIVERY, delivery)
        for statement, params in kwargs.get("alongside", ()):
            curs.execute(statement, params)
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        params = [v for e in stored_events for v in (e.originator_id, e.originator_version, e.topic, e.state)]
        curs.execute(self._insert_rows(len(stored_events)), params, prepare=True)

    @cache  # noqa: B019 (a few recorders live as long as the process; one statement per row count)
    def _insert_rows(self, count: int) -> sql.Composed:
        # RETURNING gives the rows' ids in the order of VALUES, as the library's unnest form does.
        return sql.SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) VALUES {} RETURNING notification_id"
        ).format(
            sql.Identifier(self.datastore.schema),
            sql.Identifier(self.events_table_name),
            sql.SQL(", ").join([sql.SQL("(%s, %s, %s, %s)")] * count),
        )
