"""Workspaces: create, read, change settings, issue and check API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from plera.aggregates.errors import NotFound
from plera.aggregates.workspace import OUT_OF_OFFICE_PAUSE_DAYS, Workspace
from plera.commands.models import Command, HolidayCountry, Line, Zone, line
from plera.runtime import Services
from plera.secrets import hash_token

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TimeOfDay = Annotated[str, Field(max_length=5, pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]
_LOW_PAUSE, _HIGH_PAUSE = OUT_OF_OFFICE_PAUSE_DAYS


class CreateWorkspace(Command):
    name: Line = line()
    timezone: Zone = "UTC"
    window_start: TimeOfDay = "09:00"
    window_end: TimeOfDay = "17:00"
    sending_days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    holiday_countries: list[HolidayCountry] = Field(default_factory=list, max_length=20)


class ChangeWorkspace(Command):
    name: Line | None = line(default=None)
    timezone: Zone | None = None
    window_start: TimeOfDay | None = None
    window_end: TimeOfDay | None = None
    sending_days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    holiday_countries: list[HolidayCountry] | None = Field(default=None, max_length=20)
    out_of_office_pause_days: int | None = Field(
        default=None,
        ge=_LOW_PAUSE,
        le=_HIGH_PAUSE,
        description="days an auto-reply that names no return date pauses the lead",
    )


@dataclass(frozen=True)
class NewWorkspace:
    workspace: Workspace
    api_key: str
    webhook_secret: str


def create_workspace(sv: Services, cmd: CreateWorkspace, actor: str) -> NewWorkspace:
    webhook_secret = secrets.token_hex(32)
    at = sv.clock.now()
    workspace = Workspace.create(
        name=cmd.name,
        timezone=cmd.timezone,
        window_start=cmd.window_start,
        window_end=cmd.window_end,
        sending_days=None if cmd.sending_days is None else list[str](cmd.sending_days),
        holiday_countries=cmd.holiday_countries,
        webhook_secret_id=sv.vault.put(webhook_secret),
        at=at,
        actor=actor,
    )
    api_key = _issue_key(workspace, "default", at, actor)
    sv.events.save(workspace)
    return NewWorkspace(workspace=workspace, api_key=api_key, webhook_secret=webhook_secret)


def issue_api_key(sv: Services, workspace_id: UUID, name: str, actor: str) -> str:
    workspace = sv.events.get(workspace_id, Workspace)
    key = _issue_key(workspace, name, sv.clock.now(), actor)
    sv.events.save(workspace)
    return key


def _issue_key(workspace: Workspace, name: str, at: Any, actor: str) -> str:
    """Keys read `plera_<workspace>_<key id>_<secret>`: the ids find the hash, the secret proves it."""
    key_id = secrets.token_hex(4)
    token = f"plera_{workspace.id.hex}_{key_id}_{secrets.token_urlsafe(24)}"
    workspace.issue_api_key(key_id=key_id, name=name, key_hash=hash_token(token), at=at, actor=actor)
    return token


@dataclass(frozen=True)
class Caller:
    workspace_id: UUID
    actor: str


def authenticate(sv: Services, token: str) -> Caller | None:
    parts = token.split("_")
    if len(parts) < 4 or parts[0] != "plera":
        return None
    try:
        workspace_id = UUID(hex=parts[1])
        workspace = sv.events.get(workspace_id, Workspace)
    except (ValueError, NotFound):
        return None
    name = workspace.api_key_name(parts[2], hash_token(token))
    return None if name is None else Caller(workspace_id=workspace_id, actor=name)


def workspace_view(sv: Services, workspace: Workspace, *, with_secret: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(workspace.id),
        "name": workspace.name,
        "timezone": workspace.timezone,
        "window_start": workspace.window_start,
        "window_end": workspace.window_end,
        "sending_days": workspace.sending_days,
        "holiday_countries": workspace.holiday_countries,
        "out_of_office_pause_days": workspace.out_of_office_pause_days,
    }
    if with_secret:
        view["webhook_secret"] = sv.vault.get(workspace.webhook_secret_id)
    return view


def change_workspace(sv: Services, workspace_id: UUID, cmd: ChangeWorkspace, actor: str) -> Workspace:
    workspace = sv.events.get(workspace_id, Workspace)
    workspace.change_settings(changes=cmd.model_dump(exclude_none=True), at=sv.clock.now(), actor=actor)
    sv.events.save(workspace)
    return workspace
