"""Workspace: the tenant. Its zone, sending window, sending days and holidays drive the schedule; its
out-of-office pause is how long an auto-reply that names no return date holds the lead."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidValue

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SENDING_DAYS = ["mon", "tue", "wed", "thu", "fri"]
SETTINGS = (
    "name",
    "timezone",
    "window_start",
    "window_end",
    "sending_days",
    "holiday_countries",
    "out_of_office_pause_days",
)
OUT_OF_OFFICE_PAUSE_DAYS = (1, 90)  # the allowed range; a week by default


def check_window(start: str, end: str) -> None:
    if not (_is_hhmm(start) and _is_hhmm(end)):
        raise InvalidValue("window_start and window_end are times like 09:00")
    if start >= end:
        raise InvalidValue("window_start must be before window_end")


def check_sending_days(days: list[str]) -> None:
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown or not days:
        raise InvalidValue(f"sending_days are one or more of {', '.join(WEEKDAYS)}")


def check_pause_days(days: Any) -> None:
    low, high = OUT_OF_OFFICE_PAUSE_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
        raise InvalidValue(f"out_of_office_pause_days is a whole number of days from {low} to {high}")


def _is_hhmm(text: str) -> bool:
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        return False
    return int(text[:2]) < 24 and int(text[3:]) < 60


class Workspace(PleraAggregate):
    # A class default, not a creation field: workspaces (and snapshots) from before the setting have it.
    out_of_office_pause_days = 7

    class WorkspaceCreated(PleraAggregate.Created):
        name: str
        timezone: str
        window_start: str
        window_end: str
        sending_days: list[str]
        holiday_countries: list[str]
        webhook_secret_id: UUID

    def __init__(
        self,
        name: str,
        timezone: str,
        window_start: str,
        window_end: str,
        sending_days: list[str],
        holiday_countries: list[str],
        webhook_secret_id: UUID,
        workspace_id: UUID,
    ) -> None:
        self.workspace_id = workspace_id
        self.name = name
        self.timezone = timezone
        self.window_start = window_start
        self.window_end = window_end
        self.sending_days = sending_days
        self.holiday_countries = holiday_countries
        self.webhook_secret_id = webhook_secret_id
        self.api_keys: dict[str, dict[str, str]] = {}

    @classmethod
    def create(
        cls,
        *,
        name: str,
        timezone: str,
        webhook_secret_id: UUID,
        at: datetime,
        actor: str,
        window_start: str = "09:00",
        window_end: str = "17:00",
        sending_days: list[str] | None = None,
        holiday_countries: list[str] | None = None,
    ) -> Workspace:
        if not name.strip():
            raise InvalidValue("a workspace needs a name")
        days = list(DEFAULT_SENDING_DAYS if sending_days is None else sending_days)
        workspace_id = uuid4()
        check_window(window_start, window_end)
        check_sending_days(days)
        return cls._record_created(
            cls.WorkspaceCreated,
            id=workspace_id,
            workspace_id=workspace_id,
            at=at,
            actor=actor,
            name=name.strip(),
            timezone=timezone,
            window_start=window_start,
            window_end=window_end,
            sending_days=days,
            holiday_countries=[c.upper() for c in holiday_countries or []],
            webhook_secret_id=webhook_secret_id,
        )

    class ApiKeyIssued(PleraAggregate.Event):
        unpublished = ("key_hash",)  # kept in the store to check keys; never sent to Kafka or history

        key_id: str
        name: str
        key_hash: str

        def apply(self, workspace: Workspace) -> None:
            workspace.api_keys[self.key_id] = {"name": self.name, "hash": self.key_hash}

    def issue_api_key(self, *, key_id: str, name: str, key_hash: str, at: datetime, actor: str) -> None:
        self._record(self.ApiKeyIssued, at=at, actor=actor, key_id=key_id, name=name, key_hash=key_hash)

    def api_key_name(self, key_id: str, key_hash: str) -> str | None:
        """The key's name when the hash matches, compared in constant time."""
        key = self.api_keys.get(key_id)
        if key is None or not hmac.compare_digest(key["hash"], key_hash):
            return None
        return key["name"]

    class UnmatchedMailReceived(PleraAggregate.Event):
        """Mail no lead matched, as stores written before decision 0009 hold it (now an UnmatchedMail's)."""

        message_id: str
        from_address: str | None
        subject: str | None
        text: str
        classification: str

        def apply(self, workspace: Workspace) -> None:
            pass

    class SettingsChanged(PleraAggregate.Event):
        changes: dict[str, Any]

        def apply(self, workspace: Workspace) -> None:
            for field, value in self.changes.items():
                setattr(workspace, field, value)

    def change_settings(self, *, changes: dict[str, Any], at: datetime, actor: str) -> None:
        unknown = set(changes) - set(SETTINGS)
        if unknown:
            raise InvalidValue(f"unknown workspace settings: {', '.join(sorted(unknown))}")
        merged = {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "sending_days": self.sending_days,
        } | changes
        check_window(merged["window_start"], merged["window_end"])
        check_sending_days(merged["sending_days"])
        if "out_of_office_pause_days" in changes:
            check_pause_days(changes["out_of_office_pause_days"])
        if "name" in changes and not str(changes["name"]).strip():
            raise InvalidValue("a workspace needs a name")
        if "holiday_countries" in changes:
            changes = changes | {"holiday_countries": [c.upper() for c in changes["holiday_countries"]]}
        real = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if real:
            self._record(self.SettingsChanged, at=at, actor=actor, changes=real)
