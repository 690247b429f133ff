from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from plera.aggregates.errors import InvalidValue, RunArchived
from plera.aggregates.run import Run


def test_a_new_run_is_active_and_open(at):
    run = Run.create(workspace_id=uuid4(), name=" Q2 outreach ", play_id="play-1", at=at, actor="test")

    assert run.status == "active"
    assert run.name == "Q2 outreach"
    assert run.play_id == "play-1"
    run.check_open()


def test_a_run_without_a_name_is_refused(at):
    with pytest.raises(InvalidValue):
        Run.create(workspace_id=uuid4(), name=" ", at=at, actor="test")


def test_archiving_a_run_twice_records_one_event(at):
    run = Run.create(workspace_id=uuid4(), name="Q2", at=at, actor="test")

    run.archive(at=at + timedelta(days=1), actor="ops")
    run.archive(at=at + timedelta(days=2), actor="ops")

    events = run.collect_events()
    assert [type(e) for e in events] == [Run.RunCreated, Run.RunArchived]
    assert events[-1].timestamp == at + timedelta(days=1)
    assert run.status == "archived"


def test_an_archived_run_refuses_to_be_used(at):
    run = Run.create(workspace_id=uuid4(), name="Q2", at=at, actor="test")
    run.archive(at=at, actor="ops")

    with pytest.raises(RunArchived) as refused:
        run.check_open()
    assert refused.value.code == "run_archived"
    assert refused.value.status == 409
