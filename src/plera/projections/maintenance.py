"""Rebuild and verify: the read models replayed from the notification log, the source of truth.

`rebuild` builds the projections' tables afresh in a staging schema, from the whole log, while
the live tables keep serving; then, in one short transaction, it takes in the events appended
meanwhile and swaps the new tables in. A crash before the swap leaves the live tables as they
were. The live positions are left alone: the new tables reflect the log at least as far as
any consumer's position, and redelivery is harmless, so the feeders simply go on from where
they are (re-applying a few events as no-ops). That also makes rebuilding one projection safe
while the others share the embedded feed's position.

`verify` builds every projection into a scratch schema and compares row sets with the live
schema AS OF THE SAME POSITION, without touching or pausing the live side: inside one
REPEATABLE READ snapshot it reads the live position (the embedded feed writes it in the same
transaction as its rows), brings the scratch schema to exactly that notification, and
compares. With no embedded position (the Kafka consumers keep per-partition offsets, which
name no log position) it compares against the log's end, so the caller must first let the
consumers drain (lag 0) with no writes in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import psycopg
from psycopg import Connection, sql

from plera.envelope import Envelope, StoredEnvelopes
from plera.projections.dead_letters import faults
from plera.projections.registry import Projection
from plera.projections.runner import (
    TABLE_NAME,
    apply_batch,
    definition_digest,
    ensure_schema,
    read_positions,
    record_definition,
)

if TYPE_CHECKING:
    from plera.runtime import Services

Progress = Callable[[int, int], None]  # (notification reached, last notification)

BATCH = 2000
WORKERS = 1  # shards replayed side by side (see replay); on 2 cores one is fastest (bench/read_models.py)
REPLAY_CONSUMER = "rebuild"  # the position a staging or scratch schema keeps of its own replay
EMBEDDED_CONSUMER = "embedded"  # consumers/inprocess.py CONSUMER
FEED_LOCK = 7340003  # consumers/inprocess.py _LOCK: held by the embedded feed while it applies
_SHOWN = 20  # differences listed per table before "and N more"


def tables_of(projections: Sequence[Projection]) -> list[str]:
    """The tables the projections' DDL creates, in order."""
    return [t for p in projections for statement in p.ddl for t in TABLE_NAME.findall(statement)]


