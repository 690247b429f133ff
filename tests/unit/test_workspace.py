from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from plera.aggregates.errors import InvalidValue
from plera.aggregates.workspace import Workspace


def new_workspace(at: datetime, **kwargs: Any) -> Workspace:
    return Workspace.create(
        name="Acme", timezone="Europe/Berlin", webhook_secret_id=uuid4(), at=at, actor="test", **kwargs
    )


def test_a_new_workspace_sends_from_nine_to_five_on_weekdays(at):
    workspace = new_workspace(at)

    assert (workspace.window_start, workspace.window_end) == ("09:00", "17:00")
    assert workspace.sending_days == ["mon", "tue", "wed", "thu", "fri"]
    assert workspace.holiday_countries == []
    assert workspace.api_keys == {}


def test_a_workspace_name_is_trimmed_and_holiday_countries_upper_cased(at):
    workspace = Workspace.create(
        name="  Acme  ", timezone="UTC", webhook_secret_id=uuid4(), at=at, actor="test", holiday_countries=["de", "Fr"]
    )

    assert workspace.name == "Acme"
    assert workspace.holiday_countries == ["DE", "FR"]


def test_a_workspace_without_a_name_is_refused(at):
    with pytest.raises(InvalidValue):
        Workspace.create(name="   ", timezone="UTC", webhook_secret_id=uuid4(), at=at, actor="test")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("17:00", "09:00"),
        ("09:00", "09:00"),
        ("9:00", "17:00"),
        ("09:00", "24:00"),
        ("09:60", "17:00"),
        ("0900", "17:00"),
        ("ab:cd", "17:00"),
        ("", "17:00"),
    ],
)
def test_a_window_that_is_not_two_ordered_times_is_refused(at, start, end):
    with pytest.raises(InvalidValue):
        new_workspace(at, window_start=start, window_end=end)


@pytest.mark.parametrize("days", [["monday"], ["mon", "Sat"], ["mon", "xyz"], []])
def test_sending_days_outside_the_week_or_none_at_all_are_refused(at, days):
    with pytest.raises(InvalidValue):
        new_workspace(at, sending_days=days)


def test_a_custom_window_and_weekend_days_are_kept(at):
    workspace = new_workspace(at, window_start="08:30", window_end="18:15", sending_days=["sat", "sun"])

    assert (workspace.window_start, workspace.window_end) == ("08:30", "18:15")
    assert workspace.sending_days == ["sat", "sun"]


def test_a_settings_change_records_only_the_fields_that_really_change(at):
    workspace = new_workspace(at)
    later = at + timedelta(hours=1)

    workspace.change_settings(
        changes={"window_start": "09:00", "window_end": "18:00", "holiday_countries": ["de"]}, at=later, actor="ops"
    )

    event = workspace.collect_events()[-1]
    assert isinstance(event, Workspace.SettingsChanged)
    assert event.changes == {"window_end": "18:00", "holiday_countries": ["DE"]}
    assert event.timestamp == later
    assert event.actor == "ops"
    assert workspace.window_end == "18:00"
    assert workspace.holiday_countries == ["DE"]


def test_a_settings_change_that_changes_nothing_records_no_event(at):
    workspace = new_workspace(at)
    workspace.collect_events()

    workspace.change_settings(
        changes={"name": "Acme", "window_start": "09:00", "sending_days": ["mon", "tue", "wed", "thu", "fri"]},
        at=at,
        actor="ops",
    )

    assert workspace.collect_events() == []
    assert workspace.version == 1


def test_a_settings_change_is_checked_against_the_current_window(at):
    workspace = new_workspace(at)

    with pytest.raises(InvalidValue):
        workspace.change_settings(changes={"window_start": "18:00"}, at=at, actor="ops")
    with pytest.raises(InvalidValue):
        workspace.change_settings(changes={"sending_days": []}, at=at, actor="ops")
    with pytest.raises(InvalidValue):
        workspace.change_settings(changes={"name": "  "}, at=at, actor="ops")
    assert workspace.window_start == "09:00"
    assert len(workspace.collect_events()) == 1


def test_an_api_key_is_known_by_its_name_only_with_the_right_hash(at):
    workspace = new_workspace(at)
    right = hashlib.sha256(b"the secret").hexdigest()
    wrong = hashlib.sha256(b"a guess").hexdigest()

    workspace.issue_api_key(key_id="k1", name="ci-bot", key_hash=right, at=at, actor="test")

    assert workspace.api_key_name("k1", right) == "ci-bot"
    assert workspace.api_key_name("k1", wrong) is None
    assert workspace.api_key_name("k1", "") is None
    assert workspace.api_key_name("unknown", right) is None


def test_the_api_key_check_compares_in_constant_time(at, monkeypatch):
    import plera.aggregates.workspace as workspace_module

    compared: list[tuple[str, str]] = []
    real = workspace_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    workspace = new_workspace(at)
    workspace.issue_api_key(key_id="k1", name="ci-bot", key_hash="abc", at=at, actor="test")
    monkeypatch.setattr(workspace_module.hmac, "compare_digest", spy)

    assert workspace.api_key_name("k1", "abd") is None
    assert compared == [("abc", "abd")]


def test_the_out_of_office_pause_is_a_week_until_changed_to_a_whole_number_of_days_up_to_90(at):
    workspace = new_workspace(at)
    assert workspace.out_of_office_pause_days == 7

    for refused in (0, 91, -3, 2.5, "5", True, None):
        with pytest.raises(InvalidValue):
            workspace.change_settings(changes={"out_of_office_pause_days": refused}, at=at, actor="ops")
    workspace.change_settings(changes={"out_of_office_pause_days": 3}, at=at, actor="ops")

    assert workspace.out_of_office_pause_days == 3
    assert workspace.collect_events()[-1].changes == {"out_of_office_pause_days": 3}
