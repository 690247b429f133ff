"""`plera demo`: a scripted scenario from workspace to launch, then ten simulated days of sending to local
sinks (an SMTP sink and the LinkedIn sandbox), shown as a person would read it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from operator import attrgetter
from typing import Any, Literal, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from plera.aggregates.enrollment import DONE, LeadEnrollment, StepStatus
from plera.aggregates.lead import Lead, normalise_linkedin_url
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.channels.linkedin_sandbox import SandboxServer
from plera.clock import FixedClock, SimulatedClock
from plera.commands.enrollments import enrollments_of
from plera.commands.history import lead_history
from plera.commands.lead_import import parse_csv
from plera.commands.messaging import (
    ChooseSenders,
    MessageIn,
    approve_message,
    choose_senders,
    draft_messages,
    edit_message,
    previews,
    readiness,
)
from plera.commands.next_step import rules_of, zone_of
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, launch_sequence
from plera.commands.sequences import create_sequence as create_sequence_command
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo_sinks import SmtpSink
from plera.runtime import Services
from plera.scheduling.worker import Worker

ACTOR = "demo"
_WORKSPACE_ZONE = ZoneInfo("Europe/Berlin")
# The demo's week when it keeps its own clock: a Monday morning before the window opens, in the past (so
# `plera history`, as of now, shows all of it) and with no holiday of the workspace in the days it runs.
DEMO_MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=_WORKSPACE_ZONE)
SIMULATED_DAYS = 10


class MovableClock(Protocol):
    def now(self) -> datetime: ...

    def set(self, at: datetime) -> datetime: ...

    def advance(self, by: timedelta) -> datetime: ...


# The seed's LinkedIn-first sequence. The seed counts days from entry (0, 3, 5, 7);
# our delays count from the previous step, so they are 0, 3, 2 and 2.
SEED_STEPS: list[dict[str, Any]] = [
    {"name": "Connect on LinkedIn", "channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"name": "First email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Follow-up", "channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"name": "Final email", "channel": "email", "delay_days": 2, "condition": "no_reply"},
]


def sample_leads() -> bytes:
    return resources.files("plera.samples").joinpath("leads.csv").read_bytes()


def run_demo(sv: Services, console: Console, catch_up: Any) -> dict[str, Any]:
    """Builds the scenario, launches it and runs it over simulated days against local sinks, then
    prints what went out when, what came back, and one lead's history. Returns the ids it made."""
    stored_before = sv.events.app.recorder.max_notification_id() or 0
    console.rule("[bold]Plera demo")
    console.print(f"Database: {'reused, ' + str(stored_before) + ' events already stored' if stored_before else 'new'}")
    sv, clock = demo_services(sv)
    with SmtpSink() as smtp, SandboxServer() as sandbox:
        made = _build_and_launch(sv, clock, console, catch_up, smtp, sandbox)
        workspace_id, sequence = made["workspace_id"], made["sequence"]
        leads: dict[UUID, Lead] = sv.events.load_many(made["lead_ids"])
        story = Story(sv, clock, catch_up, workspace_id, sequence.id, leads, sandbox)
        console.print(
            f"\nRunning the sequence for {SIMULATED_DAYS} simulated days from {_local(clock.now(), _WORKSPACE_ZONE)}"
            f" (email to an SMTP sink on {smtp.host}:{smtp.port}, LinkedIn to the sandbox at {sandbox.base_url}) ...",
            soft_wrap=True,
        )
        story.run(until=clock.now() + timedelta(days=SIMULATED_DAYS))
        _print_outcomes(console, story, smtp, sandbox)
    first = made["lead_ids"][0]
    print_history(console, lead_history(sv, workspace_id, first))
    console.print(f"\nWorkspace key (for the API): [bold]{made['api_key']}[/]", soft_wrap=True)
    return {"workspace_id": workspace_id, "sequence_id": sequence.id, "lead_id": first, "enrolled": made["enrolled"]}


def demo_services(sv: Services) -> tuple[Services, MovableClock]:
    """The services the demo runs on, with a clock it moves.

    A simulated clock is shared through the database with other processes, so it only moves forward:
    to the next Monday 08:00 in the demo's zone. Otherwise (the system clock) the demo runs on a copy
    of the services with a clock of its own, from DEMO_MONDAY: a fixed week without holidays in the
    past, so the output is the same each time and `plera history` (as of now) shows all of it."""
    if isinstance(sv.clock, SimulatedClock):
        sv.clock.set(_next_monday_morning(sv.clock.now()))
        return sv, sv.clock
    clock = FixedClock(DEMO_MONDAY.astimezone(UTC))
    return replace(sv, clock=clock), clock


