"""The Messaging Lab of a sequence: drafts, the editor with its variables, a live preview for a chosen lead,
approvals, readiness, the sender accounts, a test send and the launch.

The same commands and read models as api/routes/messaging.py and api/routes/sequences.py; the page adds no rule.
Every action is a plain form (POST, then back to the Lab with what happened), so the page works without
JavaScript; app.js adds the variable buttons and the busy state of long actions.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plera.aggregates.errors import DomainError, LaunchBlocked
from plera.aggregates.run import Run
from plera.aggregates.sequence import Sequence
from plera.aggregates.sequence_messages import message_view
from plera.aggregates.workspace import Workspace
from plera.commands.lead_views import list_group_leads
from plera.commands.messaging import (
    ChooseSenders,
    MessageIn,
    approve_message,
    choose_senders,
    draft_messages,
    edit_message,
    lab_of,
    previews,
    readiness_of,
)
from plera.commands.next_step import rules_of
from plera.commands.sequences import launch_sequence
from plera.commands.test_send import TestSend, test_send
from plera.messaging.readiness import questions
from plera.messaging.template_analysis import VARIABLES
from plera.projections.catalog import list_items
from plera.projections.lead_data import lead_counts
from plera.runtime import Services
from plera.scheduling import policy
from plera.web.errors import message_for
from plera.web.pages import ServicesPage, Viewer, ViewerDep, render
from plera.web.routes.runs import parse_id
from plera.web.routes.sequences import CHANNELS, CONDITIONS, days_of

router = APIRouter(include_in_schema=False)
DEFAULTS = {"lead.first_name": "there", "lead.company": "your team", "sender.name": "us"}
SAID = {
    "created": "Sequence created. Generate previews to draft its messages.",
    "drafted": "Drafts written. Read each step, edit it if you like, and approve it.",
    "saved": "Step saved. Its approval was withdrawn: approve it again when it reads right.",
    "approved": "Step approved.",
    "senders": "Sender accounts saved.",
}


def snippet(variable: str) -> str:
    """What the variable buttons insert: the variable with its fallback, as the drafts write them."""
    if variable == "unsubscribe_url":
        return "{{ unsubscribe_url }}"
    return "{{ " + variable + " | default('" + DEFAULTS.get(variable, "") + "') }}"


@router.get("/sequences/{sequence_id}/lab")
def lab_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> HTMLResponse:
    sequence = _sequence(sv, viewer, sequence_id)
    return _lab(request, sv, viewer, sequence)


@router.post("/sequences/{sequence_id}/lab/drafts")
def generate_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> Response:
    sequence = _sequence(sv, viewer, sequence_id)
    try:
        draft_messages(sv, viewer.workspace_id, sequence.id, viewer.actor)
    except DomainError as e:
        return _lab(request, sv, viewer, sequence, error=message_for(e))
    return _back(sequence, "drafted", request)


@router.post("/sequences/{sequence_id}/lab/steps/{step}")
async def step_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str, step: int) -> Response:
    data = await request.form()  # then the commands run off the event loop, as the API's sync routes do
    return await run_in_threadpool(_step, request, sv, viewer, sequence_id, step, data)


def _step(request: Request, sv: Services, viewer: Viewer, sequence_id: str, step: int, data: Any) -> Response:
    """Save the step's text, or approve it: an approval of changed text saves it first (what you see is approved)."""
    sequence = _sequence(sv, viewer, sequence_id)
    action = str(data.get("action", "save"))
    # a browser sends a text box's lines with CRLF; a blank subject is none (a later email goes as "Re: …")
    raw_subject = data.get("subject")
    subject = str(raw_subject).strip() or None if raw_subject is not None else None
    body = str(data.get("body", "")).replace("\r\n", "\n")
    current = sequence.message_of(step) if 1 <= step <= len(sequence.steps) else None
    changed = current is None or current["body"] != body or (current["subject"] or None) != subject
    try:
        if changed or action == "save":
            cmd = MessageIn.model_validate({"subject": subject, "body": body})
            edit_message(sv, viewer.workspace_id, sequence.id, step, cmd, viewer.actor, lead_id=None)
        if action == "approve":
            approve_message(sv, viewer.workspace_id, sequence.id, step, viewer.actor, lead_id=None)
    except (DomainError, ValidationError) as e:
        return _lab(request, sv, viewer, sequence, error=f"Step {step}: {message_for(e)}", step_error=step)
    return _back(sequence, "approved" if action == "approve" else "saved", request, anchor=f"step-{step}")


@router.post("/sequences/{sequence_id}/lab/senders")
async def senders_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> Response:
    data = await request.form()
    return await run_in_threadpool(_senders, request, sv, viewer, sequence_id, data)


def _senders(request: Request, sv: Services, viewer: Viewer, sequence_id: str, data: Any) -> Response:
    sequence = _sequence(sv, viewer, sequence_id)
    body = {"email": data.getlist("email"), "linkedin": data.getlist("linkedin")}
    try:
        choose_senders(sv, viewer.workspace_id, sequence.id, ChooseSenders.model_validate(body), viewer.actor)
    except (DomainError, ValidationError) as e:
        return _lab(request, sv, viewer, sequence, error=message_for(e))
    return _back(sequence, "senders", request, anchor="senders")


@router.post("/sequences/{sequence_id}/lab/test-send")
async def test_send_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> Response:
    data = await request.form()
    return await run_in_threadpool(_test_send, request, sv, viewer, sequence_id, data)