def replay(
    sv: Services,
    projections: Sequence[Projection],
    schema: str,
    *,
    upto: int | None = None,
    workers: int = WORKERS,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> int:
    """Applies the log after `schema`'s own replay positions, up to `upto` (default: the end). Returns how many.

    The aggregates are split into `workers` shards replayed side by side, each on its own
    connection. That is safe for the rule every handler keeps (the Kafka consumers rely on it
    too): the rows do not depend on how different aggregates' events interleave, and each
    aggregate's events stay in order within its shard. Each batch is one transaction with its
    shard's position, so an interrupted replay resumes.
    """
    last = upto if upto is not None else (sv.events.app.recorder.max_notification_id() or 0)
    tracker = _Tracker(progress, last, workers)

    def shard(number: int) -> int:
        with sv.db.pool.connection() as conn:
            return _replay_shard(sv, conn, projections, schema, (number, workers), last, batch, tracker)

    if workers == 1:
        return shard(0)
    with ThreadPoolExecutor(workers, thread_name_prefix="plera-replay") as pool:
        return sum(pool.map(shard, range(workers)))


def _replay_on(
    sv: Services, conn: Connection, projections: Sequence[Projection], schema: str, *, upto: int, workers: int
) -> int:
    """The same replay on one connection, shard after shard, inside the caller's transaction."""
    tracker = _Tracker(None, upto, workers)
    return sum(
        _replay_shard(sv, conn, projections, schema, (number, workers), upto, BATCH, tracker)
        for number in range(workers)
    )


def _replay_shard(
    sv: Services,
    conn: Connection,
    projections: Sequence[Projection],
    schema: str,
    shard: tuple[int, int],
    last: int,
    batch: int,
    tracker: _Tracker,
) -> int:
    number, shards = shard
    recorder, envelope_of = sv.events.app.recorder, StoredEnvelopes(sv.events.app.mapper)
    key = f"log {number}/{shards}"

    def read(start: int) -> tuple[list[Envelope], int] | None:
        """The shard's envelopes after `start`, and the notification they reach; None at the end."""
        notifications = recorder.select_notifications(start + 1, batch, stop=last) if start < last else []
        if not notifications:
            return None
        mine = [n for n in notifications if shards == 1 or UUID(str(n.originator_id)).int % shards == number]
        return [envelope_of(n) for n in mine], notifications[-1].id

    applied = 0
    # The next batch is read and decoded while this one is applied: most of applying is waiting for
    # the server, which leaves the interpreter free.
    with ThreadPoolExecutor(1, thread_name_prefix="plera-replay-read") as reader:
        pending = reader.submit(read, read_positions(conn, REPLAY_CONSUMER, schema).get(key, 0))
        while (found := pending.result()) is not None:
            envelopes, start = found
            pending = reader.submit(read, start)
            applied += apply_batch(conn, projections, envelopes, {key: start}, consumer=REPLAY_CONSUMER, schema=schema)
            tracker.reached(number, start)
    return applied


class _Tracker:
    """Reports the slowest shard's position, so progress only moves forward and ends at `last`."""

    def __init__(self, progress: Progress | None, last: int, shards: int) -> None:
        self._progress, self._last = progress, last
        self._positions = [0] * shards
        self._lock = threading.Lock()

    def reached(self, shard: int, position: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._positions[shard] = position
            self._progress(min(self._positions), self._last)


def rebuild(
    sv: Services,
    projections: Sequence[Projection],
    *,
    schema: str = "read",
    progress: Progress | None = None,
    workers: int = WORKERS,
    batch: int = BATCH,
) -> tuple[int, float]:
    """Rebuilds the projections' tables in `schema` from the whole log. Returns (events applied, seconds)."""
    started = time.perf_counter()
    staging = f"rebuild_{uuid4().hex[:12]}"
    with sv.db.pool.connection() as conn:
        try:
            ensure_schema(conn, projections, staging)
            events = replay(sv, projections, staging, workers=workers, batch=batch, progress=progress)
            events += _swap_in(sv, conn, projections, staging, schema, workers)
        finally:
            _drop_schema(conn, staging)
    return events, time.perf_counter() - started


def _swap_in(
    sv: Services, conn: Connection, projections: Sequence[Projection], staging: str, schema: str, workers: int
) -> int:
    """Catches the staging tables up to the log's end and moves them into `schema`, all in one transaction."""
    ensure_schema(conn, [], schema)
    tables = tables_of(projections)
    for attempt in range(3):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))  # the embedded feed waits
                live = _existing(conn, schema, tables)
                if live:  # writers (Kafka consumers) wait from here; readers go on until the swap
                    names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in live)
                    conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(names))
                end = sv.events.app.recorder.max_notification_id() or 0
                caught_up = _replay_on(sv, conn, projections, staging, upto=end, workers=workers)
                for table in tables:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))
                    conn.execute(
                        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                            sql.Identifier(staging, table), sql.Identifier(schema)
                        )
                    )
                conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
                for projection in projections:
                    record_definition(conn, projection)
                _take_dead_letters(conn, projections, staging, schema)
            return caught_up
        except psycopg.errors.DeadlockDetected:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _take_dead_letters(conn: Connection, projections: Sequence[Projection], staging: str, schema: str) -> None:
    """The rebuilt tables lack what the rebuild could not apply, and only that: their dead letters
    replace the live ones."""
    names = [p.name for p in projections]
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE projection = ANY(%s)").format(sql.Identifier(schema, "dead_letters")), (names,)
    )
    conn.execute(
        sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE projection = ANY(%s)").format(
            sql.Identifier(schema, "dead_letters"), sql.Identifier(staging, "dead_letters")
        ),
        (names,),
    )


def ensure_read_models(sv: Services, projections: Sequence[Projection]) -> list[str]:
    """Creates missing read-model tables, and rebuilds those an older release defined otherwise, and
    those new to a store that already has events (the feeds go on from their position, so a new read
    model would otherwise miss the past). Returns the names rebuilt."""
    with sv.db.pool.connection() as conn:
        if _current(conn, projections):
            # The usual start: nothing to create. The DDL would take table locks (CREATE INDEX IF NOT
            # EXISTS locks its table first) while the feeds write those tables: a deadlock with a feed.
            return []
        new = _undefined(conn, projections) if sv.events.app.recorder.max_notification_id() else []
        stale = ensure_schema(conn, [p for p in projections if p not in new])
    if stale or new:
        rebuild(sv, [*stale, *new])
    return [p.name for p in [*stale, *new]]


def _current(conn: Connection, projections: Sequence[Projection]) -> bool:
    """Whether every projection's tables are recorded in `read` under this release's definition."""
    with conn.transaction():
        if not _existing(conn, "read", ["definitions"]):
            return False
        recorded: dict[str, str] = dict(conn.execute("SELECT projection, digest FROM read.definitions").fetchall())
    return all(recorded.get(p.name) == definition_digest(p) for p in projections)