def _next_monday_morning(after: datetime) -> datetime:
    local = after.astimezone(_WORKSPACE_ZONE)
    day = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    start = datetime.combine(day, DEMO_MONDAY.timetz())
    return start if start >= local else start + timedelta(days=7)


def _build_and_launch(
    sv: Services, clock: MovableClock, console: Console, catch_up: Any, smtp: SmtpSink, sandbox: SandboxServer
) -> dict[str, Any]:
    """What a person does on the first morning, a minute per stage: workspace, leads, senders,
    the Messaging Lab (drafts, a preview, approval) and the launch."""

    def a_minute_later() -> None:
        clock.advance(timedelta(minutes=1))

    ws = create_workspace(
        sv, CreateWorkspace(name="Demo", timezone=_WORKSPACE_ZONE.key, holiday_countries=["DE"]), ACTOR
    )
    workspace_id = ws.workspace.id
    a_minute_later()
    run = create_run(sv, workspace_id, CreateRun(name="Q1 outbound"), ACTOR)
    group = create_source_group(sv, workspace_id, run.id, CreateSourceGroup(name="Sample leads"), ACTOR)
    imported = import_leads(sv, workspace_id, group.id, parse_csv(sample_leads()), ACTOR)
    a_minute_later()
    mark_enriched(sv, workspace_id, group.id, ACTOR)
    profile = create_strategy_profile(
        sv,
        workspace_id,
        CreateStrategyProfile(
            name="Revenue leaders",
            offer="pipeline reviews that find stalled deals in a week",
            persona="heads of sales at B2B software companies",
            tone="plain and friendly",
            call_to_action="a 20-minute call next week",
            signature="Alex from Plera",
            avoid_words=["synergy", "revolutionary"],
        ),
        ACTOR,
    )
    email = add_sender_account(
        sv,
        workspace_id,
        AddSenderAccount.model_validate(
            {
                "channel": "email",
                "name": "Alex",
                "address": "alex@plera.example",
                "daily_limit": 40,
                "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
            }
        ),
        ACTOR,
    )
    linkedin = add_sender_account(
        sv,
        workspace_id,
        AddSenderAccount.model_validate(
            {
                "channel": "linkedin",
                "name": "Alex",
                "address": "https://www.linkedin.com/in/alex-plera",
                "daily_limit": 25,
                "weekly_invite_limit": 100,
                "provider": {"base_url": sandbox.base_url, "api_key": "demo", "account_id": "alex-plera"},
            }
        ),
        ACTOR,
    )
    sequence = create_sequence_command(
        sv,
        workspace_id,
        CreateSequence.model_validate(
            {
                "run_id": run.id,
                "name": "LinkedIn first",
                "strategy_profile_id": profile.id,
                "source_group_ids": [group.id],
                "steps": SEED_STEPS,
            }
        ),
        ACTOR,
    )
    catch_up()
    a_minute_later()
    # The Messaging Lab: offline drafts, a look at what the first lead would get, approval, launch.
    draft_messages(sv, workspace_id, sequence.id, ACTOR)
    choose_senders(sv, workspace_id, sequence.id, ChooseSenders(email=[email.id], linkedin=[linkedin.id]), ACTOR)
    _print_previews(console, previews(sv, workspace_id, sequence.id, lead_id=None, limit=1))
    a_minute_later()
    for step in range(1, len(SEED_STEPS) + 1):
        approve_message(sv, workspace_id, sequence.id, step, ACTOR, lead_id=None)
    _print_readiness(console, readiness(sv, workspace_id, sequence.id))
    a_minute_later()
    sequence, enrolled = launch_sequence(sv, workspace_id, sequence.id, ACTOR)
    catch_up()

    _print_import(console, imported.as_dict())
    _print_sequence(console, sequence.as_dict(), enrolled)
    _print_enrollments(console, sv, sequence)
    return {
        "workspace_id": workspace_id,
        "sequence": sequence,
        "lead_ids": list(imported.lead_ids),
        "enrolled": enrolled,
        "api_key": ws.api_key,
    }


# ---- the simulated days


@dataclass
class Reaction:
    """What a lead does some time after one of their steps went out: the demo plays the lead."""

    first_name: str
    after_step: int
    delay: timedelta
    kind: Literal["accept", "reply"]
    at: datetime | None = None  # planned once the step went out
    happened_at: datetime | None = None
    never: bool = False  # the step did not go out, so there was nothing to react to


