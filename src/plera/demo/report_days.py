"""What the demo shows of the simulated days: what went out when, in each recipient's local time, and
what the leads did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from rich.console import Console
from rich.table import Table

from plera.demo.reactions import WHAT, back_on
from plera.demo.story import Story
from plera.demo.week import local
from plera.demo.words import channel


@dataclass(frozen=True)
class Sent:
    at: datetime
    lead: str
    zone: str
    step: int
    channel: str
    sender: str


def sent_steps(story: Story) -> list[Sent]:
    """The steps that went out (a bounced one too: it went, and came back), in time order, from the
    enrollment read model."""
    with story.sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT e.lead_id, s.step, s.channel, s.sent_at, a.name"
            " FROM read.enrollments e JOIN read.enrollment_steps s ON s.enrollment_id = e.id"
            " LEFT JOIN read.catalog a ON a.id = s.sender_id"
            " WHERE e.workspace_id = %s AND e.sequence_id = %s AND s.sent_at IS NOT NULL",
            (story.workspace_id, story.sequence_id),
        ).fetchall()
    sent = [
        Sent(at, story.leads[lead_id].name, story.zones[lead_id], step, channel, sender or "?")
        for lead_id, step, channel, at, sender in rows
    ]
    return sorted(sent, key=attrgetter("at", "lead", "step"))


def print_sent(console: Console, story: Story) -> None:
    table = Table(title="What went out, in each recipient's local time")
    for column in ("lead", "step", "channel", "sent (recipient's time)", "sender"):
        table.add_column(column)
    for row in sent_steps(story):
        table.add_row(row.lead, str(row.step), channel(row.channel), local(row.at, row.zone), row.sender)
    console.print(table)


def print_reactions(console: Console, story: Story) -> None:
    table = Table(title="What came back (played by the demo, through Plera's webhooks and unsubscribe link)")
    for column in ("lead", "what", "to step", "when (their time)", "Plera answered"):
        table.add_column(column)
    for reaction in sorted((r for r in story.reactions if r.happened_at), key=attrgetter("happened_at")):
        assert reaction.happened_at is not None
        lead = story.by_first_name[reaction.first_name]
        zone = story.zones[lead.id]
        what = WHAT[reaction.kind]
        if reaction.kind == "out_of_office":
            what += f", back {back_on(reaction.happened_at, zone):%a %d %b}"
        table.add_row(lead.name, what, str(reaction.after_step), local(reaction.happened_at, zone), reaction.answer)
    console.print(table)