def _undefined(conn: Connection, projections: Sequence[Projection]) -> list[Projection]:
    """The projections that have never been built in `read` (no definition recorded, no tables)."""
    with conn.transaction():
        known = _existing(conn, "read", ["definitions"])
        defined = {r[0] for r in conn.execute("SELECT projection FROM read.definitions").fetchall()} if known else set()
        present = set(_existing(conn, "read", tables_of(projections)))
    return [p for p in projections if p.name not in defined and not present & set(tables_of([p]))]


def verify(
    sv: Services, projections: Sequence[Projection], *, schema: str = "read", workers: int = WORKERS
) -> list[str]:
    """Differences between a fresh rebuild and the live tables, as sentences; [] when they agree."""
    scratch = f"verify_{uuid4().hex[:12]}"
    with sv.db.pool.connection() as conn:
        try:
            ensure_schema(conn, projections, scratch)
            # The bulk of the replay, outside the snapshot: up to where the live side is now.
            replay(sv, projections, scratch, upto=_live_position(sv, conn, schema), workers=workers)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                position = _live_position(sv, conn, schema)  # the snapshot starts here
                _replay_on(sv, conn, projections, scratch, upto=position, workers=workers)
                volatile = {t: cols for p in projections for t, cols in p.volatile.items()}
                differences = [
                    line
                    for table in tables_of(projections)
                    for line in _compare(conn, scratch, schema, table, volatile.get(table, frozenset()))
                ]
                # A rebuild skips the events the live side skipped, so the rows alone can agree:
                # events kept aside are a difference from the log all the same.
                differences += faults(conn, schema).sentences()
                differences += [f"the rebuild: {line}" for line in faults(conn, scratch).sentences()]
        finally:
            _drop_schema(conn, scratch)
    return differences


def _live_position(sv: Services, conn: Connection, schema: str) -> int:
    """The embedded feed's position in `schema`; the log's end when there is none (Kafka mode)."""
    with conn.transaction():
        exists = bool(_existing(conn, schema, ["positions"]))
    position = read_positions(conn, EMBEDDED_CONSUMER, schema).get("log") if exists else None
    return position if position is not None else (sv.events.app.recorder.max_notification_id() or 0)


def _compare(conn: Connection, rebuilt: str, live: str, table: str, volatile: frozenset[str]) -> list[str]:
    if not _existing(conn, live, [table]):
        return [f"{table}: missing from the live schema {live!r}"]
    columns = [c for c in _columns(conn, rebuilt, table) if c not in volatile]
    key = [c for c in _primary_key(conn, rebuilt, table) if c in columns] or columns
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    a, b = sql.Identifier(rebuilt, table), sql.Identifier(live, table)
    query = sql.SQL(
        "SELECT 'rebuilt', * FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}) x"
        " UNION ALL SELECT 'live', * FROM (SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a}) y"
    ).format(cols=cols, a=a, b=b)
    sides: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for side, *values in conn.execute(query).fetchall():
        row = dict(zip(columns, values, strict=True))
        sides.setdefault(tuple(row[k] for k in key), {})[side] = row
    lines = []
    for pk, found in sides.items():
        name = f"{table} " + ", ".join(f"{k}={v}" for k, v in zip(key, pk, strict=True))
        if "live" not in found:
            lines.append(f"{name}: missing from live")
        elif "rebuilt" not in found:
            lines.append(f"{name}: in live but not in the rebuild")
        else:
            changed = [c for c in columns if found["live"][c] != found["rebuilt"][c]]
            detail = "; ".join(f"{c} is {found['live'][c]!r} live, {found['rebuilt'][c]!r} rebuilt" for c in changed)
            lines.append(f"{name}: {detail or 'duplicated rows differ'}")
    if len(lines) > _SHOWN:
        lines = [*lines[:_SHOWN], f"{table}: and {len(lines) - _SHOWN} more differences"]
    return lines


def _existing(conn: Connection, schema: str, tables: Sequence[str]) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
        (schema, list(tables)),
    ).fetchall()
    found = {r[0] for r in rows}
    return [t for t in tables if t in found]


def _columns(conn: Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def _primary_key(conn: Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (sql.Identifier(schema, table).as_string(conn),),
    ).fetchall()
    return [r[0] for r in rows]


def _drop_schema(conn: Connection, schema: str) -> None:
    conn.rollback()
    with conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
