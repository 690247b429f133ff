"""Work a handler leaves to the end of its batch, kept per batch (the runner's cursor) until then.

Some writes need not happen event by event: appending rows nobody reads back in the batch, or
summing counter changes. A handler notes them in a BatchBuffer, and they go in bulk statements,
in the batch's transaction: CHUNK rows at a time (so the server writes while the batch goes on),
the rest from the projection's finish hook. A batch that fails never reaches its finish hook,
and its cursor (with what it noted) is dropped with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from psycopg import Cursor

T = TypeVar("T")

# Rows a bulk write collects before it goes, while the batch goes on: the server writes them
# meanwhile, instead of all at the batch's end while the batch waits.
CHUNK = 500


class BatchBuffer(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._pending: WeakKeyDictionary[Cursor, T] = WeakKeyDictionary()
        self._lock = threading.Lock()  # several consumers or replay workers may share this process
        # The last batch's, as handlers ask several times per event: read and replaced whole, so a
        # thread finds its own or misses (a failed batch's stays here until the next batch's).
        self._last: tuple[Cursor | None, T | None] = (None, None)

    def of(self, cur: Cursor) -> T:
        """What this batch has noted so far (created empty on first use)."""
        last_cur, last = self._last
        if last_cur is cur and last is not None:
            return last
        with self._lock:
            found = self._pending.get(cur)
            if found is None:
                found = self._pending[cur] = self._factory()
            self._last = (cur, found)
            return found

    def take(self, cur: Cursor) -> T | None:
        """What this batch noted, removed; None when nothing was."""
        with self._lock:
            if self._last[0] is cur:
                self._last = (None, None)
            return self._pending.pop(cur, None)


_readers: WeakKeyDictionary[Cursor, Cursor] = WeakKeyDictionary()
_readers_lock = threading.Lock()


def reader(cur: Cursor) -> Cursor:
    """The batch's cursor for statements whose results a handler reads at once.

    In pipeline mode a cursor takes its statements' results as they arrive: on the batch's own
    cursor, with writes in flight, a write's result could come in after a read was sent, and
    be taken for the read's."""
    with _readers_lock:
        found = _readers.get(cur)
        if found is None:
            found = _readers[cur] = cur.connection.cursor()
        return found


def columns(rows: Iterable[Sequence[Any]], width: int = 0) -> list[list[Any]]:
    """Rows turned into one list per column, for `unnest` over arrays; `width` empty lists for no rows."""
    found = [list(c) for c in zip(*rows, strict=True)]
    return found or [[] for _ in range(width)]


def text_array(items: Iterable[str]) -> str:
    """A PostgreSQL text[] literal, for a row's array inside an array of rows (one text per row)."""
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"
