"""Embedded mode: projections fed in process, straight from the notification log.

LISTEN/NOTIFY wakes the feed; the notification id is its position, stored with the rows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence

import psycopg

from plera.envelope import StoredEnvelopes
from plera.projections.dead_letters import feed_failed, feed_recovered
from plera.projections.registry import Projection
from plera.projections.runner import apply_batch, ensure_schema, read_positions
from plera.runtime import Services

log = logging.getLogger(__name__)

CONSUMER = "embedded"
_LOCK = 7340003  # one feeder at a time per database


class InProcessFeed:
    def __init__(self, sv: Services, projections: Sequence[Projection], *, schema: str = "read") -> None:
        self._sv = sv
        self._projections = projections
        self._schema = schema
        self._envelope_of = StoredEnvelopes(sv.events.app.mapper)
        with sv.db.pool.connection() as conn:
            ensure_schema(conn, projections, schema)

    def position(self) -> int:
        with self._sv.db.pool.connection() as conn:
            return read_positions(conn, CONSUMER, self._schema).get("log", 0)

    def catch_up(self, batch: int = 2000) -> int:
        """Applies every event recorded so far. Returns how many were applied."""
        applied = 0
        with self._sv.db.pool.connection() as conn:
            conn.autocommit = True
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
            try:
                conn.autocommit = False
                while True:
                    start = read_positions(conn, CONSUMER, self._schema).get("log", 0)
                    notifications = self._sv.events.app.recorder.select_notifications(start + 1, batch)
                    if not notifications:
                        break
                    envelopes = [self._envelope_of(n) for n in notifications]
                    applied += apply_batch(
                        conn,
                        self._projections,
                        envelopes,
                        {"log": notifications[-1].id},
                        consumer=CONSUMER,
                        schema=self._schema,
                    )
            finally:
                conn.rollback()
                conn.autocommit = True
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
        return applied

    def run(self, stop: threading.Event, idle_wait: float = 1.0) -> None:
        """Feeds until stopped, woken by NOTIFY; errors are logged and retried with back-off."""
        backoff = idle_wait
        failing = True  # until a pass succeeds: a failure an earlier process noted is cleared then
        while not stop.is_set():
            try:
                with psycopg.connect(self._sv.db.url, autocommit=True) as listener:
                    listener.execute("LISTEN plera_events")
                    backoff = idle_wait
                    while not stop.is_set():
                        self.catch_up()
                        if failing:
                            with self._sv.db.pool.connection() as conn:
                                feed_recovered(conn, CONSUMER, self._schema)
                            failing = False
                        for _ in listener.notifies(timeout=idle_wait, stop_after=1):
                            pass
            except Exception as e:
                # A single event's failure is a dead letter (projections/runner.py); this is the
                # feed itself failing (the database, or an event that cannot be read), noted for /readyz.
                log.exception("in-process feed failed; retrying in %.1fs", backoff)
                with contextlib.suppress(Exception), self._sv.db.pool.connection(timeout=5) as conn:
                    feed_failed(conn, CONSUMER, e, self._schema)
                failing = True
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def start(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="plera-feed", daemon=True)
        thread.start()
        return thread, stop
