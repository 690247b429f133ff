"""Work a handler leaves to the end of its batch, kept per batch (the runner's cursor) until then.

Some writes need not happen event by event: appending rows nobody reads back in the batch, or
summing counter changes. A handler notes them in a BatchBuffer and the projection's finish hook
takes them and writes them in one statement, in the batch's transaction. A batch that fails
never reaches its finish hook, and its cursor (with what it noted) is dropped with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from psycopg import Cursor

T = TypeVar("T")


class BatchBuffer(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._pending: WeakKeyDictionary[Cursor, T] = WeakKeyDictionary()
        self._lock = threading.Lock()  # several consumers or replay workers may share this process

    def of(self, cur: Cursor) -> T:
        """What this batch has noted so far (created empty on first use)."""
        with self._lock:
            found = self._pending.get(cur)
            if found is None:
                found = self._pending[cur] = self._factory()
            return found

    def take(self, cur: Cursor) -> T | None:
        """What this batch noted, removed; None when nothing was."""
        with self._lock:
            return self._pending.pop(cur, None)
