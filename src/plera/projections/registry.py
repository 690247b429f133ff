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

    def handles(self, aggregate: str, event_type: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.handlers[(aggregate, event_type)] = fn
            return fn

        return register

    def apply(self, cur: Cursor, envelope: Envelope) -> None:
        handler = self.handlers.get((envelope.aggregate, envelope.type))
        if handler is not None:
            handler(cur, envelope)
