"""The library's PostgreSQL recorder, plus one row in the same transaction as the events.

A webhook delivery's id goes in with the changes it caused (`EventStore.save(..., delivery=...)`),
so a delivery is recorded whole or not at all, and only once: a crash between the two could
otherwise mark it taken with nothing recorded, and the provider's retry would be refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

# No ON CONFLICT: a delivery taken in already fails the whole transaction with an IntegrityError.
_DELIVERY = "INSERT INTO plera_webhook_events (workspace_id, event_id) VALUES (%s, %s)"


class PleraRecorder(PostgresApplicationRecorder):
    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        delivery = kwargs.get("delivery")
        if delivery is not None:
            curs.execute(_DELIVERY, delivery)
        super()._insert_events(curs, stored_events, **kwargs)
