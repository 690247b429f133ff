"""Webhook deliveries taken in once: a provider retries with the same id, and a repeat must change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from plera.runtime import Services

T = TypeVar("T")


def once(sv: Services, workspace_id: UUID, key: str, take_in: Callable[[], T], repeat: T) -> T:
    """Runs `take_in` for the first delivery of `key`, and answers `repeat` for any later one. The key is
    recorded first; if taking in fails it is forgotten again, so the provider's retry is taken in."""
    with sv.db.pool.connection() as conn:
        fresh = conn.execute(
            "INSERT INTO plera_webhook_events (workspace_id, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (workspace_id, key),
        ).rowcount
    if not fresh:
        return repeat
    try:
        return take_in()
    except Exception:
        with sv.db.pool.connection() as conn:
            conn.execute(
                "DELETE FROM plera_webhook_events WHERE workspace_id = %s AND event_id = %s", (workspace_id, key)
            )
        raise
