"""Sender accounts: mailboxes and LinkedIn profiles, with their limits. Secrets go to the vault.

An account is checked before it is trusted: on create, on a change of its SMTP or provider settings,
and when an unverified one is resumed (`channels/verification.py`, a few seconds at most). The check
is I/O, so it happens here; the aggregate records its outcome and decides the status.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from plera.aggregates.errors import DomainError, InvalidValue
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.channels import verification
from plera.commands.changes import Changes, atomically
from plera.commands.models import ADDRESS_MAX, LONG_TEXT_MAX, URL_MAX, Command, Line, email_address, line, text
from plera.commands.outbound import NoSender, linkedin_account, smtp_account
from plera.projections.catalog import open_sequence_ids
from plera.runtime import Services

RUNNING = ("active", "paused")  # a sequence whose leads still wait for their senders


class SenderInUse(DomainError):
    """Removing the only sender of its channel that a running sequence has left."""

    code = "sender_in_use"


def _blank_is_missing(value: Any) -> Any:
    """What a form sends for a field left empty means "none", as for lead fields."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    return value


class SmtpSettings(Command):
    """Without a username (blank counts as none) the server is used without a login, as a relay."""

    host: Line = line(253)
    port: int = Field(ge=1, le=65535)
    username: Line | None = line(ADDRESS_MAX, blank=True, default=None)
    password: SecretStr | None = Field(default=None, max_length=1_000)
    starttls: bool = True

    @field_validator("username", "password", mode="after")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_is_missing(value)


class ProviderSettings(Command):
    base_url: Line = line(URL_MAX)
    api_key: SecretStr | None = Field(default=None, max_length=1_000)
    account_id: Line = line()

    @field_validator("api_key", mode="after")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_is_missing(value)


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
        if self.channel == "email" and self.smtp is None:
            raise ValueError("an email sender needs smtp settings: {host, port, username?, password?, starttls}")
        if self.channel == "linkedin" and self.smtp is not None:
            raise ValueError("a LinkedIn sender takes provider settings, not smtp settings")
        if self.channel == "email" and self.weekly_invite_limit is not None:
            raise ValueError("weekly_invite_limit is for LinkedIn senders only")
        if self.smtp is not None and self.smtp.username is not None and self.smtp.password is None:
            raise ValueError("smtp.password is needed with smtp.username (leave both out for a server without login)")
        if self.provider is not None and self.provider.api_key is None:
            raise ValueError("provider.api_key is needed")
        return self


def _null_only_for_signature(schema: dict[str, Any]) -> None:
    for name, field in schema.get("properties", {}).items():
        options = field.get("anyOf")
        if name != "signature" and options and {"type": "null"} in options:
            kept = [o for o in options if o != {"type": "null"}]
            del field["anyOf"]
            if len(kept) == 1:
                field.update(kept[0])
            else:
                field["anyOf"] = kept
            field.pop("default", None)


class ChangeSenderAccount(Command):
    """What a PATCH may change; a field left out stays. In `smtp` or `provider`, a password or API key
    left out (or blank) keeps the stored one: secrets are write-only, so a form never shows them."""

    # Only the signature may be null (it clears it): the schema shows no null for the others, which the
    # validator below refuses (None stands for "left out" in the model, not on the wire).
    model_config = ConfigDict(json_schema_extra=_null_only_for_signature)

    name: Line | None = line(default=None)
    address: Line | None = line(URL_MAX, default=None)
    signature: str | None = text(LONG_TEXT_MAX, default=None)
    daily_limit: int | None = Field(default=None, ge=1, le=10_000)
    weekly_invite_limit: int | None = Field(default=None, ge=1, le=1_000)
    premium: bool | None = None
    smtp: SmtpSettings | None = None
    provider: ProviderSettings | None = None

    @model_validator(mode="after")
    def _only_signature_is_nullable(self) -> ChangeSenderAccount:
        nulls = sorted(k for k in self.model_fields_set if getattr(self, k) is None and k != "signature")
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null (leave a field out to keep it)")
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
        connection=_connection(sv, cmd.smtp, cmd.provider, kept={}),
        at=sv.clock.now(),
        actor=actor,
    )
    _verify(sv, sender, actor)
    sv.events.save(sender)
    return sender


def get_sender_account(sv: Services, workspace_id: UUID, sender_id: UUID) -> SenderAccount:
    sender = sv.events.get(sender_id, SenderAccount, workspace_id)
    sender.check_present()
    return sender


