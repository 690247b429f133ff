"""Sequences: every sequence of the active runs with its headline counts (the same read model as
GET /v1/runs, run_overview); Create sequence, the builder (name, strategy profile, source groups,
steps); and a sequence's page.

A plain form that works without JavaScript: Add step, remove and the up/down buttons are submit buttons that
re-render the form with the change (`action`), so they work by keyboard too. The same command as
api/routes/sequences.py (create_sequence, CreateSequence's validation, errors mapped to fields in errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plera.aggregates.errors import DomainError
from plera.aggregates.run import Run
from plera.aggregates.sequence import Sequence
from plera.commands.sequences import CreateSequence, create_sequence
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile
from plera.projections.catalog import list_items
from plera.projections.run_overview import runs_overview
from plera.web.errors import field_errors, message_for
from plera.web.pages import ServicesPage, Viewer, ViewerDep, render
from plera.web.routes.runs import parse_id, with_rates

router = APIRouter(include_in_schema=False)
PAGE = 100
MAX_STEPS = 50
CHANNELS = [("email", "Email"), ("linkedin_invite", "LinkedIn invite"), ("linkedin_message", "LinkedIn message")]
CONDITIONS = [("always", "Always"), ("no_reply", "No reply")]
SEED_STEPS = [  # the seed's LinkedIn-first sequence
    {"channel": "linkedin_invite", "delay": "0", "condition": "always"},
    {"channel": "email", "delay": "3", "condition": "no_reply"},
    {"channel": "email", "delay": "2", "condition": "no_reply"},
    {"channel": "email", "delay": "2", "condition": "no_reply"},
]
FIELD_LABELS = {
    "name": "Name",
    "strategy_profile_id": "Strategy profile",
    "source_group_ids": "Source groups",
    "steps": "Steps",
    "channel": "Channel",
    "delay_days": "Delay (days)",
    "condition": "Condition",
}
PROFILE_LABELS = {"name": "Profile title", "offer": "Offer", "persona": "Persona", "tone": "Tone"}


@dataclass
class Builder:
    """What the form holds: the fields as typed, so a re-render shows them unchanged."""

    name: str
    profile_id: str
    group_ids: list[str]
    steps: list[dict[str, str]]
    profile: dict[str, str]


def days_of(steps: list[dict[str, str]]) -> list[int | None]:
    """Each step's day from the start: delays count from the previous step (None once a delay is not a number)."""
    days: list[int | None] = []
    total: int | None = 0
    for step in steps:
        delay = step.get("delay", "").strip()
        total = total + int(delay) if total is not None and delay.isdigit() else None
        days.append(total)
    return days


@router.get("/runs/{run_id}/sequences/new")
def new_sequence_page(request: Request, sv: ServicesPage, viewer: ViewerDep, run_id: str) -> HTMLResponse:
    run = sv.events.get(parse_id(run_id, "run"), Run, viewer.workspace_id)  # another workspace's: 404
    start = request.query_params.get("start")
    steps = (
        [dict(s) for s in SEED_STEPS]
        if start == "seed"
        else [{"channel": "email", "delay": "0", "condition": "always"}]
    )
    form = Builder(name="", profile_id="", group_ids=[], steps=steps, profile={})
    return _builder(request, sv, viewer, run, form)


@router.post("/runs/{run_id}/sequences/new")
async def post_sequence_page(request: Request, sv: ServicesPage, viewer: ViewerDep, run_id: str) -> Response:
    data = await request.form()  # then the commands run off the event loop, as the API's sync routes do
    return await run_in_threadpool(_post_sequence, request, sv, viewer, run_id, data)


def _post_sequence(request: Request, sv: Any, viewer: Viewer, run_id: str, data: Any) -> Response:
    run = sv.events.get(parse_id(run_id, "run"), Run, viewer.workspace_id)
    raw_steps = zip(
        data.getlist("step_channel"), data.getlist("step_delay"), data.getlist("step_condition"), strict=False
    )
    form = Builder(
        name=str(data.get("name", "")),
        profile_id=str(data.get("strategy_profile_id", "")),
        group_ids=[str(g) for g in data.getlist("source_group_ids")],
        steps=[{"channel": str(c), "delay": str(d), "condition": str(k)} for c, d, k in raw_steps][:MAX_STEPS],
        profile={k: str(data.get(f"profile_{k}", "")) for k in PROFILE_LABELS},
    )
    action = str(data.get("action", "create"))
    verb, _, arg = action.partition(":")
    index = int(arg) if arg.isdigit() else -1
    steps = form.steps
    if verb == "add" and len(steps) < MAX_STEPS:
        steps.append(
            {"channel": "email", "delay": "2" if steps else "0", "condition": "no_reply" if steps else "always"}
        )
        return _builder(request, sv, viewer, run, form, focus=f"step-{len(steps) - 1}-channel", said="Step added.")
    if verb == "remove" and 0 <= index < len(steps) and len(steps) > 1:
        steps.pop(index)
        return _builder(request, sv, viewer, run, form, focus="add-step", said=f"Step {index + 1} removed.")
    if verb in ("up", "down") and 0 <= index < len(steps):
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(steps):
            steps[index], steps[other] = steps[other], steps[index]
            at_end = other == 0 if verb == "up" else other == len(steps) - 1  # that button is disabled there
            button = {"up": "down", "down": "up"}[verb] if at_end else verb
            return _builder(
                request,
                sv,
                viewer,
                run,
                form,
                focus=f"step-{other}-{button}",
                said=f"Step moved to position {other + 1}.",
            )
        return _builder(request, sv, viewer, run, form)
    if verb == "seed":
        form.steps = [dict(s) for s in SEED_STEPS]
        return _builder(request, sv, viewer, run, form, focus="step-0-channel", said="LinkedIn-first steps filled in.")
    if verb == "profile":
        return _create_profile(request, sv, viewer, run, form)
    return _create(request, sv, viewer, run, form)


