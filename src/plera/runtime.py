"""The running services of one process: settings, database, event store, vault and clock."""

from __future__ import annotations

from dataclasses import dataclass

from plera.clock import Clock, SimulatedClock, SystemClock
from plera.eventstore import EventStore
from plera.secrets import Vault, load_key
from plera.settings import Settings
from plera.store import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    events: EventStore
    vault: Vault
    clock: Clock

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Clock | None = None) -> Services:
        settings = settings or Settings()
        settings.check()
        db = Database.open(settings.database_url, settings.data_dir)
        events = EventStore(db.eventsourcing_env(), db.pool)
        vault = Vault(db.pool, load_key(settings.secret_key, settings.data_dir))
        if clock is None:
            clock = SimulatedClock(db.pool) if settings.clock == "simulated" else SystemClock()
        return cls(settings=settings, db=db, events=events, vault=vault, clock=clock)

    def close(self) -> None:
        self.events.close()
        self.db.close()
