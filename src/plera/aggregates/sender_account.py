"""SenderAccount: a mailbox or LinkedIn profile we send from, with its limits. Secrets by id only.

Its status says whether the worker may send from it: `active`; `paused` (by a person, or by the
worker after a failure of the account, with the reason); `unverified` (the last check of its
settings failed, with the error); `removed`. Checking the settings is I/O, done by the command
layer (`commands/sender_accounts.py`); the outcome comes here as `verified` or `verification_failed`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.channels import ACCOUNT_CHANNELS
from plera.aggregates.errors import InvalidValue, NotFound


class SenderAccount(PleraAggregate):
    class SenderAccountAdded(PleraAggregate.Created):
        workspace_id: UUID
        channel: str
        name: str
        address: str
        signature: str | None
        daily_limit: int
        weekly_invite_limit: int | None
        premium: bool
        connection: dict[str, Any]

    def __init__(
        self,
        workspace_id: UUID,
        channel: str,
        name: str,
        address: str,
        signature: str | None,
        daily_limit: int,
        weekly_invite_limit: int | None,
        premium: bool,
        connection: dict[str, Any],
    ) -> None:
        self.workspace_id = workspace_id
        self.channel = channel
        self.name = name
        self.address = address
        self.signature = signature
        self.daily_limit = daily_limit
        self.weekly_invite_limit = weekly_invite_limit
        self.premium = premium
        self.connection = connection
        self.status = "active"
        self.paused_reason: str | None = None
        self.last_error: str | None = None
        self.verified_at: datetime | None = None  # when its settings were last checked, whatever came of it

    @classmethod
    def add(
        cls,
        *,
        workspace_id: UUID,
        channel: str,
        name: str,
        address: str,
        daily_limit: int,
        at: datetime,
        actor: str,
        signature: str | None = None,
        weekly_invite_limit: int | None = None,
        premium: bool = False,
        connection: dict[str, Any] | None = None,
    ) -> SenderAccount:
        """`connection` holds host, port and the like, with secrets as `*_secret_id` references."""
        if channel not in ACCOUNT_CHANNELS:
            raise InvalidValue(f"channel is one of {', '.join(ACCOUNT_CHANNELS)}")
        _check_limits(channel, daily_limit, weekly_invite_limit)
        if channel == "linkedin" and weekly_invite_limit is None:
            weekly_invite_limit = 100
        return cls._record_created(
            cls.SenderAccountAdded,
            id=uuid4(),
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            channel=channel,
            name=name,
            address=address,
            signature=signature,
            daily_limit=daily_limit,
            weekly_invite_limit=weekly_invite_limit,
            premium=premium,
            connection=connection or {},
        )

    class SenderPaused(PleraAggregate.Event):
        reason: str

        def apply(self, sender: SenderAccount) -> None:
            sender.status = "paused"
            sender.paused_reason = self.reason

    def pause(self, *, reason: str, at: datetime, actor: str) -> None:
        """A removed sender stays removed: a send that failed after the removal pauses nothing."""
        if self.status not in ("paused", "removed"):
            self._record(self.SenderPaused, at=at, actor=actor, reason=reason)

    class SenderResumed(PleraAggregate.Event):
        def apply(self, sender: SenderAccount) -> None:
            sender.status = "active"
            sender.paused_reason = None

    def resume(self, *, at: datetime, actor: str) -> None:
        """An unverified sender is not resumed: only a successful check (`verified`) makes it active."""
        self.check_present()
        if self.status == "paused":
            self._record(self.SenderResumed, at=at, actor=actor)

    class SenderVerified(PleraAggregate.Event):
        def apply(self, sender: SenderAccount) -> None:
            sender.verified_at = self.timestamp
            sender.last_error = None
            if sender.status == "unverified":
                sender.status = "active"

    def verified(self, *, at: datetime, actor: str) -> None:
        """Its settings checked out. A paused sender stays paused: a person or a failed send paused it,
        and resuming it is a person's decision."""
        self.check_present()
        self._record(self.SenderVerified, at=at, actor=actor)

    class SenderVerificationFailed(PleraAggregate.Event):
        error: str

        def apply(self, sender: SenderAccount) -> None:
            sender.verified_at = self.timestamp
            sender.last_error = self.error
            sender.status = "unverified"
            sender.paused_reason = None

    def verification_failed(self, *, error: str, at: datetime, actor: str) -> None:
        self.check_present()
        self._record(self.SenderVerificationFailed, at=at, actor=actor, error=error)

    class SenderAccountChanged(PleraAggregate.Event):
        """The fields that changed, with their new values (`connection` whole, secrets by id)."""

        changes: dict[str, Any]

        def apply(self, sender: SenderAccount) -> None:
            for name, value in self.changes.items():
                setattr(sender, name, value)

    CHANGEABLE = ("name", "address", "signature", "daily_limit", "weekly_invite_limit", "premium", "connection")

    def change(self, *, at: datetime, actor: str, **fields: Any) -> bool:
        """Changes what differs among `fields` (any of CHANGEABLE); whether anything did."""
        self.check_present()
        unknown = set(fields) - set(self.CHANGEABLE)
        if unknown:
            raise InvalidValue(f"a sender account has no field {', '.join(sorted(unknown))} to change")
        changes = {k: v for k, v in fields.items() if getattr(self, k) != v}
        _check_limits(
            self.channel,
            changes.get("daily_limit", self.daily_limit),
            changes.get("weekly_invite_limit", self.weekly_invite_limit),
        )
        if changes:
            self._record(self.SenderAccountChanged, at=at, actor=actor, changes=changes)
        return bool(changes)

    class SenderAccountRemoved(PleraAggregate.Event):
        def apply(self, sender: SenderAccount) -> None:
            sender.status = "removed"

    def remove(self, *, at: datetime, actor: str) -> None:
        """Whether the sequences can spare it is the command's question (it reads the sequences)."""
        self.check_present()
        self._record(self.SenderAccountRemoved, at=at, actor=actor)

    def check_present(self) -> None:
        """A removed sender is gone for every command, as if it had never been."""
        if self.status == "removed":
            raise NotFound(f"no sender account {self.id}")

    def as_dict(self) -> dict[str, Any]:
        """The account as the API shows it: connection settings without any secret reference."""
        public = {k: v for k, v in self.connection.items() if not k.endswith("_secret_id")}
        return {
            "id": str(self.id),
            "channel": self.channel,
            "name": self.name,
            "address": self.address,
            "signature": self.signature,
            "daily_limit": self.daily_limit,
            "weekly_invite_limit": self.weekly_invite_limit,
            "premium": self.premium,
            "status": self.status,
            "paused_reason": self.paused_reason,
            "last_error": self.last_error,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "connection": public,
        }


def _check_limits(channel: str, daily_limit: int, weekly_invite_limit: int | None) -> None:
    if isinstance(daily_limit, bool) or daily_limit < 1:
        raise InvalidValue("daily_limit must be at least 1")
    if weekly_invite_limit is not None and (channel != "linkedin" or weekly_invite_limit < 1):
        raise InvalidValue("weekly_invite_limit is a positive number, for LinkedIn senders only")