def _create(request: Request, sv: Any, viewer: Viewer, run: Run, form: Builder) -> Response:
    body: dict[str, Any] = {
        "run_id": str(run.id),
        "name": form.name.strip(),
        "strategy_profile_id": form.profile_id or None,
        "source_group_ids": form.group_ids,
        "steps": [
            {"channel": s["channel"], "delay_days": s["delay"].strip(), "condition": s["condition"]} for s in form.steps
        ],
    }
    try:
        sequence = create_sequence(sv, viewer.workspace_id, CreateSequence.model_validate(body), viewer.actor)
    except ValidationError as e:
        errors = {
            field: f"Step {int(field.split('-')[1]) + 1} {text[:1].lower()}{text[1:]}"
            if field.startswith("step-")
            else text
            for field, text in field_errors(e, FIELD_LABELS, _field_id).items()
        }
        return _builder(request, sv, viewer, run, form, errors=errors)
    except DomainError as e:
        return _builder(request, sv, viewer, run, form, errors={"": message_for(e)})
    return RedirectResponse(f"/sequences/{sequence.id}/lab?created=1", status_code=303)


def _field_id(loc: tuple[Any, ...]) -> str:
    """The id of the form control a pydantic error's location points at."""
    if loc[:1] == ("steps",) and len(loc) >= 3 and isinstance(loc[1], int):
        part = {"channel": "channel", "delay_days": "delay", "condition": "condition"}.get(str(loc[2]), "channel")
        return f"step-{loc[1]}-{part}"
    return {"name": "name", "strategy_profile_id": "strategy-profile", "steps": "add-step"}.get(
        str(loc[0]) if loc else "", "groups"
    )


def _create_profile(request: Request, sv: Any, viewer: Viewer, run: Run, form: Builder) -> Response:
    body = {k: v.strip() for k, v in form.profile.items()}
    try:
        profile = create_strategy_profile(
            sv, viewer.workspace_id, CreateStrategyProfile.model_validate(body), viewer.actor
        )
    except ValidationError as e:
        labels = PROFILE_LABELS
        return _builder(request, sv, viewer, run, form, errors=field_errors(e, labels, lambda loc: f"profile-{loc[0]}"))
    form.profile_id = str(profile.id)
    form.profile = {}
    extra = {"id": str(profile.id), "name": profile.name}
    return _builder(
        request,
        sv,
        viewer,
        run,
        form,
        focus="strategy-profile",
        said=f"Strategy profile {profile.name} created and chosen.",
        extra_profile=extra,
    )


def _builder(
    request: Request,
    sv: Any,
    viewer: Viewer,
    run: Run,
    form: Builder,
    *,
    errors: dict[str, str] | None = None,
    focus: str = "",
    said: str = "",
    extra_profile: dict[str, str] | None = None,
) -> HTMLResponse:
    with sv.db.pool.connection() as conn:
        groups = list_items(conn, viewer.workspace_id, "source_group", limit=PAGE, parent_id=run.id)["items"]
        profiles = list_items(conn, viewer.workspace_id, "strategy_profile", limit=PAGE)["items"]
    if extra_profile and all(p["id"] != extra_profile["id"] for p in profiles):
        profiles.append(extra_profile)  # the read model may not have caught up yet
    errors = errors or {}
    return render(
        request,
        "sequences/new.html",
        title="Create sequence",
        crumbs=[("Runs", "/runs"), (run.name, f"/runs/{run.id}"), ("Create sequence", None)],
        nav="runs",
        status=422 if errors else 200,
        run=run,
        form=form,
        days=days_of(form.steps),
        groups=groups,
        profiles=profiles,
        channels=CHANNELS,
        conditions=CONDITIONS,
        errors=errors,
        focus=focus,
        said=said,
        max_steps=MAX_STEPS,
    )


@router.get("/sequences/{sequence_id}")
def sequence_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> HTMLResponse:
    """The sequence's page: its status, its steps and their days, and the way to its Messaging Lab."""
    sequence = sv.events.get(parse_id(sequence_id, "sequence"), Sequence, viewer.workspace_id)
    run = sv.events.get(sequence.run_id, Run, viewer.workspace_id)
    steps = [
        {"channel": s["channel"], "delay": str(s["delay_days"]), "condition": s["condition"]} for s in sequence.steps
    ]
    return render(
        request,
        "sequences/show.html",
        title=sequence.name,
        crumbs=[("Runs", "/runs"), (run.name, f"/runs/{run.id}"), (sequence.name, None)],
        nav="runs",
        sequence=sequence,
        run=run,
        steps=steps,
        days=days_of(steps),
        channel_names=dict(CHANNELS),
        condition_names=dict(CONDITIONS),
        launched=request.query_params.get("launched"),
    )


@router.get("/sequences")
def sequences_page(request: Request, sv: ServicesPage, viewer: ViewerDep) -> HTMLResponse:
    with sv.db.pool.connection() as conn:
        runs = runs_overview(conn, viewer.workspace_id, status="active", limit=PAGE)["items"]
    for run in runs:
        run["sequences"] = [with_rates(s) for s in run["sequences"]]
    return render(
        request, "sequences/list.html", title="Sequences", crumbs=[("Sequences", None)], nav="sequences", runs=runs
    )
