"""What came of the simulated days, as the read models show it: the steps that did not go out and why,
how the leads' courses changed, the unified inbox and the suppression list."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from plera.aggregates.lead import Lead
from plera.commands.suppressions import list_suppressions
from plera.demo.story import Story
from plera.demo.week import local
from plera.demo.words import LeadStory, channel
from plera.projections.inbox import threads
from plera.projections.lead_timeline import lead_timeline

# The events that change a lead's course, as the lead timeline words them.
COURSE = (
    "InviteAccepted",
    "ReplyDetected",
    "OutOfOfficeDetected",
    "EnrollmentResumed",
    "MessageBounced",
    "EnrollmentStopped",
)
FLAGS = ("replied", "ooo", "bounced", "unmatched")
PREVIEW = 40


def not_sent(story: Story) -> list[dict[str, Any]]:
    """Every step of the sequence that did not go out, from the enrollment read model: skipped or bounced
    with the reason, or left waiting when the lead was stopped (then the lead's reason)."""
    with story.sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT e.lead_id, s.step, s.channel, s.status, s.reason, e.status, e.stop_reason,"
            " coalesce(s.bounced_at, s.skipped_at, s.failed_at, s.outcome_unknown_at, e.last_event_at)"
            " FROM read.enrollments e JOIN read.enrollment_steps s ON s.enrollment_id = e.id"
            " WHERE e.workspace_id = %s AND e.sequence_id = %s AND s.status <> 'sent'",
            (story.workspace_id, story.sequence_id),
        ).fetchall()
    found = []
    for lead_id, step, step_channel, status, reason, lead_status, stop_reason, at in rows:
        waiting = status in ("pending", "scheduled")
        found.append(
            {
                "lead": story.leads[lead_id].name,
                "zone": story.zones[lead_id],
                "step": step,
                "channel": step_channel,
                "status": "not sent" if waiting else status,
                "why": f"lead {lead_status}: {stop_reason}" if waiting and stop_reason else reason or "",
                "at": at,
            }
        )
    return sorted(found, key=lambda r: (r["lead"], r["step"]))


def print_not_sent(console: Console, story: Story) -> None:
    table = Table(title="Steps that did not go out, and why")
    for column in ("lead", "step", "channel", "status", "when (their time)", "why"):
        table.add_column(column)
    for row in not_sent(story):
        at = local(row["at"], row["zone"]) if row["at"] else ""
        table.add_row(row["lead"], str(row["step"]), channel(row["channel"]), row["status"], at, row["why"])
    console.print(table)


def print_course_changes(console: Console, story: Story) -> None:
    """Accepted, replied, away and back, bounced, stopped: from the lead timeline, with who recorded it."""
    rows: list[tuple[datetime, str, str, str, str]] = []
    with story.sv.db.pool.connection() as conn:
        for lead in story.leads.values():
            words = LeadStory(story.zones[lead.id], {}, {})
            for event in lead_timeline(conn, story.workspace_id, lead.id):
                if event["type"] in COURSE:
                    at = datetime.fromisoformat(event["at"])
                    rows.append((at, lead.name, story.zones[lead.id], words.what(event) or "", event["actor"]))
    table = Table(title="How the leads' courses changed")
    for column in ("lead", "when (their time)", "what", "by"):
        table.add_column(column)
    for at, name, zone, what, actor in sorted(rows):
        table.add_row(name, local(at, zone), what, actor)
    console.print(table)


def inbox(story: Story) -> list[dict[str, Any]]:
    """The workspace's threads, latest first: the query GET /v1/inbox/threads answers with."""
    with story.sv.db.pool.connection() as conn:
        items: list[dict[str, Any]] = threads(conn, story.workspace_id, limit=500)["items"]
    return items


def print_inbox(console: Console, story: Story) -> None:
    items = inbox(story)
    unread = sum(1 for t in items if t["unread"])
    table = Table(title=f"The unified inbox: {len(items)} threads, {unread} unread (GET /v1/inbox/threads)")
    for column in ("lead", "channel", "state", "flags", "last message (their time)", "from", "text", "messages"):
        table.add_column(column)
    zones = {str(lead_id): zone for lead_id, zone in story.zones.items()}
    for t in items:
        at = local(datetime.fromisoformat(t["last_message_at"]), zones.get(t["lead_id"] or "", "UTC"))
        text = " ".join((t["last_preview"] or "").split())
        table.add_row(
            t["lead_name"] or t["from_address"] or "",
            channel(t["channel"]),
            "unread" if t["unread"] else "read",
            ", ".join(f for f in FLAGS if t[f]),
            at,
            f"them ({t['last_classification']})" if t["last_direction"] == "in" else "us",
            text[:PREVIEW] + ("…" if len(text) > PREVIEW else ""),
            str(t["message_count"]),
        )
    console.print(table)


def print_suppressions(console: Console, story: Story) -> None:
    table = Table(title="Suppression list (never written to again)")
    for column in ("kind", "value", "source", "reason"):
        table.add_column(column)
    for entry in list_suppressions(story.sv, story.workspace_id, limit=500)["items"]:
        table.add_row(entry["kind"], entry["value"], entry["source"], entry["reason"] or "")
    console.print(table)


def print_totals(console: Console, story: Story, emails: int, invitations: list[dict[str, Any]]) -> None:
    statuses = Counter(story.enrollment(lead).status for lead in story.leads.values())
    console.print(
        f"The SMTP sink received {emails} emails and the LinkedIn sandbox {len(invitations)} invitations"
        f" ({sum(1 for i in invitations if i['status'] == 'accepted')} accepted)."
        f" Leads: {', '.join(f'{n} {status}' for status, n in sorted(statuses.items()))}.",
        soft_wrap=True,
    )


def print_lead_history(console: Console, story: Story, lead: Lead, history: dict[str, Any]) -> None:
    """One lead's history, as `plera history` replays it from the event store, in words."""
    with story.sv.db.pool.connection() as conn:
        rows = conn.execute("SELECT id::text, name FROM read.catalog WHERE workspace_id = %s", (story.workspace_id,))
        names: dict[str, str] = dict(rows.fetchall())
    words = LeadStory(story.zones[lead.id], sender_names=names, sequence_names=names)
    table = Table(title=f"{lead.name}'s history, replayed from the event store (their time)")
    for column in ("when", "what"):
        table.add_column(column)
    for when, what in words.lines(history["events"]):
        table.add_row(when, what)
    console.print(table)
