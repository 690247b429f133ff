from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests.unit.lab import approve_all

from plera.aggregates.errors import InvalidValue, SequenceArchived, SequenceNotActive, SequenceNotDraft
from plera.aggregates.sequence import Sequence

SEED_STEPS: list[dict[str, Any]] = [
    {"name": "Invite", "channel": "linkedin_invite", "delay_days": 0},
    {"name": "Email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Message", "channel": "linkedin_message", "delay_days": 2, "condition": "no_reply"},
    {"name": "Last email", "channel": "email", "delay_days": 2, "condition": "no_reply"},
]


def new_sequence(at, steps: list[dict[str, Any]] | None = None, **kwargs: Any) -> Sequence:
    return Sequence.create(
        workspace_id=uuid4(),
        run_id=uuid4(),
        name="Seed",
        strategy_profile_id=None,
        source_group_ids=[],
        steps=SEED_STEPS if steps is None else steps,
        at=at,
        actor="ops",
        **kwargs,
    )


def without_keys(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "key"} for s in steps]


def launched(at) -> Sequence:
    sequence = approve_all(new_sequence(at), at)
    sequence.launch(at=at, actor="ops")
    return sequence


# ---- steps


def test_a_new_sequence_is_a_draft_with_numbered_steps_and_default_settings(at):
    sequence = new_sequence(at)

    assert sequence.status == "draft"
    assert sequence.launched_at is None
    assert sequence.steps[0]["key"]
    assert without_keys(sequence.steps)[0] == {
        "name": "Invite",
        "channel": "linkedin_invite",
        "delay_days": 0,
        "condition": "always",
    }
    assert [s["condition"] for s in sequence.steps] == ["always", "no_reply", "no_reply", "no_reply"]
    assert [s["step"] for s in sequence.as_dict()["steps"]] == [1, 2, 3, 4]
    assert sequence.settings == {
        "company_stop": "off",
        "daily_new_leads": None,
        "invite_without_note": False,
        "sender_failover_hours": 24,
    }


def test_a_sequence_without_steps_is_refused(at):
    with pytest.raises(InvalidValue):
        new_sequence(at, steps=[])


@pytest.mark.parametrize(
    "step",
    [
        {"channel": "sms"},
        {},
        {"channel": "email", "delay_days": -1},
        {"channel": "email", "delay_days": 1.5},
        {"channel": "email", "delay_days": "2"},
        {"channel": "email", "delay_days": True},
        {"channel": "email", "condition": "if_opened"},
    ],
    ids=[
        "unknown channel",
        "no channel",
        "negative delay",
        "fractional delay",
        "text delay",
        "bool delay",
        "condition",
    ],
)
def test_a_step_with_a_bad_channel_delay_or_condition_is_refused(at, step):
    with pytest.raises(InvalidValue):
        new_sequence(at, steps=[{"channel": "email"}, step])


def test_a_duplicate_source_group_is_kept_once(at):
    group = uuid4()
    sequence = Sequence.create(
        workspace_id=uuid4(),
        run_id=uuid4(),
        name="Seed",
        strategy_profile_id=None,
        source_group_ids=[group, group],
        steps=SEED_STEPS,
        at=at,
        actor="ops",
    )

    assert sequence.source_group_ids == [group]


def test_steps_can_be_replaced_while_the_sequence_is_a_draft(at):
    sequence = new_sequence(at)

    sequence.replace_steps(steps=[{"channel": "email"}], at=at, actor="ops")

    assert without_keys(sequence.steps) == [{"name": None, "channel": "email", "delay_days": 0, "condition": "always"}]


def test_replacing_steps_with_the_same_steps_records_nothing(at):
    sequence = new_sequence(at)
    sequence.collect_events()

    sequence.replace_steps(steps=SEED_STEPS, at=at, actor="ops")

    assert sequence.collect_events() == []


@pytest.mark.parametrize("then", ["launch", "pause", "archive"])
def test_steps_cannot_be_edited_once_the_sequence_has_launched(at, then):
    sequence = launched(at)
    if then == "pause":
        sequence.pause(at=at, actor="ops")
    if then == "archive":
        sequence.archive(at=at, actor="ops")

    with pytest.raises(SequenceNotDraft):
        sequence.replace_steps(steps=[{"channel": "email"}], at=at, actor="ops")
    assert len(sequence.steps) == 4


# ---- lifecycle


def test_launching_a_draft_activates_it_at_the_given_time(at):
    sequence = approve_all(new_sequence(at), at)
    sequence.collect_events()
    later = at + timedelta(hours=2)

    sequence.launch(at=later, actor="ops")
    sequence.launch(at=later + timedelta(hours=1), actor="ops")

    assert sequence.status == "active"
    assert sequence.is_running
    assert sequence.launched_at == later
    assert [type(e) for e in sequence.collect_events()] == [Sequence.SequenceLaunched]


def test_a_draft_cannot_be_paused_or_resumed(at):
    sequence = new_sequence(at)

    with pytest.raises(SequenceNotActive):
        sequence.pause(at=at, actor="ops")
    with pytest.raises(SequenceNotActive):
        sequence.resume(at=at, actor="ops")


