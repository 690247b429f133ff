from __future__ import annotations

from uuid import uuid4

import pytest

from plera.aggregates.errors import InvalidValue, NotFound
from plera.aggregates.sender_account import SenderAccount


def add_sender(at, **kwargs: object) -> SenderAccount:
    fields: dict[str, object] = {
        "channel": "email",
        "name": "Lena",
        "address": "lena@acme.io",
        "daily_limit": 40,
    } | kwargs
    return SenderAccount.add(workspace_id=uuid4(), at=at, actor="ops", **fields)  # type: ignore[arg-type]


def test_a_sender_on_an_unknown_channel_is_refused(at):
    with pytest.raises(InvalidValue):
        add_sender(at, channel="fax")
    with pytest.raises(InvalidValue):
        add_sender(at, channel="linkedin_invite")


@pytest.mark.parametrize("limit", [0, -5])
def test_a_sender_must_be_allowed_at_least_one_action_a_day(at, limit):
    with pytest.raises(InvalidValue):
        add_sender(at, daily_limit=limit)


def test_a_weekly_invite_limit_is_refused_for_an_email_sender(at):
    with pytest.raises(InvalidValue):
        add_sender(at, weekly_invite_limit=50)


def test_a_weekly_invite_limit_below_one_is_refused(at):
    with pytest.raises(InvalidValue):
        add_sender(at, channel="linkedin", address="linkedin.com/in/lena", weekly_invite_limit=0)


def test_a_linkedin_sender_gets_a_weekly_invite_limit_of_100_by_default(at):
    linkedin = add_sender(at, channel="linkedin", address="linkedin.com/in/lena")
    email = add_sender(at)

    assert linkedin.weekly_invite_limit == 100
    assert email.weekly_invite_limit is None


def test_pausing_and_resuming_a_sender_twice_records_each_change_once(at):
    sender = add_sender(at)

    sender.pause(reason="smtp auth failed", at=at, actor="worker")
    sender.pause(reason="again", at=at, actor="worker")
    assert (sender.status, sender.paused_reason) == ("paused", "smtp auth failed")

    sender.resume(at=at, actor="ops")
    sender.resume(at=at, actor="ops")
    assert (sender.status, sender.paused_reason) == ("active", None)

    kinds = [type(e) for e in sender.collect_events()]
    assert kinds == [SenderAccount.SenderAccountAdded, SenderAccount.SenderPaused, SenderAccount.SenderResumed]


def test_a_sender_is_shown_without_its_secret_references(at):
    sender = add_sender(
        at,
        connection={"host": "smtp.acme.io", "port": 587, "password_secret_id": str(uuid4()), "api_secret_id": "x"},
    )

    shown = sender.as_dict()

    assert shown["connection"] == {"host": "smtp.acme.io", "port": 587}
    assert not [k for k in shown if k.endswith("_secret_id")]
    assert "secret" not in repr(shown)
    assert sender.connection["password_secret_id"]  # the reference itself is kept, only never shown


def test_a_failed_check_makes_a_sender_unverified_and_a_passed_one_makes_it_active_again(at):
    sender = add_sender(at)

    sender.verification_failed(error="login refused: 535", at=at, actor="ops")
    assert (sender.status, sender.last_error, sender.verified_at) == ("unverified", "login refused: 535", at)
    sender.resume(at=at, actor="ops")  # only a check that passes makes it active
    assert sender.status == "unverified"

    sender.verified(at=at, actor="ops")
    assert (sender.status, sender.last_error) == ("active", None)


def test_a_passed_check_leaves_a_paused_sender_paused(at):
    sender = add_sender(at)
    sender.pause(reason="warming up", at=at, actor="ops")

    sender.verified(at=at, actor="ops")

    assert (sender.status, sender.paused_reason, sender.verified_at) == ("paused", "warming up", at)


def test_a_change_records_only_what_differs_and_keeps_the_limits_valid(at):
    sender = add_sender(at)

    assert sender.change(name="Lena", daily_limit=50, at=at, actor="ops")
    assert not sender.change(name="Lena", daily_limit=50, at=at, actor="ops")
    with pytest.raises(InvalidValue):
        sender.change(weekly_invite_limit=20, at=at, actor="ops")
    with pytest.raises(InvalidValue):
        sender.change(channel="linkedin", at=at, actor="ops")

    changed = [e for e in sender.collect_events() if isinstance(e, SenderAccount.SenderAccountChanged)]
    assert [e.changes for e in changed] == [{"daily_limit": 50}]


def test_a_removed_sender_is_gone_for_every_command_and_a_late_failure_does_not_pause_it(at):
    sender = add_sender(at)
    sender.remove(at=at, actor="ops")

    sender.pause(reason="a send failed after the removal", at=at, actor="worker")

    assert sender.status == "removed"
    for command in (
        lambda: sender.resume(at=at, actor="ops"),
        lambda: sender.change(name="x", at=at, actor="ops"),
        lambda: sender.verified(at=at, actor="ops"),
        lambda: sender.remove(at=at, actor="ops"),
    ):
        with pytest.raises(NotFound):
            command()
