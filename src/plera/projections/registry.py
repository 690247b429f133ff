"""What a projection is: its tables and the handlers that keep them, keyed by event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import Cursor

from plera.envelope import Envelope

Handler = Callable[[Cursor, Envelope], None]


@dataclass
class Projection:
    name: str
    ddl: list[str]
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    # Columns written outside event handling (a dispatcher's claim on a row): a rebuild cannot
    # reproduce them, so `projections verify` leaves them out of its comparison.
    volatile: dict[str, frozenset[str]] = field(default_factory=dict)
    # Called once at the end of every batch, in its transaction, before the positions are written:
    # for work a handler leaves to the batch's end (counts summed over the batch, in key order).
    finish: Callable[[Cursor], None] | None = None

    def handles(self, aggregate: str, event_type: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.handlers[(aggregate, event_type)] = fn
            return fn

        return register

    def apply(self, cur: Cursor, envelope: Envelope) -> None:
        handler = self.handlers.get((envelope.aggregate, envelope.type))
        if handler is not None:
            handler(cur, envelope)
