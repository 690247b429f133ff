"""Applies envelopes to projections in one transaction, with the position of their source.

A batch is applied aggregate by aggregate, each aggregate's events together and in version order,
which the read-model rule allows (handlers give the same rows whatever the interleaving of
different aggregates' events): so handlers can hold a new aggregate's row back and write it once,
as of its last event in the batch.

Handlers use unqualified table names: the runner sets the search path, so the same handlers
write the live schema `read` or a scratch schema that `projections verify` compares.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from psycopg import Connection, Cursor, sql

from plera.envelope import Envelope
from plera.projections import dead_letters
from plera.projections.dead_letters import TRANSIENT, DeadLetter, Held
from plera.projections.registry import Projection

log = logging.getLogger(__name__)

TABLE_NAME = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
POSITIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS positions ("
    " consumer text NOT NULL, source text NOT NULL, position bigint NOT NULL,"
    " PRIMARY KEY (consumer, source))"
)


DEFINITIONS_DDL = "CREATE TABLE IF NOT EXISTS definitions (projection text PRIMARY KEY, digest text NOT NULL)"


def definition_digest(projection: Projection) -> str:
    return hashlib.sha256("\n".join(projection.ddl).encode()).hexdigest()


def ensure_schema(conn: Connection, projections: Iterable[Projection], schema: str = "read") -> list[Projection]:
    """Creates the projections' missing tables in `schema`. Returns the projections whose tables
    exist under another definition (an older release's): those need a rebuild, and are left alone."""
    stale = []
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        _search_path(conn, schema)
        conn.execute("SELECT pg_advisory_xact_lock(7340002)")
        conn.execute(POSITIONS_DDL)
        conn.execute(DEFINITIONS_DDL)
        for statement in dead_letters.DDL:
            conn.execute(statement)  # type: ignore[arg-type]
        for projection in projections:
            digest = definition_digest(projection)
            found = conn.execute("SELECT digest FROM definitions WHERE projection = %s", (projection.name,)).fetchone()
            if found is None and _has_tables(conn, schema, projection) or found is not None and found[0] != digest:
                stale.append(projection)
                continue
            for statement in projection.ddl:
                conn.execute(statement)  # type: ignore[arg-type]
            record_definition(conn, projection)
    return stale


def record_definition(conn: Connection, projection: Projection) -> None:
    """Notes the definition the projection's tables in the search path's schema now have."""
    conn.execute(
        "INSERT INTO definitions (projection, digest) VALUES (%s, %s)"
        " ON CONFLICT (projection) DO UPDATE SET digest = EXCLUDED.digest",
        (projection.name, definition_digest(projection)),
    )


def _has_tables(conn: Connection, schema: str, projection: Projection) -> bool:
    names = [t for statement in projection.ddl for t in TABLE_NAME.findall(statement)]
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
        (schema, names),
    ).fetchone()
    return bool(found and found[0])


def apply_batch(
    conn: Connection,
    projections: Sequence[Projection],
    envelopes: Iterable[Envelope],
    positions: dict[str, int],
    *,
    consumer: str,
    schema: str = "read",
) -> int:
    """Applies the envelopes and records the positions reached, in one transaction. Returns how many.

    An event that a read model cannot take does not stop the others (decision 0011): when the batch
    fails, it is applied again in parts, in savepoints, down to the failing event, which goes to
    that read model's dead letters while the rest of the batch, and the other read models, go on.
    A failure of the connection or the server (OperationalError: an outage, a deadlock) is no
    event's fault: it is raised, and the batch comes again.
    """
    ordered = list(_by_aggregate(envelopes))
    try:
        # Pipeline mode: statements whose results no handler reads go out without waiting for the
        # server, and a handler that fetches a result syncs.
        with conn.transaction(), conn.cursor() as cur:
            _search_path(conn, schema)
            held = dead_letters.held_aggregates(cur, ordered)
            with conn.pipeline():
                dead_letters.record(cur, _apply(cur, projections, ordered, held), consumer)
                _write_positions(cur, positions, consumer)
        return len(ordered)
    except TRANSIENT:
        raise
    except Exception as e:
        log.warning("a batch of %d events failed (%s); applying it in parts", len(ordered), e)
    with conn.transaction(), conn.cursor() as cur:
        _search_path(conn, schema)
        held = dead_letters.held_aggregates(cur, ordered)
        letters = _isolating(conn, projections, ordered, held)
        dead_letters.record(cur, letters, consumer)
        _write_positions(cur, positions, consumer)
    for letter in letters:
        if letter.held_behind is None:
            log.error(
                "%s could not take %s %s v%d (dead letter): %s",
                letter.projection,
                letter.envelope.type,
                letter.envelope.aggregate_id,
                letter.envelope.aggregate_version,
                letter.error,
            )
    return len(ordered)


