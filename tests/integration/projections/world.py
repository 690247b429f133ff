"""A small world over real services for the read-model tests: a launched sequence and its leads.

The dispatcher is a later issue, so sends, failures, replies and skips are made here with the
LeadEnrollment aggregate's own methods, loaded and saved through the event store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from plera.clock import FixedClock
from plera.commands.enrollments import control_enrollment
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo import make_ready
from plera.envelope import Envelope, envelope_of
from plera.projections.dashboard import sequence_dashboard
from plera.projections.drilldown import sequence_leads
from plera.projections.due_queue import queued_steps
from plera.projections.lead_timeline import lead_timeline
from plera.projections.run_overview import runs_overview
from plera.runtime import Services
from tests.sinks import sink_senders

ACTOR = "test"
STEPS: list[dict[str, Any]] = [
    {"name": "Intro", "channel": "email", "delay_days": 0, "condition": "always"},
    {"name": "Follow-up", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Break-up", "channel": "linkedin_message", "delay_days": 2, "condition": "no_reply"},
]


@dataclass
class World:
    sv: Services
    clock: FixedClock
    workspace_id: UUID
    run_id: UUID
    sequence_id: UUID
    leads: dict[str, UUID] = field(default_factory=dict)  # first name → lead id
    log_start: int = 0  # the notification log's end before this world was made

    def enrollment(self, name: str) -> UUID:
        return LeadEnrollment.create_id(self.sequence_id, self.leads[name])

    def tick(self, minutes: int = 1) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    def _change(self, name: str, change: Any) -> None:
        enrollment = self.sv.events.get(self.enrollment(name), LeadEnrollment)
        change(enrollment, self.clock.now())
        self.sv.events.save(enrollment)
        self.tick()

    def dispatch(self, name: str, step: int) -> None:
        self._change(
            name,
            lambda e, at: e.dispatch(
                step=step, message_id=message_id_for(e.id, step, 1), sender_id=uuid4(), at=at, actor="worker"
            ),
        )

    def send(self, name: str, step: int) -> None:
        self.dispatch(name, step)
        self._change(name, lambda e, at: e.record_sent(step=step, at=at, actor="worker"))

    def fail(self, name: str, step: int, *, retryable: bool) -> None:
        self.dispatch(name, step)
        self._change(
            name,
            lambda e, at: e.record_failed(step=step, retryable=retryable, reason="550 user unknown", at=at, actor="w"),
        )

    def outcome_unknown(self, name: str, step: int) -> None:
        self.dispatch(name, step)
        self._change(name, lambda e, at: e.record_outcome_unknown(step=step, at=at, actor="worker"))

    def schedule_next(self, name: str, *, days: int) -> None:
        self._change(
            name,
            lambda e, at: e.schedule(
                step=e.next_step, eligible_at=at + timedelta(days=days), sequence_running=True, at=at, actor="worker"
            ),
        )

    def reply(self, name: str) -> None:
        self._change(name, lambda e, at: e.record_reply(channel="email", message_ref=None, at=at, actor="webhook"))

    def envelopes(self) -> list[Envelope]:
        """This world's events, in log order."""
        app = self.sv.events.app
        notifications = app.recorder.select_notifications(self.log_start + 1, 100_000)
        found = [envelope_of(app.mapper.to_domain_event(n)) for n in notifications]
        return [e for e in found if e.workspace_id == self.workspace_id]


def make_world(sv: Services, clock: FixedClock, names: list[str], *, steps: list[dict[str, Any]] = STEPS) -> World:
    """A workspace whose launched sequence has enrolled one lead per name (step 1 scheduled for each)."""
    log_start = sv.events.app.recorder.max_notification_id() or 0
    ws = create_workspace(sv, CreateWorkspace(name="Read models"), actor="cli").workspace
    run = create_run(sv, ws.id, CreateRun(name="Q2 outbound"), ACTOR)
    group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="Founders"), ACTOR)
    rows = [
        {"first_name": n, "last_name": "Tester", "email": f"{n.lower()}@{ws.id.hex[:8]}.example", "company": f"{n} Co"}
        for n in names
    ]
    imported = import_leads(sv, ws.id, group.id, parse_json_rows(rows), ACTOR)
    mark_enriched(sv, ws.id, group.id, ACTOR)
    cmd = CreateSequence.model_validate(
        {"run_id": run.id, "name": "Founders sequence", "source_group_ids": [group.id], "steps": steps}
    )
    sequence = create_sequence(sv, ws.id, cmd, ACTOR)
    clock.advance(timedelta(minutes=1))
    make_ready(sv, ws.id, sequence.id, ACTOR, senders=sink_senders(sv, ws.id, sequence.id))
    launch_sequence(sv, ws.id, sequence.id, ACTOR)
    clock.advance(timedelta(minutes=1))
    return World(
        sv=sv,
        clock=clock,
        workspace_id=ws.id,
        run_id=run.id,
        sequence_id=sequence.id,
        leads=dict(zip(names, imported.lead_ids, strict=True)),
        log_start=log_start,
    )


def the_usual_story(world: World) -> None:
    """Seven leads, each at a different point of the three steps:

    Ann: step 1 and 2 sent, then she replied (step 3 skipped, stopped). Ben: step 1 sent, replied.
    Cat: step 1 sent, step 2 scheduled in 3 days. Dan: step 1 failed for good. Eve: paused while
    step 1 waits. Fay: stopped by hand. Gus: step 1's outcome is unknown.
    """
    world.send("Ann", 1)
    world.schedule_next("Ann", days=0)
    world.send("Ann", 2)
    world.reply("Ann")
    world.send("Ben", 1)
    world.reply("Ben")
    world.send("Cat", 1)
    world.schedule_next("Cat", days=3)
    world.fail("Dan", 1, retryable=False)
    world.outcome_unknown("Gus", 1)
    control_enrollment(world.sv, world.workspace_id, world.enrollment("Eve"), "pause", ACTOR)
    world.tick()
    control_enrollment(world.sv, world.workspace_id, world.enrollment("Fay"), "stop", ACTOR)
    world.tick()


NAMES = ["Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus"]


def read_models(sv: Services, world: World) -> dict[str, Any]:
    """Everything the API would show about this world, for before-and-after comparisons."""
    with sv.db.pool.connection() as conn:
        return {
            "dashboard": sequence_dashboard(conn, world.workspace_id, world.sequence_id),
            "leads": sequence_leads(conn, world.workspace_id, world.sequence_id, limit=500),
            "timelines": {n: lead_timeline(conn, world.workspace_id, i) for n, i in world.leads.items()},
            "queue": queued_steps(conn, world.workspace_id),
            "runs": runs_overview(conn, world.workspace_id, limit=50),
        }


def merge_keeping_each_aggregates_order(envelopes: list[Envelope], rng: Any) -> list[Envelope]:
    """A random interleaving of the aggregates' streams, as a Kafka consumer of many partitions may see."""
    streams: dict[Any, list[Envelope]] = {}
    for e in envelopes:
        streams.setdefault(e.aggregate_id, []).append(e)
    queues = list(streams.values())
    merged: list[Envelope] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged
