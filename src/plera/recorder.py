"""The library's PostgreSQL recorder, with three changes.

- A webhook delivery's id goes in with the changes it caused (`EventStore.save(..., delivery=...)`),
  so a delivery is recorded whole or not at all, and only once: a crash between the two could
  otherwise mark it taken with nothing recorded, and the provider's retry would be refused.
- No statement of a save is left for psycopg to prepare by itself: at its fifth run it prepares a
  statement without checking that the server did, and in a pipeline that a refused delivery (or
  any failure) aborted the server skips it, so that connection then failed every later save with
  "prepared statement does not exist", a 500 for whatever drew it from the pool (found by the
  inbound webhook fuzz). The table lock and the insert are prepared on their first run, checked;
  the delivery row and the NOTIFY are never prepared.
- Statements of our own may go in with the events (`EventStore.save(..., alongside=...)`): an
  import job's progress and rejected rows are committed with its batch's events, so a job resumed
  after a crash starts from the last batch committed, never repeating one nor skipping one.
- The events are inserted with plain VALUES rows rather than as one array of a composite type:
  psycopg adapts a composite array in Python, field by field, and that was about a third of the
  CPU of a command's save. The rows, the table lock and the notification are the library's.
- A large save goes without psycopg's pipeline mode (see `insert_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor, sql
from psycopg.rows import DictRow

# No ON CONFLICT: a delivery taken in already fails the whole transaction with an IntegrityError.
_DELIVERY = "INSERT INTO plera_webhook_events (workspace_id, event_id) VALUES (%s, %s)"

# psycopg's pipeline (psycopg 3.3) stops writing once its last command is handed to libpq, even when
# the socket took only part of it, then waits for results that the server cannot send, since it is
# still reading the query: a save larger than the socket's buffer hangs for ever. It did with 1,000
# enrollments in one save over the embedded server's Unix socket (a buffer of about 200 KB; over TCP
# it happens at a few MB). Saves past this size go without the pipeline, in a few round trips; the
# usual small ones keep its single round trip.
PIPELINE_BYTES = 32_768


class PleraRecorder(PostgresApplicationRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        size = sum(len(e.state) + len(e.topic) + 64 for e in stored_events)
        # A delivery's row is refused by its key when the delivery was taken in already. In a pipeline
        # that refusal may surface as the pipeline's abort (an OperationalError, which the library
        # retries ten times and the API answers 503) rather than as the IntegrityError that says
        # "a repeat": so a save with a delivery goes without the pipeline too.
        if (size <= PIPELINE_BYTES and kwargs.get("delivery") is None) or self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_events_unpipelined(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's insert_events
    def _insert_events_unpipelined(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:  # a delivery that changed nothing is still recorded as taken in
                return []
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs) or []

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        delivery = kwargs.get("delivery")
        if delivery is not None:
            curs.execute(_DELIVERY, delivery, prepare=False)
        for statement, params in kwargs.get("alongside", ()):
            curs.execute(statement, params, prepare=False)  # never auto-prepared, as the delivery row
        super()._insert_events(curs, stored_events, **kwargs)

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(self.channel_name)), prepare=False)

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