def reactions() -> list[Reaction]:
    return [
        Reaction("Sarah", after_step=1, delay=timedelta(hours=26), kind="accept"),  # the next morning, her time
        Reaction("Marco", after_step=2, delay=timedelta(hours=5), kind="reply"),  # the same afternoon
    ]


class Story:
    """Runs the launched sequence over simulated days: the clock moves to the next moment something is
    due (a step's eligible time, a sender's next slot, a recipient's window) or a lead reacts, and at
    each one the worker's dispatch job runs in this thread and the read models catch up, as the
    running service's one-second ticks would."""

    def __init__(
        self,
        sv: Services,
        clock: MovableClock,
        catch_up: Any,
        workspace_id: UUID,
        sequence_id: UUID,
        leads: dict[UUID, Lead],
        sandbox: SandboxServer,
    ) -> None:
        self.sv, self.clock, self.catch_up = sv, clock, catch_up
        self.workspace_id, self.sequence_id = workspace_id, sequence_id
        self.leads = leads
        self.sandbox = sandbox
        self.reactions = reactions()
        self.wakes = 0
        self.by_first_name = {lead.details.get("first_name"): lead for lead in leads.values()}

    def run(self, *, until: datetime) -> None:
        worker = Worker(self.sv, name="demo", workspace_id=self.workspace_id)
        try:
            while True:
                self._react()
                self._dispatch(worker)
                self._plan_reactions()
                wake = self._next_wake()
                if wake is None or wake > until:
                    break
                self.clock.set(_whole_second(wake))
                self.wakes += 1
        finally:
            worker.stop()
        if self.clock.now() < until:
            self.clock.set(until)

    def enrollment(self, lead: Lead) -> LeadEnrollment:
        return self.sv.events.get(LeadEnrollment.create_id(self.sequence_id, lead.id), LeadEnrollment)

    def _dispatch(self, worker: Worker) -> None:
        while True:
            self.catch_up()
            if worker.dispatch_due() == 0:
                break
        self.catch_up()

    def _plan_reactions(self) -> None:
        for reaction in self.reactions:
            if reaction.at is not None or reaction.never:
                continue
            enrollment = self.enrollment(self.by_first_name[reaction.first_name])
            status = enrollment.step_status(reaction.after_step)
            if status is StepStatus.SENT:
                sent_at = datetime.fromisoformat(enrollment.steps[reaction.after_step - 1]["done_at"])
                reaction.at = sent_at + reaction.delay
            elif status in DONE or not enrollment.is_open:
                reaction.never = True

    def _react(self) -> None:
        now = self.clock.now()
        for reaction in self.reactions:
            if reaction.at is None or reaction.happened_at is not None or reaction.at > now:
                continue
            lead = self.by_first_name[reaction.first_name]
            if reaction.kind == "accept":
                self._accept_invite(lead, now)
            else:
                self._reply_by_email(lead, now)
            reaction.happened_at = now
            self.catch_up()

    def _accept_invite(self, lead: Lead, now: datetime) -> None:
        """The lead accepts in the sandbox (the provider's side), and the enrollment records it, as the
        provider's invite_accepted webhook would."""
        wanted = normalise_linkedin_url(lead.details["linkedin_url"])
        invitation = next(
            i
            for i in self.sandbox.sandbox.state()["invitations"]
            if normalise_linkedin_url(i["recipient_profile_url"]) == wanted
        )
        self.sandbox.sandbox.accept(
            {"account_id": invitation["account_id"], "profile_url": invitation["recipient_profile_url"]}
        )
        enrollment = self.enrollment(lead)
        if enrollment.record_invite_accepted(at=now, actor=ACTOR):
            self.sv.events.save(enrollment)

    def _reply_by_email(self, lead: Lead, now: datetime) -> None:
        """A reply to the first email, recorded on the enrollment as the inbound mail handler would."""
        enrollment = self.enrollment(lead)
        first = enrollment.first_email()
        enrollment.record_reply(channel="email", message_ref=first[1] if first else None, at=now, actor=ACTOR)
        self.sv.events.save(enrollment)

    def _next_wake(self) -> datetime | None:
        now = self.clock.now()
        planned = [r.at for r in self.reactions if r.at is not None and r.happened_at is None]
        candidates = [t for t in (_next_due(self.sv, self.workspace_id, now), *planned) if t is not None]
        return max(min(candidates), now) if candidates else None


