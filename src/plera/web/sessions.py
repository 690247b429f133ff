"""Sessions of the people signed in to the web app, and the sign-in throttle.

A session is a random id in a cookie; the server keeps it (hashed) in plera_sessions, so signing out
really ends it. Idle time and throttle windows are counted on the database's wall clock (now()), never
on the simulated clock: a simulated week must not sign anyone out, nor lift a throttle.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from uuid import UUID

from psycopg_pool import ConnectionPool

from plera.secrets import hash_token

COOKIE = "plera_session"
IDLE_HOURS = 8
THROTTLE_MINUTES = 15
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class Session:
    user_id: UUID
    workspace_id: UUID
    csrf_token: str


def open_session(pool: ConnectionPool, user_id: UUID, workspace_id: UUID) -> tuple[str, Session]:
    """A new session: its raw id (for the cookie only) and what the server keeps."""
    raw = secrets.token_urlsafe(32)
    session = Session(user_id=user_id, workspace_id=workspace_id, csrf_token=secrets.token_urlsafe(32))
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO plera_sessions (id_hash, user_id, workspace_id, csrf_token) VALUES (%s, %s, %s, %s)",
            (hash_token(raw), user_id, workspace_id, session.csrf_token),
        )
    return raw, session


def touch_session(pool: ConnectionPool, raw: str) -> Session | None:
    """The live session of this cookie, its idle time started again; None when it ended or idled out."""
    with pool.connection() as conn:
        row = conn.execute(
            "UPDATE plera_sessions SET last_seen_at = now()"
            " WHERE id_hash = %s AND last_seen_at > now() - make_interval(hours => %s)"
            " RETURNING user_id, workspace_id, csrf_token",
            (hash_token(raw), IDLE_HOURS),
        ).fetchone()
        if row is None:
            conn.execute("DELETE FROM plera_sessions WHERE id_hash = %s", (hash_token(raw),))
            return None
    return Session(user_id=row[0], workspace_id=row[1], csrf_token=row[2])


def end_session(pool: ConnectionPool, raw: str) -> None:
    with pool.connection() as conn:
        conn.execute("DELETE FROM plera_sessions WHERE id_hash = %s", (hash_token(raw),))


def sign_in_throttled(pool: ConnectionPool, email: str, address: str) -> bool:
    """Too many failed sign-ins lately for this address or from this client."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE email = %s), count(*) FILTER (WHERE address = %s)"
            " FROM plera_sign_in_failures"
            " WHERE (email = %s OR address = %s) AND at > now() - make_interval(mins => %s)",
            (email, address, email, address, THROTTLE_MINUTES),
        ).fetchone()
    by_email, by_address = row if row else (0, 0)
    return bool(by_email >= MAX_FAILURES_PER_EMAIL or by_address >= MAX_FAILURES_PER_ADDRESS)


def record_sign_in_failure(pool: ConnectionPool, email: str, address: str) -> None:
    with pool.connection() as conn:
        conn.execute("INSERT INTO plera_sign_in_failures (email, address) VALUES (%s, %s)", (email, address))
        conn.execute(
            "DELETE FROM plera_sign_in_failures WHERE at < now() - make_interval(mins => %s)", (THROTTLE_MINUTES * 4,)
        )


def clear_sign_in_failures(pool: ConnectionPool, email: str) -> None:
    with pool.connection() as conn:
        conn.execute("DELETE FROM plera_sign_in_failures WHERE email = %s", (email,))