def _apply(
    cur: Cursor, projections: Sequence[Projection], envelopes: Sequence[Envelope], held: Held
) -> list[DeadLetter]:
    """Applies the envelopes, each projection's finish hook after. Returns the events held behind a
    dead letter of their aggregate, which the projection does not get (and `held` unchanged)."""
    waiting: list[DeadLetter] = []
    for envelope in envelopes:
        for projection in projections:
            behind = held.get((projection.name, envelope.aggregate_id)) if held else None
            if behind is None:
                projection.apply(cur, envelope)
            elif behind != envelope.event_id:
                waiting.append(DeadLetter(projection.name, envelope, "held behind a failed event", behind))
    for projection in projections:
        if projection.finish is not None:
            projection.finish(cur)
    return waiting


def _isolating(
    conn: Connection, projections: Sequence[Projection], envelopes: Sequence[Envelope], held: Held
) -> list[DeadLetter]:
    """Applies the envelopes in savepoints, halving a part that fails down to single events, and those
    projection by projection. Returns the dead letters; `held` gains the failed (projection, aggregate)s.

    Halves go in order, so an aggregate's later events come after its failed one is known. Each
    attempt has a cursor of its own: what a failed attempt's handlers noted for the batch's end
    (projections/batch.py) is dropped with it."""
    letters: list[DeadLetter] = []

    def attempt(part: Sequence[Envelope], only: Sequence[Projection]) -> None:
        with conn.transaction(), conn.cursor() as cur, conn.pipeline():
            waiting = _apply(cur, only, part, held)
        letters.extend(waiting)

    def split(part: Sequence[Envelope]) -> None:
        try:
            attempt(part, projections)
            return
        except TRANSIENT:
            raise
        except Exception:
            if len(part) == 1:
                single(part[0])
                return
        half = len(part) // 2
        split(part[:half])
        split(part[half:])

    def single(envelope: Envelope) -> None:
        failed: list[tuple[Projection, str]] = []
        for projection in projections:
            try:
                attempt([envelope], [projection])
            except TRANSIENT:
                raise
            except Exception as e:
                failed.append((projection, dead_letters.error_text(e)))
        for projection, error in failed:
            letters.append(DeadLetter(projection.name, envelope, error))
            held[(projection.name, envelope.aggregate_id)] = envelope.event_id

    split(envelopes)
    return letters


def _write_positions(cur: Cursor, positions: dict[str, int], consumer: str) -> None:
    for source, position in positions.items():
        cur.execute(
            "INSERT INTO positions (consumer, source, position) VALUES (%s, %s, %s)"
            " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position",
            (consumer, source, position),
        )


def _by_aggregate(envelopes: Iterable[Envelope]) -> Iterator[Envelope]:
    """Each aggregate's events together, in version order, the aggregates in the order they first come."""
    streams: dict[Any, list[Envelope]] = {}
    for envelope in envelopes:
        streams.setdefault(envelope.aggregate_id, []).append(envelope)
    for events in streams.values():
        events.sort(key=_aggregate_version)  # in order already, unless some came again
        yield from events


def _aggregate_version(envelope: Envelope) -> int:
    return envelope.aggregate_version


def read_positions(conn: Connection, consumer: str, schema: str = "read") -> dict[str, int]:
    with conn.transaction():
        _search_path(conn, schema)
        rows = conn.execute("SELECT source, position FROM positions WHERE consumer = %s", (consumer,)).fetchall()
    return {source: position for source, position in rows}


def _search_path(conn: Connection, schema: str) -> None:
    conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