def _whole_second(at: datetime) -> datetime:
    """The next whole second (a worker ticks each second): times read cleanly in the history."""
    return at if at.microsecond == 0 else at.replace(microsecond=0) + timedelta(seconds=1)


def _next_due(sv: Services, workspace_id: UUID, after: datetime) -> datetime | None:
    """When the dispatcher will next find something of the workspace to look at: a queued step's
    eligible time, or the later time it set on the row itself (window, sender slot, next day)."""
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT min(coalesce(not_before, eligible_at)) FROM read.due_queue"
            " WHERE workspace_id = %s AND NOT paused AND coalesce(not_before, eligible_at) > %s",
            (workspace_id, after),
        ).fetchone()
    return row[0] if row and row[0] is not None else None


# ---- what happened


@dataclass(frozen=True)
class Row:
    at: datetime
    lead: str
    zone: str
    step: int
    channel: str
    detail: str  # the sender's name, or why the step was skipped


def outcomes(story: Story) -> tuple[list[Row], list[Row]]:
    """The steps that went out and those skipped, in time order, from the enrollments (the truth)."""
    sv = story.sv
    sequence = sv.events.get(story.sequence_id, Sequence)
    rules = rules_of(sv.events.get(story.workspace_id, Workspace))
    enrollments = enrollments_of(sv, sequence)
    senders = sv.events.load_many({s["sender_id"] for e in enrollments for s in e.steps if s["sender_id"]})
    sent, skipped = [], []
    for enrollment in enrollments:
        lead = story.leads[enrollment.lead_id]
        zone = zone_of(lead, rules).zone
        for number, state in enumerate(enrollment.steps, start=1):
            if state.get("done_at") is None:
                continue
            at = datetime.fromisoformat(state["done_at"])
            channel = enrollment.channel_of(number)
            if state["status"] == StepStatus.SENT.value:
                sender = senders.get(state["sender_id"])
                sent.append(Row(at, lead.name, zone, number, channel, sender.name if sender else "?"))
            elif state["status"] == StepStatus.SKIPPED.value:
                skipped.append(Row(at, lead.name, zone, number, channel, str(state["reason"])))
    key = attrgetter("at", "lead", "step")
    return sorted(sent, key=key), sorted(skipped, key=key)


def _print_outcomes(console: Console, story: Story, smtp: SmtpSink, sandbox: SandboxServer) -> None:
    sent, skipped = outcomes(story)
    table = Table(title=f"What went out, in each recipient's local time ({story.wakes} clock moves)")
    for column in ("lead", "step", "channel", "sent (recipient's time)", "sender"):
        table.add_column(column)
    for row in sent:
        table.add_row(row.lead, str(row.step), row.channel, _local(row.at, row.zone), row.detail)
    console.print(table)

    table = Table(title="Steps skipped")
    for column in ("lead", "step", "skipped (recipient's time)", "why"):
        table.add_column(column)
    for row in skipped:
        table.add_row(row.lead, str(row.step), _local(row.at, row.zone), row.detail)
    console.print(table)

    rules = rules_of(story.sv.events.get(story.workspace_id, Workspace))
    table = Table(title="What came back (played by the demo)")
    for column in ("lead", "what", "when (their time)"):
        table.add_column(column)
    for reaction in story.reactions:
        if reaction.happened_at is None:
            continue
        lead = story.by_first_name[reaction.first_name]
        what = "accepted the LinkedIn invite" if reaction.kind == "accept" else "replied to the first email"
        table.add_row(lead.name, what, _local(reaction.happened_at, zone_of(lead, rules).zone))
    console.print(table)

    invitations = sandbox.sandbox.state()["invitations"]
    statuses = Counter(story.enrollment(lead).status for lead in story.leads.values())
    console.print(
        f"The SMTP sink received {len(smtp.received)} emails and the LinkedIn sandbox {len(invitations)} invitations"
        f" ({sum(1 for i in invitations if i['status'] == 'accepted')} accepted)."
        f" Leads: {', '.join(f'{n} {status}' for status, n in sorted(statuses.items()))}.",
        soft_wrap=True,
    )


def _local(at: datetime, zone: str | ZoneInfo) -> str:
    """An instant as the recipient reads it: weekday, date, wall time and the zone's abbreviation."""
    return at.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")


