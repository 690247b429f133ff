"""Aggregates survive the store: their events, and snapshots of them, are written and read back unchanged.

An in-memory (POPO) application goes through the same mapper and JSON transcoder as PostgreSQL
does, so these tests catch payloads that do not round-trip, without a database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, Snapshot
from tests.unit.lab import approve_all

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment, StepStatus, message_id_for
from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.run import Run
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.aggregates.workspace import Workspace

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
SENDER = uuid4()


class SnapshottingApp(Application[UUID]):
    is_snapshotting_enabled = True


def state(aggregate: object) -> dict[str, Any]:
    """Everything an aggregate holds but its pending events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def stamp(event: object) -> tuple[type, datetime, str]:
    plera_event = cast(PleraAggregate.Event, event)
    return type(event), plera_event.timestamp, plera_event.actor


def saved_and_reloaded(app: Application[UUID], aggregate: Aggregate) -> Any:
    app.save(aggregate)
    return app.repository.get(aggregate.id)


def launched_sequence(at: datetime) -> Sequence:
    sequence = Sequence.create(
        workspace_id=uuid4(),
        run_id=uuid4(),
        name="Seed",
        strategy_profile_id=uuid4(),
        source_group_ids=[uuid4(), uuid4()],
        steps=[
            {"name": "Invite", "channel": "linkedin_invite", "delay_days": 0},
            {"name": "Email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
            {"name": "Follow-up", "channel": "email", "delay_days": 2, "condition": "always"},
        ],
        settings={"daily_new_leads": 20},
        at=at,
        actor="ops",
    )
    approve_all(sequence, at).launch(at=at + timedelta(minutes=1), actor="ops")
    return sequence


def busy_enrollment(at: datetime) -> LeadEnrollment:
    """Step 1 sent; step 2 failed once and was scheduled again, then the lead replied."""
    enrollment = LeadEnrollment.enroll(
        sequence_id=uuid4(),
        lead_id=uuid4(),
        workspace_id=uuid4(),
        steps=launched_sequence(at).steps,
        at=at,
        actor="ops",
    )
    later = at + timedelta(days=3)
    enrollment.schedule(step=1, eligible_at=at, sequence_running=True, at=at, actor="worker")
    enrollment.dispatch(step=1, message_id=message_id_for(enrollment.id, 1, 0), sender_id=SENDER, at=at, actor="worker")
    enrollment.record_sent(step=1, at=at + timedelta(seconds=2), actor="worker")
    enrollment.schedule(step=2, eligible_at=later, sequence_running=True, at=at, actor="worker")
    enrollment.dispatch(
        step=2, message_id=message_id_for(enrollment.id, 2, 0), sender_id=SENDER, at=later, actor="worker"
    )
    enrollment.record_failed(step=2, retryable=True, reason="smtp 421", at=later, actor="worker")
    enrollment.schedule(step=2, eligible_at=later + timedelta(hours=1), sequence_running=True, at=later, actor="worker")
    enrollment.record_reply(channel="linkedin", message_ref=None, at=later + timedelta(minutes=5), actor="webhook")
    return enrollment


def every_kind_of_aggregate(at: datetime) -> list[Aggregate]:
    workspace = Workspace.create(
        name="Acme", timezone="Europe/Berlin", webhook_secret_id=uuid4(), holiday_countries=["de"], at=at, actor="ops"
    )
    workspace.issue_api_key(key_id="k1", name="ci-bot", key_hash="f00d", at=at, actor="ops")
    workspace.change_settings(changes={"window_end": "18:00", "sending_days": ["mon", "sat"]}, at=at, actor="ops")
    run = Run.create(workspace_id=workspace.id, name="Q2", play_id="play-7", at=at, actor="ops")
    run.archive(at=at, actor="ops")
    group = SourceGroup.create(workspace_id=workspace.id, run_id=run.id, name="CTOs", at=at, actor="import")
    lead = Lead.import_new(
        workspace_id=workspace.id,
        source_group_id=group.id,
        details={"email": "lena@example.com", "first_name": "Lena"},
        at=at,
        actor="import",
    )
    lead.add_to_group(source_group_id=uuid4(), details={"city": "Berlin"}, at=at, actor="import")
    group.add_leads(lead_ids=[lead.id, uuid4()], at=at, actor="import")
    group.mark_enriched(at=at, actor="worker")
    group.attach_sequence(sequence_id=uuid4(), at=at, actor="ops")
    sender = SenderAccount.add(
        workspace_id=workspace.id,
        channel="linkedin",
        name="Lena",
        address="linkedin.com/in/lena",
        daily_limit=30,
        connection={"provider": "unipile", "api_key_secret_id": str(uuid4())},
        at=at,
        actor="ops",
    )
    sender.verification_failed(error="403 account_restricted", at=at, actor="ops")
    sender.change(name="Lena M.", signature=None, connection={"kind": "provider"}, at=at, actor="ops")
    sender.verified(at=at, actor="ops")
    sender.pause(reason="account restricted", at=at, actor="worker")
    profile = StrategyProfile.create(
        workspace_id=workspace.id,
        at=at,
        actor="ops",
        name="CTOs",
        offer="Faster CI",
        persona="CTO",
        tone="plain",
        call_to_action="15 minutes?",
        language="en",
        signature="Lena",
        avoid_words=["synergy"],
    )
    sequence = launched_sequence(at)
    sequence.pause(at=at, actor="ops")
    return [workspace, run, group, lead, sender, profile, sequence, busy_enrollment(at)]


def test_every_aggregate_reads_back_as_it_was_saved(at):
    app = Application[UUID](env=IN_MEMORY)

    for aggregate in every_kind_of_aggregate(at):
        reloaded = saved_and_reloaded(app, aggregate)

        assert type(reloaded) is type(aggregate)
        assert state(reloaded) == state(aggregate), type(aggregate).__name__


def test_datetimes_and_ids_inside_enrollment_steps_read_back_as_datetimes_and_ids(at):
    app = Application[UUID](env=IN_MEMORY)
    enrollment = busy_enrollment(at)

    reloaded = saved_and_reloaded(app, enrollment)

    step_2 = reloaded.steps[1]
    assert isinstance(step_2["eligible_at"], datetime)
    assert step_2["eligible_at"] == at + timedelta(days=3, hours=1)
    assert step_2["sender_id"] == SENDER
    assert isinstance(step_2["sender_id"], UUID)
    assert step_2["attempts"] == 1
    assert reloaded.replied_at == at + timedelta(days=3, minutes=5)
    assert reloaded.step_status(3) is StepStatus.PENDING
    assert reloaded.as_dict() == enrollment.as_dict()


def test_stored_events_keep_their_time_and_actor(at):
    app = Application[UUID](env=IN_MEMORY)
    enrollment = busy_enrollment(at)
    pending = [stamp(e) for e in enrollment.pending_events]

    app.save(enrollment)

    stored = [stamp(e) for e in app.events.get(enrollment.id)]
    assert stored == pending


def test_every_stored_event_names_the_workspace_of_its_aggregate(at):
    app = Application[UUID](env=IN_MEMORY)

    for aggregate in every_kind_of_aggregate(at):
        app.save(aggregate)

        named = {cast(PleraAggregate.Event, e).workspace_id for e in app.events.get(aggregate.id)}
        assert named == {cast(Any, aggregate).workspace_id}, type(aggregate).__name__


def test_a_reloaded_enrollment_carries_on_where_it_stopped(at):
    app = Application[UUID](env=IN_MEMORY)
    enrollment = saved_and_reloaded(app, busy_enrollment(at))
    later = at + timedelta(days=4)

    enrollment.schedule(step=3, eligible_at=later, sequence_running=True, at=later, actor="worker")
    app.save(enrollment)

    assert app.repository.get(enrollment.id).step_status(3) is StepStatus.SCHEDULED


def test_every_aggregate_reads_back_from_a_snapshot(at):
    app = SnapshottingApp(env=IN_MEMORY)
    assert app.snapshots is not None

    for aggregate in every_kind_of_aggregate(at):
        app.save(aggregate)
        app.take_snapshot(aggregate.id)

        snapshot = next(iter(app.snapshots.get(aggregate.id, desc=True, limit=1)))
        assert snapshot.originator_version == aggregate.version
        from_snapshot = cast(Snapshot, snapshot).mutate(None)
        assert state(from_snapshot) == state(aggregate), type(aggregate).__name__
        assert state(app.repository.get(aggregate.id)) == state(aggregate)


def test_events_after_a_snapshot_apply_on_top_of_it(at):
    app = SnapshottingApp(env=IN_MEMORY)
    enrollment = busy_enrollment(at)
    app.save(enrollment)
    app.take_snapshot(enrollment.id)
    later = at + timedelta(days=5)

    enrollment.schedule(step=3, eligible_at=later, sequence_running=True, at=later, actor="worker")
    enrollment.dispatch(step=3, message_id=message_id_for(enrollment.id, 3, 0), sender_id=SENDER, at=later, actor="w")
    enrollment.record_sent(step=3, at=later, actor="worker")
    app.save(enrollment)

    reloaded: LeadEnrollment = app.repository.get(enrollment.id)
    assert state(reloaded) == state(enrollment)
    assert reloaded.steps[2]["eligible_at"] == later
    assert reloaded.next_step is None
