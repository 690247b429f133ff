"""Events a read model could not take, kept aside so that the rest of the log goes on (decision 0011).

When a handler fails on one event, the runner (projections/runner.py) applies the rest of the
batch and records the event here, for that read model only: the other read models take it. Later
events of the same aggregate are held here behind it (their rows would otherwise move past a
version they never reflected, and the version guard would then refuse the failed event forever).
A feed that cannot go on at all (not one event: the batch as a whole) is noted in `feed_failures`.

Both tables sit beside `positions` in the read schema (or a scratch schema: a rebuild keeps its
own), so `/readyz`, `/metrics`, `projections verify` and `projections retry` read the truth from
the database, the same from every process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import Connection, Cursor, sql

from plera.envelope import Envelope
from plera.text import clean_text

log = logging.getLogger(__name__)

DDL = [
    # The envelope is JSON kept as text: jsonb cannot hold the \u0000 that such an event may carry.
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " projection text NOT NULL, event_id uuid NOT NULL, consumer text NOT NULL,"
    " aggregate_id uuid NOT NULL, aggregate_version int NOT NULL, topic text NOT NULL, ce_type text NOT NULL,"
    " envelope text NOT NULL, error text NOT NULL, held_behind uuid, failed_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (projection, event_id))",
    "CREATE INDEX IF NOT EXISTS dead_letters_aggregate_idx ON dead_letters (aggregate_id)",
    "CREATE TABLE IF NOT EXISTS feed_failures ("
    " consumer text PRIMARY KEY, error text NOT NULL, since timestamptz NOT NULL DEFAULT now(),"
    " last_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 1)",
]
_ERROR_LENGTH = 2000  # an error message is a clue, not a log: the first lines say what failed

# A feed takes this lock shared for each batch, `retry` exclusively: a batch then never decides to
# hold an event behind a dead letter that a retry is removing at that moment.
RETRY_LOCK = 7340004

# Failures of the connection or the server, not of an event: trying the same again is the cure.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)

Held = dict[tuple[str, UUID], UUID]  # (projection, aggregate) → the event id of its first dead letter


@dataclass(frozen=True)
class DeadLetter:
    projection: str
    envelope: Envelope
    error: str
    held_behind: UUID | None = None  # None: it failed itself; else the failed event it waits behind


def error_text(e: BaseException) -> str:
    return clean_text(f"{type(e).__name__}: {e}")[:_ERROR_LENGTH]


def held_aggregates(cur: Cursor, envelopes: Sequence[Envelope]) -> Held:
    """The (projection, aggregate) pairs among these envelopes' aggregates that wait behind a dead letter."""
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (RETRY_LOCK,))
    ids = list({e.aggregate_id for e in envelopes})
    rows = cur.execute(
        "SELECT DISTINCT ON (projection, aggregate_id) projection, aggregate_id, event_id FROM dead_letters"
        " WHERE aggregate_id = ANY(%s) ORDER BY projection, aggregate_id, aggregate_version",
        (ids,),
    ).fetchall()
    return {(projection, aggregate_id): event_id for projection, aggregate_id, event_id in rows}


def record(cur: Cursor, letters: Iterable[DeadLetter], consumer: str) -> None:
    rows = [
        (
            letter.projection,
            letter.envelope.event_id,
            consumer,
            letter.envelope.aggregate_id,
            letter.envelope.aggregate_version,
            letter.envelope.topic,
            letter.envelope.ce_type,
            json.dumps(letter.envelope.body(), default=str),
            letter.error,
            letter.held_behind,
        )
        for letter in letters
    ]
    if rows:
        cur.executemany(
            "INSERT INTO dead_letters (projection, event_id, consumer, aggregate_id, aggregate_version, topic,"
            " ce_type, envelope, error, held_behind) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (projection, event_id) DO NOTHING",
            rows,
        )


def envelope_of_letter(ce_type: str, envelope: str) -> Envelope:
    return Envelope.from_message(ce_type, envelope.encode())


@dataclass(frozen=True)
class Faults:
    """What keeps the read models from being whole: dead letters by (consumer, projection), failing feeds."""

    dead_letters: dict[tuple[str, str], int]
    failing_feeds: dict[str, tuple[datetime, int, str]]  # consumer → (since, attempts, last error)

    @property
    def any(self) -> bool:
        return bool(self.dead_letters or self.failing_feeds)

    def sentences(self) -> list[str]:
        by_projection: dict[str, int] = {}
        for (_, projection), count in self.dead_letters.items():
            by_projection[projection] = by_projection.get(projection, 0) + count
        lines = [
            f"{projection}: {count} event(s) not applied (dead letters; `plera projections retry` after a fix)"
            for projection, count in sorted(by_projection.items())
        ]
        lines += [
            f"the {consumer} feed is failing since {since.isoformat()} ({attempts} attempts): {error}"
            for consumer, (since, attempts, error) in sorted(self.failing_feeds.items())
        ]
        return lines


def faults(conn: Connection[Any], schema: str = "read") -> Faults:
    """Dead letters and failing feeds in `schema`; none before any feed made the tables."""
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.feed_failures",)).fetchone()
    if not found or not found[0]:
        return Faults({}, {})
    letters = conn.execute(
        sql.SQL("SELECT consumer, projection, count(*) FROM {} GROUP BY consumer, projection").format(
            sql.Identifier(schema, "dead_letters")
        )
    ).fetchall()
    feeds = conn.execute(
        sql.SQL("SELECT consumer, since, attempts, error FROM {}").format(sql.Identifier(schema, "feed_failures"))
    ).fetchall()
    return Faults(
        {(consumer, projection): int(count) for consumer, projection, count in letters},
        {consumer: (since, int(attempts), error) for consumer, since, attempts, error in feeds},
    )


def feed_failed(conn: Connection[Any], consumer: str, e: BaseException, schema: str = "read") -> None:
    """Notes that `consumer` could not apply a batch; best effort (the database may be what failed)."""
    try:
        conn.rollback()
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} AS f (consumer, error) VALUES (%s, %s) ON CONFLICT (consumer)"
                    " DO UPDATE SET error = EXCLUDED.error, last_at = now(), attempts = f.attempts + 1"
                ).format(sql.Identifier(schema, "feed_failures")),
                (consumer, error_text(e)),
            )
    except Exception:
        log.warning("could not note the %s feed's failure", consumer, exc_info=True)


def feed_recovered(conn: Connection[Any], consumer: str, schema: str = "read") -> None:
    with conn.transaction():
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE consumer = %s").format(sql.Identifier(schema, "feed_failures")), (consumer,)
        )