def _print_previews(console: Console, items: list[dict[str, Any]]) -> None:
    console.print("\nWhat the first lead would receive (offline drafts, before approval):")
    for item in items:
        head = f"step {item['step']} ({item['channel']})" + (f": {item['subject']}" if item["subject"] else "")
        console.print(f"[bold]{head}[/]")
        console.print(item["body"].strip(), soft_wrap=True, markup=False)


def _print_readiness(console: Console, report: dict[str, Any]) -> None:
    console.print(f"\nReady to launch: {'yes' if report['ready'] else 'no'}")
    for finding in report["findings"]:
        console.print(f"  {finding['severity']}: {finding['code']}: {finding['detail']}", markup=False)


def make_ready(
    sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str, *, senders: dict[str, list[UUID]] | None = None
) -> Sequence:
    """What a person does in the Messaging Lab before launch, all at once: a message for every step
    (the offline writer's drafts when the sequence has a strategy profile, else plain ones), senders
    for its channels (new sandbox accounts unless given), and every message approved."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if sequence.strategy_profile_id is not None:
        sequence = draft_messages(sv, workspace_id, sequence_id, actor)
    else:
        first_email = next((n for n, s in enumerate(sequence.steps, start=1) if s["channel"] == "email"), None)
        for step, spec in enumerate(sequence.steps, start=1):
            subject, body = PLAIN_MESSAGES[spec["channel"]]
            subject = subject if step == first_email else None  # later emails go in its thread, as "Re: …"
            edit_message(
                sv, workspace_id, sequence_id, step, MessageIn(subject=subject, body=body), actor, lead_id=None
            )
    if senders is None:
        families = {"email" if s["channel"] == "email" else "linkedin" for s in sequence.steps}
        senders = {family: [_sandbox_sender(sv, workspace_id, family, actor)] for family in sorted(families)}
    choose_senders(sv, workspace_id, sequence_id, ChooseSenders.model_validate(senders), actor)
    for step in range(1, len(sequence.steps) + 1):
        sequence = approve_message(sv, workspace_id, sequence_id, step, actor, lead_id=None)
    return sequence


PLAIN_MESSAGES: dict[str, tuple[str | None, str]] = {
    "email": (
        "A question for {{ lead.company | default('your team') }}",
        "Hi {{ lead.first_name | default('there') }},\n\nA short note from {{ sender.name | default('us') }}.\n\n"
        "{{ sender.signature | default('') }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    "linkedin_invite": (None, "Hi {{ lead.first_name | default('there') }}, glad to connect."),
    "linkedin_message": (None, "Thanks for connecting, {{ lead.first_name | default('there') }}."),
}


def _sandbox_sender(sv: Services, workspace_id: UUID, family: str, actor: str) -> UUID:
    address = "sender@plera.example" if family == "email" else "https://www.linkedin.com/in/plera-sandbox"
    cmd = AddSenderAccount(channel=family, name=f"Sandbox {family}", address=address, daily_limit=1000)  # type: ignore[arg-type]
    return add_sender_account(sv, workspace_id, cmd, actor).id


def _print_import(console: Console, result: dict[str, Any]) -> None:
    console.print(f"\nImported {result['imported']} leads ({result['existing']} already known).")
    for rejection in result["rejected"]:
        console.print(f"  row {rejection['row']} rejected: {rejection['code']}: {rejection['detail']}")


def _print_sequence(console: Console, sequence: dict[str, Any], enrolled: int) -> None:
    table = Table(title=f"Sequence {sequence['name']!r}: {sequence['status']}, {enrolled} leads enrolled")
    for column in ("step", "name", "channel", "delay (days)", "condition"):
        table.add_column(column)
    for step in sequence["steps"]:
        table.add_row(
            str(step["step"]), step["name"] or "", step["channel"], str(step["delay_days"]), step["condition"]
        )
    console.print(table)


def _print_enrollments(console: Console, sv: Services, sequence: Any) -> None:
    table = Table(title="Leads")
    for column in ("lead", "status", "next step", "step 1"):
        table.add_column(column)
    for enrollment in enrollments_of(sv, sequence):
        view = enrollment.as_dict()
        table.add_row(view["lead_id"][:8], view["status"], str(view["next_step"]), view["steps"][0]["status"])
    console.print(table)


def print_history(console: Console, history: dict[str, Any]) -> None:
    table = Table(title=f"History of lead {history['lead_id']}")
    for column in ("at", "event", "aggregate", "v", "actor"):
        table.add_column(column)
    for event in history["events"]:
        table.add_row(event["at"], event["type"], event["aggregate_id"][:8], str(event["version"]), event["actor"])
    console.print(table)
