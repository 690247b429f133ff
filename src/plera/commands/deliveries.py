"""Webhook deliveries taken in once: a provider retries with the same id, and a repeat must change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from plera.commands.changes import AlreadyTaken, Changes, atomically
from plera.runtime import Services

T = TypeVar("T")


def once(sv: Services, workspace_id: UUID, key: str, decide: Callable[[Changes], T], repeat: T) -> T:
    """Takes in the first delivery of `key` and answers `repeat` for any later one. What `decide` changes
    is recorded in the same transaction as the key: a delivery that fails records neither, so the
    provider's retry is taken in, and two copies racing each other are taken in once. A repeat is found
    when its key is refused on saving: asking first would cost every first delivery a round trip."""
    try:
        return atomically(sv, decide, delivery=(workspace_id, key))
    except AlreadyTaken:
        return repeat