def change_sender_account(
    sv: Services, workspace_id: UUID, sender_id: UUID, cmd: ChangeSenderAccount, actor: str
) -> SenderAccount:
    """Changes what the PATCH names; new SMTP or provider settings are checked again.

    The check (seconds, perhaps) runs before the change is decided, on the sender as loaded; the
    change and its outcome are then applied to the sender as stored by then (the worker may have
    paused it meanwhile), so a pause during the check costs no conflict."""
    loaded = get_sender_account(sv, workspace_id, sender_id)
    if (cmd.smtp is not None and loaded.channel != "email") or (
        cmd.provider is not None and loaded.channel != "linkedin"
    ):
        wanted = "smtp" if loaded.channel == "email" else "provider"
        raise InvalidValue(f"a {loaded.channel} sender takes {wanted} settings")
    fields = {k: getattr(cmd, k) for k in cmd.model_fields_set if k in SenderAccount.CHANGEABLE}
    if fields.get("address") is not None and loaded.channel == "email":
        try:  # as on create: the From header holds exactly one mailbox
            fields["address"] = email_address(fields["address"])
        except ValueError as e:
            raise InvalidValue(f"address: {e}") from None
    settings_given = cmd.smtp is not None or cmd.provider is not None
    if settings_given:
        fields["connection"] = _connection(sv, cmd.smtp, cmd.provider, kept=loaded.connection)
    loaded.change(at=sv.clock.now(), actor=actor, **fields)  # in memory: what the check reads
    error = _check(sv, loaded) if settings_given else None

    def decide(changes: Changes) -> SenderAccount:
        sender = changes.get(sender_id, SenderAccount, workspace_id)
        sender.change(at=sv.clock.now(), actor=actor, **fields)
        if settings_given:
            _record_check(sv, sender, error, actor)
        return sender

    return atomically(sv, decide)


def set_sender_status(
    sv: Services, workspace_id: UUID, sender_id: UUID, *, paused: bool, reason: str, actor: str
) -> SenderAccount:
    """Pause or resume. Resuming an unverified sender checks it again: only a check makes it active."""
    sender = get_sender_account(sv, workspace_id, sender_id)
    if paused:
        sender.pause(reason=reason, at=sv.clock.now(), actor=actor)
    elif sender.status == "unverified":
        _verify(sv, sender, actor)
    else:
        sender.resume(at=sv.clock.now(), actor=actor)
    sv.events.save(sender)
    return sender


def remove_sender_account(sv: Services, workspace_id: UUID, sender_id: UUID, actor: str) -> None:
    """Removes the sender, and takes it out of every sequence's chosen senders. Refused (SenderInUse)
    while a running sequence would be left with no active sender of its channel to take its leads.

    The sequences are found through the catalog (ids only; each is then read from the store): one
    created in the last moment, before the read model caught up, is not seen."""
    with sv.db.pool.connection() as conn:
        candidates = open_sequence_ids(conn, workspace_id)

    def decide(changes: Changes) -> None:
        sender = changes.get(sender_id, SenderAccount, workspace_id)
        sender.check_present()
        channel = sender.channel
        using = [
            s for s in changes.many(candidates).values() if isinstance(s, Sequence) and sender_id in s.senders[channel]
        ]
        for sequence in using:
            others = [i for i in sequence.senders[channel] if i != sender_id]
            if sequence.status in RUNNING and not _any_active(changes, others):
                raise SenderInUse(
                    f"sequence {sequence.name!r} is {sequence.status} and has no other active {channel} sender"
                    " to take this sender's leads: choose another sender for it first"
                )
        at = sv.clock.now()
        for sequence in using:
            if sequence.status != "archived":
                chosen = {**sequence.senders, channel: [i for i in sequence.senders[channel] if i != sender_id]}
                sequence.choose_senders(email=chosen["email"], linkedin=chosen["linkedin"], at=at, actor=actor)
        sender.remove(at=at, actor=actor)

    atomically(sv, decide)


def _any_active(changes: Changes, ids: list[UUID]) -> bool:
    return any(isinstance(a, SenderAccount) and a.status == "active" for a in changes.many(ids).values())


def _verify(sv: Services, sender: SenderAccount, actor: str) -> None:
    """Checks the account's settings against its server or provider and records what came of it."""
    _record_check(sv, sender, _check(sv, sender), actor)


def _check(sv: Services, sender: SenderAccount) -> str | None:
    """None when the account's settings let it send, else why not."""
    try:
        if sender.channel == "email":
            return verification.check_smtp(smtp_account(sv, sender))
        return verification.check_linkedin(linkedin_account(sv, sender))
    except NoSender as e:
        return e.detail


def _record_check(sv: Services, sender: SenderAccount, error: str | None, actor: str) -> None:
    if error is None:
        sender.verified(at=sv.clock.now(), actor=actor)
    else:
        sender.verification_failed(error=error, at=sv.clock.now(), actor=actor)


def _connection(
    sv: Services, smtp: SmtpSettings | None, provider: ProviderSettings | None, *, kept: dict[str, Any]
) -> dict[str, Any]:
    """Connection settings as events keep them: each secret replaced by its vault id. A secret left
    out keeps the one in `kept` (the stored settings), unless the login it belongs to is gone."""
    if smtp is not None:
        password_id = kept.get("password_secret_id")
        if smtp.password is not None:
            password_id = str(sv.vault.put(smtp.password.get_secret_value()))
        if smtp.username is None:
            password_id = None  # no login: a password kept would never be used
        elif password_id is None:
            raise InvalidValue("smtp.password is needed with smtp.username")
        return {
            "kind": "smtp",
            "host": smtp.host,
            "port": smtp.port,
            "username": smtp.username,
            "starttls": smtp.starttls,
            "password_secret_id": password_id,
        }
    if provider is not None:
        key_id = kept.get("api_key_secret_id")
        if provider.api_key is not None:
            key_id = str(sv.vault.put(provider.api_key.get_secret_value()))
        if key_id is None:
            raise InvalidValue("provider.api_key is needed")
        return {
            "kind": "provider",
            "base_url": provider.base_url,
            "account_id": provider.account_id,
            "api_key_secret_id": key_id,
        }
    return {}
