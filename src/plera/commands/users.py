"""People of a workspace who sign in to the web app: add them, set their password, check it.

A password hash (argon2) is a secret: it lives in the plera_credentials table, keyed by the user's id,
never in an event. A one-time link to set a password is a random token, stored hashed, single use and
expiring on the wall clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.persistence import IntegrityError
from pydantic import Field

from plera.aggregates.errors import DomainError, InvalidValue, NotFound
from plera.aggregates.user import User, check_email, normal_email
from plera.aggregates.workspace import Workspace
from plera.commands.models import Command
from plera.runtime import Services
from plera.secrets import hash_token

LINK_HOURS = 72
MIN_PASSWORD = 10
MAX_PASSWORD = 1000
DEFAULT_WORKSPACE_KEY = "default_workspace_id"  # plera_meta, set by startup.py on the first start

_hasher = PasswordHasher()
# Checked against when no one has the address, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserExists(DomainError):
    code = "user_exists"


class AddUser(Command):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(default="", max_length=200)
    role: str = "member"


def add_user(sv: Services, workspace_id: UUID, cmd: AddUser, actor: str) -> User:
    sv.events.get(workspace_id, Workspace)  # NotFound for no such workspace
    user = User.add(
        workspace_id=workspace_id, email=cmd.email, name=cmd.name, role=cmd.role, at=sv.clock.now(), actor=actor
    )
    try:
        sv.events.save(user)
    except IntegrityError:
        raise UserExists(f"someone with the address {user.email} already exists") from None
    with sv.db.pool.connection() as conn:
        conn.execute(
            "INSERT INTO plera_credentials (user_id, workspace_id, email) VALUES (%s, %s, %s)"
            " ON CONFLICT (user_id) DO NOTHING",
            (user.id, workspace_id, user.email),
        )
    return user


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidValue(f"a password has at most {MAX_PASSWORD} characters")


def set_password(sv: Services, user_id: UUID, password: str, *, via: str, actor: str) -> User:
    check_password_rules(password)
    user = sv.events.get(user_id, User)
    hashed = _hasher.hash(password)
    with sv.db.pool.connection() as conn:
        conn.execute(
            "UPDATE plera_credentials SET password_hash = %s, updated_at = now() WHERE user_id = %s", (hashed, user_id)
        )
        # A new password ends the sessions opened with the old one.
        conn.execute("DELETE FROM plera_sessions WHERE user_id = %s", (user_id,))
    user.password_set(via=via, at=sv.clock.now(), actor=actor)
    sv.events.save(user)
    return user


def issue_password_link(sv: Services, user_id: UUID, base_url: str) -> str:
    """A one-time link to set the user's password: `{base_url}/set-password?token=…`."""
    sv.events.get(user_id, User)
    token = secrets.token_urlsafe(32)
    with sv.db.pool.connection() as conn:
        conn.execute(
            "INSERT INTO plera_password_links (token_hash, user_id, expires_at)"
            " VALUES (%s, %s, now() + make_interval(hours => %s))",
            (hash_token(token), user_id, LINK_HOURS),
        )
    return f"{base_url.rstrip('/')}/set-password?token={token}"


def password_link_user(sv: Services, token: str) -> User | None:
    """Whose link this is, while it is unused and unexpired."""
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT user_id FROM plera_password_links WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()",
            (hash_token(token),),
        ).fetchone()
    return None if row is None else sv.events.get(row[0], User)


def use_password_link(sv: Services, token: str, password: str) -> User | None:
    """Sets the password through the link and spends it; None when the link is used, expired or unknown."""
    check_password_rules(password)
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "UPDATE plera_password_links SET used_at = now()"
            " WHERE token_hash = %s AND used_at IS NULL AND expires_at > now() RETURNING user_id",
            (hash_token(token),),
        ).fetchone()
    if row is None:
        return None
    user = sv.events.get(row[0], User)
    return set_password(sv, user.id, password, via="link", actor=actor_of(user))


def check_credentials(sv: Services, email: str, password: str) -> User | None:
    """The user whose address and password these are, else None (saying nothing of which was wrong)."""
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT user_id, password_hash FROM plera_credentials WHERE email = %s", (normal_email(email),)
        ).fetchone()
    stored = row[1] if row is not None and row[1] else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or stored is None:
        return None
    return sv.events.get(row[0], User)


def actor_of(user: User) -> str:
    """The actor of the events a person causes: their name and address, as an auditor reads them."""
    return f"{user.name} <{user.email}>"


@dataclass(frozen=True)
class WorkspaceRef:
    id: UUID
    name: str


def find_workspace(sv: Services, name_or_id: str) -> WorkspaceRef:
    """A workspace by id, or by name (`default` is the one the first start created)."""
    try:
        workspace = sv.events.get(UUID(name_or_id), Workspace)
        return WorkspaceRef(workspace.id, workspace.name)
    except (ValueError, NotFound):
        pass
    if name_or_id == "default" and (default_id := sv.db.meta(DEFAULT_WORKSPACE_KEY)):
        return WorkspaceRef(UUID(default_id), "default")
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT originator_id FROM plera_events WHERE originator_version = 1 AND topic LIKE %s",
            ("%Workspace.WorkspaceCreated",),
        ).fetchall()
    found = [w for w in (sv.events.get(r[0], Workspace) for r in rows) if w.name == name_or_id]
    if not found:
        raise NotFound(f"no workspace named {name_or_id!r}")
    if len(found) > 1:
        raise InvalidValue(f"{len(found)} workspaces are named {name_or_id!r}: name one by its id")
    return WorkspaceRef(found[0].id, found[0].name)


__all__ = ["AddUser", "UserExists", "add_user", "check_email", "find_workspace", "set_password"]