def test_pause_resume_and_archive_repeated_are_no_ops(at):
    sequence = launched(at)
    sequence.collect_events()

    sequence.pause(at=at, actor="ops")
    sequence.pause(at=at, actor="ops")
    assert sequence.status == "paused"
    assert not sequence.is_running
    sequence.launch(at=at, actor="ops")
    assert sequence.status == "paused"
    sequence.resume(at=at, actor="ops")
    sequence.resume(at=at, actor="ops")
    assert sequence.status == "active"
    sequence.archive(at=at, actor="ops")
    sequence.archive(at=at, actor="ops")
    assert sequence.status == "archived"

    kinds = [type(e) for e in sequence.collect_events()]
    assert kinds == [Sequence.SequencePaused, Sequence.SequenceResumed, Sequence.SequenceArchived]


def test_an_archived_sequence_refuses_every_change(at):
    sequence = launched(at)
    sequence.archive(at=at, actor="ops")

    changes = [
        lambda: sequence.rename(name="New", at=at, actor="ops"),
        lambda: sequence.change_settings(changes={"company_stop": "stop"}, at=at, actor="ops"),
        lambda: sequence.change_source_groups(source_group_ids=[uuid4()], at=at, actor="ops"),
        lambda: sequence.launch(at=at, actor="ops"),
        lambda: sequence.pause(at=at, actor="ops"),
        lambda: sequence.resume(at=at, actor="ops"),
    ]
    for change in changes:
        with pytest.raises(SequenceArchived):
            change()
    assert sequence.name == "Seed"


def test_an_archived_draft_also_refuses_changes(at):
    sequence = new_sequence(at)
    sequence.archive(at=at, actor="ops")

    with pytest.raises(SequenceArchived):
        sequence.rename(name="New", at=at, actor="ops")


def test_leads_can_be_enrolled_only_into_an_active_or_paused_sequence(at):
    sequence = new_sequence(at)
    with pytest.raises(SequenceNotActive):
        sequence.check_enrollable()

    approve_all(sequence, at).launch(at=at, actor="ops")
    sequence.check_enrollable()
    sequence.pause(at=at, actor="ops")
    sequence.check_enrollable()

    sequence.complete(at=at, actor="ops")
    assert sequence.status == "completed"
    with pytest.raises(SequenceNotActive):
        sequence.check_enrollable()


def test_an_archived_sequence_enrolls_nobody(at):
    sequence = launched(at)
    sequence.archive(at=at, actor="ops")

    with pytest.raises(SequenceNotActive):
        sequence.check_enrollable()


def test_completing_a_draft_or_completed_sequence_changes_nothing(at):
    draft = new_sequence(at)
    draft.complete(at=at, actor="ops")
    assert draft.status == "draft"

    done = launched(at)
    done.complete(at=at, actor="ops")
    done.complete(at=at, actor="ops")
    kinds = [type(e) for e in done.collect_events()]
    assert kinds.count(Sequence.SequenceCompleted) == 1
    assert kinds[-1] is Sequence.SequenceCompleted


def test_renaming_to_the_same_trimmed_name_records_nothing(at):
    sequence = new_sequence(at)
    sequence.collect_events()

    sequence.rename(name="  Seed ", at=at, actor="ops")
    assert sequence.collect_events() == []
    with pytest.raises(InvalidValue):
        sequence.rename(name=" ", at=at, actor="ops")


# ---- settings


@pytest.mark.parametrize("value", ["off", "stop", "pause"])
def test_company_stop_accepts_off_stop_and_pause(at, value):
    sequence = new_sequence(at, settings={"company_stop": value})

    assert sequence.settings["company_stop"] == value


@pytest.mark.parametrize(
    "changes",
    [
        {"company_stop": "halt"},
        {"daily_new_leads": 0},
        {"daily_new_leads": -3},
        {"daily_new_leads": "10"},
        {"daily_new_leads": 2.5},
        {"max_steps": 3},
    ],
)
def test_bad_or_unknown_settings_are_refused(at, changes):
    with pytest.raises(InvalidValue):
        new_sequence(at, settings=changes)
    sequence = new_sequence(at)
    with pytest.raises(InvalidValue):
        sequence.change_settings(changes=changes, at=at, actor="ops")
    assert sequence.settings["company_stop"] == "off"


def test_a_settings_change_merges_into_the_current_settings(at):
    sequence = launched(at)
    sequence.change_settings(changes={"daily_new_leads": 25}, at=at, actor="ops")
    sequence.change_settings(changes={"company_stop": "pause"}, at=at, actor="ops")

    assert sequence.settings == {
        "company_stop": "pause",
        "daily_new_leads": 25,
        "invite_without_note": False,
        "sender_failover_hours": 24,
    }


def test_daily_new_leads_can_be_lifted_with_null(at):
    sequence = new_sequence(at, settings={"daily_new_leads": 10})

    sequence.change_settings(changes={"daily_new_leads": None}, at=at, actor="ops")

    assert sequence.settings["daily_new_leads"] is None


def test_a_settings_change_that_changes_nothing_records_nothing(at):
    sequence = new_sequence(at)
    sequence.collect_events()

    sequence.change_settings(changes={"company_stop": "off"}, at=at, actor="ops")

    assert sequence.collect_events() == []