def _test_send(request: Request, sv: Services, viewer: Viewer, sequence_id: str, data: Any) -> Response:
    sequence = _sequence(sv, viewer, sequence_id)
    to = str(data.get("to", "")).strip()
    body = {"step": str(data.get("step", "")), "lead_id": str(data.get("lead_id", "")), "to": to}
    try:
        sent = test_send(sv, viewer.workspace_id, sequence.id, TestSend.model_validate(body), viewer.actor)
    except (DomainError, ValidationError) as e:
        return _lab(request, sv, viewer, sequence, test_error=message_for(e), test_to=to)
    return _lab(request, sv, viewer, sequence, test_said=f"Test of step {body['step']} sent to {sent['to']}.")


@router.post("/sequences/{sequence_id}/lab/launch")
def launch_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> Response:
    sequence = _sequence(sv, viewer, sequence_id)
    try:
        launched, enrolled = launch_sequence(sv, viewer.workspace_id, sequence.id, viewer.actor)
    except LaunchBlocked as e:
        return _lab(request, sv, viewer, sequence, error="Launch refused: " + _blocked_words(e))
    except DomainError as e:
        return _lab(request, sv, viewer, sequence, error=message_for(e))
    return RedirectResponse(f"/sequences/{launched.id}?launched={enrolled}", status_code=303)


def _blocked_words(e: LaunchBlocked) -> str:
    findings = getattr(e, "findings", None) or []
    return " ".join(str(f.get("detail", "")) for f in findings) or message_for(e)


def _sequence(sv: Services, viewer: Viewer, sequence_id: str) -> Sequence:
    return sv.events.get(parse_id(sequence_id, "sequence"), Sequence, viewer.workspace_id)  # another's: 404


def _back(sequence: Sequence, said: str, request: Request, anchor: str = "") -> RedirectResponse:
    lead = request.query_params.get("lead_id")
    query = f"?said={said}" + (f"&lead_id={lead}" if lead else "")
    return RedirectResponse(f"/sequences/{sequence.id}/lab{query}{'#' + anchor if anchor else ''}", status_code=303)


def _lab(
    request: Request,
    sv: Services,
    viewer: Viewer,
    sequence: Sequence,
    *,
    error: str = "",
    step_error: int | None = None,
    test_error: str = "",
    test_said: str = "",
    test_to: str = "",
) -> HTMLResponse:
    sequence = sv.events.get(sequence.id, Sequence, viewer.workspace_id)  # as the last action left it
    run = sv.events.get(sequence.run_id, Run, viewer.workspace_id)
    lead_param = request.query_params.get("lead_id") or ""
    q = request.query_params.get("q", "").strip()[:200]
    lead_id = _uuid(lead_param)
    try:
        shown = previews(sv, viewer.workspace_id, sequence.id, lead_id=lead_id, limit=1)
    except DomainError:
        shown = previews(sv, viewer.workspace_id, sequence.id, lead_id=None, limit=1)
    preview_of = {p["step"]: p for p in shown}
    ready = readiness_of(sv, sequence)
    with sv.db.pool.connection() as conn:
        accounts = list_items(conn, viewer.workspace_id, "sender_account", limit=200)["items"]
        total = lead_counts(conn, viewer.workspace_id, sequence.source_group_ids, questions(lab_of(sv, sequence))).total
    found: list[dict[str, Any]] = []
    if q:
        for group_id in sequence.source_group_ids:
            found += list_group_leads(sv, viewer.workspace_id, group_id, q=q, limit=10, cursor=None)["items"]
    steps = [
        {
            "number": n,
            "channel": s["channel"],
            "condition": s["condition"],
            "delay": str(s["delay_days"]),
            "message": message_view(sequence.messages.get(s["key"])),
            "preview": preview_of.get(n),
        }
        for n, s in enumerate(sequence.steps, start=1)
    ]
    chosen = {family: [str(i) for i in ids] for family, ids in sequence.senders.items()}
    said = SAID.get(request.query_params.get("said", ""), "")
    return render(
        request,
        "lab/show.html",
        title=f"Messaging Lab: {sequence.name}",
        crumbs=[
            ("Runs", "/runs"),
            (run.name, f"/runs/{run.id}"),
            (sequence.name, f"/sequences/{sequence.id}"),
            ("Messaging Lab", None),
        ],
        nav="runs",
        status=422 if (error or test_error) else 200,
        sequence=sequence,
        run=run,
        steps=steps,
        days=days_of(steps),
        channel_names=dict(CHANNELS),
        condition_names=dict(CONDITIONS),
        variables=[(v, snippet(v)) for v in VARIABLES],
        preview_lead=shown[0] if shown else None,
        lead_param=lead_param,
        q=q,
        found=found,
        readiness=ready,
        blocking=[f for f in ready["findings"] if f["severity"] == "blocking"],
        warnings=[f for f in ready["findings"] if f["severity"] != "blocking"],
        accounts=accounts,
        chosen=chosen,
        total=total,
        first_send=_first_send(sv, viewer.workspace_id),
        error=error,
        step_error=step_error,
        said=said,
        test_error=test_error,
        test_said=test_said,
        test_to=test_to,
    )


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _first_send(sv: Services, workspace_id: UUID) -> str:
    """When the first messages would go out if launched now: the next window opening, in words."""
    rules = rules_of(sv.events.get(workspace_id, Workspace))
    now = sv.clock.now()
    try:
        opening = policy.next_opening(rules, rules.timezone, now)
    except ValueError:
        return "when the workspace has a sending day"
    local = opening.astimezone(policy.zone_info(rules.timezone))
    today = now.astimezone(policy.zone_info(rules.timezone)).date()
    if opening <= now:
        return "right away, as the sending window is open, in each lead's time zone"
    day = "today" if local.date() == today else local.strftime("%A")
    return f"{day} from {rules.window_start.strftime('%H:%M')} in each lead's time zone"
