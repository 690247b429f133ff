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
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from psycopg import Connection, Cursor, sql

from plera.envelope import Envelope
from plera.projections.registry import Projection

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
    """Applies the envelopes and records the positions reached, all or nothing. Returns how many."""
    # Pipeline mode: statements whose results no handler reads go out without waiting for the
    # server, and a handler that fetches a result syncs. The batch is all or nothing either way.
    with conn.transaction(), conn.cursor() as cur:
        _search_path(conn, schema)
        with conn.pipeline():
            return _apply(cur, projections, envelopes, positions, consumer)


def _apply(
    cur: Cursor,
    projections: Sequence[Projection],
    envelopes: Iterable[Envelope],
    positions: dict[str, int],
    consumer: str,
) -> int:
    count = 0
    for envelope in _by_aggregate(envelopes):
        for projection in projections:
            projection.apply(cur, envelope)
        count += 1
    for projection in projections:
        if projection.finish is not None:
            projection.finish(cur)
    for source, position in positions.items():
        cur.execute(
            "INSERT INTO positions (consumer, source, position) VALUES (%s, %s, %s)"
            " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position",
            (consumer, source, position),
        )
    return count


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
