"""A save larger than the socket's buffer goes through (psycopg's pipeline would hang on it for ever).

The embedded PostgreSQL, which a new user gets, is reached over a Unix socket with a buffer of about
200 KB: enrolling a thousand arrivals into a running sequence is one save of a few MB.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from plera.runtime import Services
from plera.settings import Settings
from tests.integration.faults.private_postgres import PrivatePostgres


@pytest.fixture
def over_a_unix_socket(tmp_path: Path) -> Iterator[Services]:
    server = PrivatePostgres()
    sv = Services.open(Settings(database_url=server.url, data_dir=tmp_path, secret_key="test-key"))
    try:
        yield sv
    finally:
        sv.close()
        server.close()


def finishes(work, seconds: float) -> bool:
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(seconds)


def test_a_save_of_several_megabytes_over_a_unix_socket_completes(over_a_unix_socket: Services):
    from eventsourcing.persistence import StoredEvent

    recorder = over_a_unix_socket.events.app.recorder
    topic = "plera.aggregates.run:Run.RunCreated"
    events = [StoredEvent(uuid4(), 1, topic, b'{"padding": "' + b"x" * 2000 + b'"}') for _ in range(2000)]
    ids: list[int] = []

    assert finishes(lambda: ids.extend(recorder.insert_events(events) or []), 60), "the save hung"
    assert len(ids) == 2000 and ids == sorted(ids)
