"""An upgrade that brings a new read model, or redefines one, rebuilds it from the log on start."""

from __future__ import annotations

import threading

import psycopg

from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.maintenance import ensure_read_models
from plera.runtime import Services
from plera.settings import Settings

from .world import NAMES, make_world


def test_a_read_model_new_to_a_store_with_events_is_built_from_the_whole_log(services, clock, database_url, tmp_path):
    world = make_world(services, clock, NAMES)
    InProcessFeed(services, ALL).catch_up()
    with services.db.pool.connection() as conn:
        before = conn.execute(
            "SELECT count(*) FROM read.leads WHERE workspace_id = %s", (world.workspace_id,)
        ).fetchone()
        conn.execute("DROP TABLE read.leads, read.lead_groups")  # as if the leads read model were new in this release
        conn.execute("DELETE FROM read.definitions WHERE projection = 'leads'")

    again = Services.open(Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-key"))
    try:
        with again.db.pool.connection() as conn:
            after = conn.execute(
                "SELECT count(*) FROM read.leads WHERE workspace_id = %s", (world.workspace_id,)
            ).fetchone()
        assert before is not None and after == before and after[0] == len(NAMES)
        assert ensure_read_models(again, ALL) == []  # built once; the next start changes nothing
    finally:
        again.close()


def test_a_read_model_an_older_release_defined_otherwise_is_rebuilt(services, clock, database_url, tmp_path):
    world = make_world(services, clock, NAMES)
    InProcessFeed(services, ALL).catch_up()
    with services.db.pool.connection() as conn:
        conn.execute("UPDATE read.definitions SET digest = 'older' WHERE projection = 'leads'")
        conn.execute("DELETE FROM read.leads WHERE workspace_id = %s", (world.workspace_id,))

    assert ensure_read_models(services, ALL) == ["leads"]
    with services.db.pool.connection() as conn:
        rows = conn.execute("SELECT count(*) FROM read.leads WHERE workspace_id = %s", (world.workspace_id,)).fetchone()
    assert rows is not None and rows[0] == len(NAMES)


def test_a_start_on_current_read_models_does_not_wait_on_a_feed_writing_them(services):
    # A feed's batch holds its tables' row locks until it commits; a process starting meanwhile must not
    # queue behind it for a table lock (found by bench/soak.py: an API process's start deadlocked with
    # `plera consume`, and died).
    ensure_read_models(services, ALL)
    with psycopg.connect(services.db.url) as feed:
        feed.execute("LOCK TABLE read.due_queue IN ROW EXCLUSIVE MODE")  # what a write to it holds
        started = threading.Event()
        threading.Thread(target=lambda: (ensure_read_models(services, ALL), started.set()), daemon=True).start()
        try:
            assert started.wait(5)
        finally:
            feed.rollback()
    assert started.wait(30)
