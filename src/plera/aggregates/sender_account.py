"""SenderAccount: a mailbox or LinkedIn profile we send from, with its limits. Secrets by id only."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.channels import ACCOUNT_CHANNELS
from plera.aggregates.errors import InvalidValue


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
        if isinstance(daily_limit, bool) or daily_limit < 1:
            raise InvalidValue("daily_limit must be at least 1")
        if weekly_invite_limit is not None and (channel != "linkedin" or weekly_invite_limit < 1):
            raise InvalidValue("weekly_invite_limit is a positive number, for LinkedIn senders only")
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
        if self.status != "paused":
            self._record(self.SenderPaused, at=at, actor=actor, reason=reason)

    class SenderResumed(PleraAggregate.Event):
        def apply(self, sender: SenderAccount) -> None:
            sender.status = "active"
            sender.paused_reason = None

    def resume(self, *, at: datetime, actor: str) -> None:
        if self.status != "active":
            self._record(self.SenderResumed, at=at, actor=actor)

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
            "connection": public,
        }
