"""The running services of one process: settings, database, event store, vault and clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from plera.clock import CLOCK_MODE_KEY, Clock, SimulatedClock, SystemClock, choose_clock_mode
from plera.eventstore import EventStore
from plera.projections.all import ALL
from plera.projections.maintenance import ensure_read_models
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
    signing_key: bytes  # HMAC key of links we hand out (unsubscribe tokens), derived from the vault's key

    @classmethod
    def open(
        cls, settings: Settings | None = None, clock: Clock | None = None, *, keeps_clock_mode: bool = False
    ) -> Services:
        """`keeps_clock_mode`: this process is the service (`plera up`), whose PLERA_CLOCK the database keeps
        for every process started without one."""
        settings = settings or Settings()
        settings.check()
        db = Database.open(settings.database_url, settings.data_dir)
        if clock is None:  # a clock given (tests, benchmarks) is the clock, whatever the settings say
            try:
                settings = _with_clock_mode(settings, db, keeps_clock_mode)
            except ValueError:
                db.close()
                raise
        with db.migrating():  # the library creates the event store's tables as it starts
            events = EventStore(db.eventsourcing_env(), db.pool)
        key = load_key(settings.secret_key, settings.data_dir)
        vault = Vault(db.pool, key)
        if clock is None:
            clock = SimulatedClock(db.pool) if settings.clock == "simulated" else SystemClock()
        signing_key = hashlib.sha256(b"plera-links:" + key).digest()
        services = cls(settings=settings, db=db, events=events, vault=vault, clock=clock, signing_key=signing_key)
        # The API reads the read models before any feed has run, and an upgrade may redefine them.
        ensure_read_models(services, ALL)
        return services

    def close(self) -> None:
        self.events.close()
        self.db.close()


def _with_clock_mode(settings: Settings, db: Database, keeper: bool) -> Settings:
    """The settings with the clock this process runs on: its PLERA_CLOCK or the one the database keeps."""
    mode = choose_clock_mode(settings.clock, db.meta(CLOCK_MODE_KEY), keeper=keeper)
    if keeper and settings.clock is not None:
        db.set_meta(CLOCK_MODE_KEY, mode)
    chosen = settings.model_copy(update={"clock": mode})
    chosen.check()  # production refuses a simulated clock kept by the database too
    return chosen
