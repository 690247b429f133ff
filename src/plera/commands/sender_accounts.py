"""Sender accounts: mailboxes and LinkedIn profiles, with their limits. Secrets go to the vault."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field, SecretStr, model_validator

from plera.aggregates.sender_account import SenderAccount
from plera.commands.models import Command
from plera.runtime import Services


class SmtpSettings(Command):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True


class ProviderSettings(Command):
    base_url: str = Field(min_length=1)
    api_key: SecretStr
    account_id: str = Field(min_length=1)


class AddSenderAccount(Command):
    channel: Literal["email", "linkedin"]
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    signature: str | None = None
    daily_limit: int = Field(ge=1, le=10_000)
    weekly_invite_limit: int | None = Field(default=None, ge=1, le=1_000)
    premium: bool = False
    smtp: SmtpSettings | None = None
    provider: ProviderSettings | None = None

    @model_validator(mode="after")
    def _settings_match_channel(self) -> AddSenderAccount:
        if self.channel == "email" and self.provider is not None:
            raise ValueError("an email sender takes smtp settings, not provider settings")
        if self.channel == "linkedin" and self.smtp is not None:
            raise ValueError("a LinkedIn sender takes provider settings, not smtp settings")
        if self.channel == "email" and self.weekly_invite_limit is not None:
            raise ValueError("weekly_invite_limit is for LinkedIn senders only")
        return self


def add_sender_account(sv: Services, workspace_id: UUID, cmd: AddSenderAccount, actor: str) -> SenderAccount:
    sender = SenderAccount.add(
        workspace_id=workspace_id,
        channel=cmd.channel,
        name=cmd.name,
        address=cmd.address,
        signature=cmd.signature,
        daily_limit=cmd.daily_limit,
        weekly_invite_limit=cmd.weekly_invite_limit,
        premium=cmd.premium,
        connection=_connection(sv, cmd),
        at=sv.clock.now(),
        actor=actor,
    )
    sv.events.save(sender)
    return sender


def _connection(sv: Services, cmd: AddSenderAccount) -> dict[str, Any]:
    """Connection settings as events keep them: each secret replaced by its vault id."""
    if cmd.smtp is not None:
        smtp = cmd.smtp
        password = smtp.password.get_secret_value() if smtp.password else None
        return {
            "kind": "smtp",
            "host": smtp.host,
            "port": smtp.port,
            "username": smtp.username,
            "starttls": smtp.starttls,
            "password_secret_id": str(sv.vault.put(password)) if password else None,
        }
    if cmd.provider is not None:
        provider = cmd.provider
        return {
            "kind": "provider",
            "base_url": provider.base_url,
            "account_id": provider.account_id,
            "api_key_secret_id": str(sv.vault.put(provider.api_key.get_secret_value())),
        }
    return {}


def set_sender_status(
    sv: Services, workspace_id: UUID, sender_id: UUID, *, paused: bool, reason: str, actor: str
) -> SenderAccount:
    sender = sv.events.get(sender_id, SenderAccount, workspace_id)
    if paused:
        sender.pause(reason=reason, at=sv.clock.now(), actor=actor)
    else:
        sender.resume(at=sv.clock.now(), actor=actor)
    sv.events.save(sender)
    return sender
