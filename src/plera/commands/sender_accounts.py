"""Sender accounts: mailboxes and LinkedIn profiles, with their limits. Secrets go to the vault."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from plera.aggregates.sender_account import SenderAccount
from plera.commands.models import ADDRESS_MAX, LONG_TEXT_MAX, URL_MAX, Command, Line, email_address, line, text
from plera.runtime import Services


class SmtpSettings(Command):
    host: Line = line(255)
    port: int = Field(ge=1, le=65535)
    username: Line | None = line(ADDRESS_MAX, default=None)
    password: SecretStr | None = Field(default=None, max_length=1_000)
    starttls: bool = True


class ProviderSettings(Command):
    base_url: Line = line(URL_MAX)
    api_key: SecretStr = Field(min_length=1, max_length=1_000)
    account_id: Line = line()


class AddSenderAccount(Command):
    channel: Literal["email", "linkedin"]
    name: Line = line(description="shown as the sender of its messages")
    address: Line = line(URL_MAX, description="an email sender's one address, or a LinkedIn sender's profile URL")
    signature: str | None = text(LONG_TEXT_MAX, default=None)
    daily_limit: int = Field(ge=1, le=10_000)
    weekly_invite_limit: int | None = Field(default=None, ge=1, le=1_000)
    premium: bool = False
    smtp: SmtpSettings | None = None
    provider: ProviderSettings | None = None

    @field_validator("address")
    @classmethod
    def _one_mailbox(cls, address: str, info: ValidationInfo) -> str:
        """An email sender's address goes into the From header: exactly one mailbox, nothing more."""
        return email_address(address) if info.data.get("channel") == "email" else address

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
