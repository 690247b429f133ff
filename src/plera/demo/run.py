"""`plera demo` from start to end: the first morning, the simulated days, and what came of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from rich.console import Console

from plera.channels.linkedin_sandbox import SandboxServer
from plera.commands.history import lead_history
from plera.commands.inbox import mark_thread
from plera.demo import report_days, report_outcomes
from plera.demo.api_server import ApiServer
from plera.demo.first_morning import ACTOR, Sinks, build_and_launch
from plera.demo.reactions import OtherSide
from plera.demo.story import Story
from plera.demo.week import SIMULATED_DAYS, WORKSPACE_ZONE, demo_services, local
from plera.demo_sinks import SmtpSink
from plera.runtime import Services

TOLD = "Marco Rossi"  # whose history ends the demo: invited, emailed, replied, stopped


def run_demo(sv: Services, console: Console, catch_up: Callable[[], Any]) -> dict[str, Any]:
    """Builds the scenario, launches it and runs it over simulated days against local sinks while the
    demo plays the leads through Plera's own API, then prints what went out when, what came back,
    what Plera did about it (stopped, paused and resumed, suppressed), the inbox, and one lead's
    history. Ends once the read models caught up. Returns the ids it made."""
    stored_before = sv.events.app.recorder.max_notification_id() or 0
    console.rule("[bold]Plera demo")
    console.print(f"Database: {'reused, ' + str(stored_before) + ' events already stored' if stored_before else 'new'}")
    api = ApiServer()
    sv, clock = demo_services(sv, api.base_url)
    try:
        api.start(sv)
        with SmtpSink() as smtp, SandboxServer() as sandbox:
            sinks = Sinks(smtp.host, smtp.port, sandbox.base_url)
            launched = build_and_launch(sv, clock, console, catch_up, sinks)
            workspace_id = launched.workspace_id
            leads = launched.leads
            other_side = OtherSide(api.base_url, workspace_id, launched.webhook_secret, smtp, sandbox)
            story = Story(sv, clock, catch_up, workspace_id, launched.sequence.id, leads, other_side)
            console.print(
                f"\nRunning the sequence for {SIMULATED_DAYS} simulated days from {local(clock.now(), WORKSPACE_ZONE)}"
                f" (email to an SMTP sink on {smtp.host}:{smtp.port}, LinkedIn to the sandbox at {sandbox.base_url};"
                f" the leads answer through the API at {api.base_url}) ...",
                soft_wrap=True,
            )
            try:
                story.run(until=clock.now() + timedelta(days=SIMULATED_DAYS))
            finally:
                other_side.close()
            read = _read_the_replies(story)
            catch_up()
            report_days.print_sent(console, story)
            report_days.print_reactions(console, story)
            report_outcomes.print_not_sent(console, story)
            report_outcomes.print_course_changes(console, story)
            console.print(f"Alex read {read} repl{'y' if read == 1 else 'ies'} in the inbox.")
            report_outcomes.print_inbox(console, story)
            report_outcomes.print_suppressions(console, story)
            report_outcomes.print_totals(console, story, len(smtp.received), sandbox.sandbox.state()["invitations"])
            told = next(lead for lead in leads.values() if lead.name == TOLD)
            report_outcomes.print_lead_history(console, story, told, lead_history(sv, workspace_id, told.id))
    finally:
        api.stop()
    console.print(
        f"\nThe demo's API at {api.base_url} stopped with the demo. To look around the workspace 'Demo',"
        " run `plera up` with the same settings (it serves http://127.0.0.1:8000, API docs at /docs)"
        " and use this key.",
        soft_wrap=True,
    )
    console.print(f"Workspace key (for the API): [bold]{launched.api_key}[/]", soft_wrap=True)
    return {
        "workspace_id": workspace_id,
        "sequence_id": launched.sequence.id,
        "lead_id": told.id,
        "enrolled": launched.enrolled,
    }


def _read_the_replies(story: Story) -> int:
    """Alex opens the threads where someone replied, so the inbox shows read and unread threads."""
    replied = [t for t in report_outcomes.inbox(story) if t["replied"] and t["unread"]]
    for thread in replied:
        mark_thread(story.sv, story.workspace_id, UUID(thread["id"]), True, ACTOR)
    return len(replied)
