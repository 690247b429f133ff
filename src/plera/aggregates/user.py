"""User: a person of a workspace who signs in to the web app. Their password hash is a secret: it lives
in the write-side credentials table (commands/users.py), never in an event."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidValue

ROLES = ("owner", "member")
_USERS = uuid5(NAMESPACE_URL, "plera:users")


def normal_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    email = normal_email(email)
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in email) or len(email) > 254:
        raise InvalidValue(f"{email!r} is not an email address")
    return email


class User(PleraAggregate):
    @staticmethod
    def create_id(email: str) -> UUID:
        """One person per email address across the workspaces: signing in needs only the address."""
        return uuid5(_USERS, normal_email(email))

    class UserAdded(PleraAggregate.Created):
        workspace_id: UUID
        email: str
        name: str
        role: str

    def __init__(self, workspace_id: UUID, email: str, name: str, role: str) -> None:
        self.workspace_id = workspace_id
        self.email = email
        self.name = name
        self.role = role
        self.has_password = False

    @classmethod
    def add(cls, *, workspace_id: UUID, email: str, name: str, role: str, at: datetime, actor: str) -> User:
        email = check_email(email)
        if role not in ROLES:
            raise InvalidValue(f"a role is one of {', '.join(ROLES)}")
        name = " ".join(name.split()) or email.partition("@")[0]
        if len(name) > 200:
            raise InvalidValue("a name has at most 200 characters")
        return cls._record_created(
            cls.UserAdded,
            id=cls.create_id(email),
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            email=email,
            name=name,
            role=role,
        )

    class UserPasswordSet(PleraAggregate.Event):
        """The hash itself is kept in the credentials table; the event only says that it changed."""

        via: str  # "link" (the one-time link) or "cli" (`plera user add --password-stdin`)

        def apply(self, user: User) -> None:
            user.has_password = True

    def password_set(self, *, via: str, at: datetime, actor: str) -> None:
        self._record(self.UserPasswordSet, at=at, actor=actor, via=via)
