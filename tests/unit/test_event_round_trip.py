"""Aggregates survive the store: their events (and snapshots) are written and read back unchanged.

An in-memory (POPO) application goes through the same mapper and JSON transcoder as PostgreSQL,
so these tests catch payloads that do not round-trip, without a database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.run import Run
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.aggregates.workspace import Workspace

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

STEPS: list[dict[str, Any]] = [
    {"name": "Invite", "channel": "linkedin_invite", "delay_days": 0},
    {"name": "Email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Follow-up", "channel": "email", "delay_days": 2, "condition": "always"},
]


class SnapshottingApp(Application[UUID]):
    is_snapshotting_enabled = True


def state(aggregate: Aggregate) -> dict[str, Any]:
    """Everything an aggregate holds but its pending events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def saved_and_reloaded(app: Application[UUID], aggregate: Aggregate) -> Aggregate:
    app.save(aggregate)
    return app.repository.get(aggregate.id)


def busy_enrollment(at: datetime) -> LeadEnrollment:
    """An enrollment with a step sent, one failed once and scheduled again, and a reply."""
    enrollment = LeadEnrollment.enroll(
        sequence_id=uuid4(), lead_id=uuid4(), workspace_id=uuid4(), steps=Sequence_steps(), at=at, actor="ops"
    )
    sender = uuid4()
    enrollment.schedule(step=1, eligible_at=at, sequence_running=True, at=at, actor="worker")
    enrollment.dispatch(step=1, message_id=message_id_for(enrollment.id, 1, 0), sender_id=sender, at=at, actor="worker")
    enrollment.record_sent(step=1, at=at + timedelta(seconds=2), actor="worker")
    later = at + timedelta(days=3)
    enrollment.schedule(step=2, eligible_at=later, sequence_running=True, at=at, actor="worker")
    enrollment.dispatch(step=2, message_id=message_id_for(enrollment.id, 2, 0), sender_id=sender, at=later, actor="worker")
    enrollment.record_failed(step=2, retryable=True, reason="smtp 421", at=later, actor="worker")
    enrollment.schedule(step=2, eligible_at=later + timedelta(hours=1), sequence_running=True, at=later, actor="worker")
    enrollment.record_reply(channel="linkedin", message_ref=None, at=later + timedelta(minutes=5), actor="webhook")
    return enrollment


def Sequence_steps() -> list[dict[str, Any]]:  # noqa: N802
    return [{"channel": s["channel"], "delay_days": s["delay_days"], "condition": s.get("condition", "always")} for s in STEPS]
