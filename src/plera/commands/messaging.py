"""The Messaging Lab's use cases: draft, edit and approve messages, choose senders, preview, readiness."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from pydantic import Field

from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import Lead
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.commands.models import Command, text
from plera.messaging.drafting import DraftRequest, ProfileBrief, StepBrief, writer_for
from plera.messaging.previews import Previewer
from plera.messaging.readiness import NOTE_LIMIT, Lab, SenderInfo, findings, questions
from plera.messaging.rendered_lengths import count_longer, count_longer_each, grouping, own_messages
from plera.messaging.unsubscribe import unsubscribe_url
from plera.projections.lead_data import lead_counts, lead_groups_of, lead_rows
from plera.runtime import Services

SAMPLE_LEADS = 5  # leads shown to the AI writer as examples of who it writes to


class MessageIn(Command):
    subject: str | None = text(500, default=None, description="a jinja2 template; one line once rendered")
    body: str = text(20_000, description="a jinja2 template")


class ChooseSenders(Command):
    email: list[UUID] = Field(default_factory=list, max_length=100)
    linkedin: list[UUID] = Field(default_factory=list, max_length=100)


def draft_messages(sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str) -> Sequence:
    """Drafts every step with the configured writer (AI, else offline). Drafts are never approved."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if sequence.strategy_profile_id is None:
        raise InvalidValue("the sequence needs a strategy profile to draft from")
    profile = sv.events.get(sequence.strategy_profile_id, StrategyProfile, workspace_id)
    lab = lab_of(sv, sequence)
    with sv.db.pool.connection() as conn:
        samples = lead_rows(conn, workspace_id, sequence.source_group_ids, limit=SAMPLE_LEADS)
    request = DraftRequest(
        profile=ProfileBrief.from_mapping(profile.as_dict()),
        steps=_briefs(sequence, lab),
        sample_leads=[{k: str(v) for k, v in row.items() if k in _SAMPLE_FIELDS and v} for row in samples],
    )
    drafts = writer_for(sv.settings).write(request)
    at = sv.clock.now()
    for draft in drafts.drafts:
        sequence.record_draft(
            step=draft.step,
            subject=draft.subject,
            body=draft.body,
            writer=drafts.writer,
            model=drafts.model,
            prompt_version=drafts.prompt_version,
            at=at,
            actor=actor,
        )
    sv.events.save(sequence)
    return sequence


_SAMPLE_FIELDS = ("first_name", "company", "title", "city", "country")


def _briefs(sequence: Sequence, lab: Lab) -> list[StepBrief]:
    first_email = next((n for n, s in enumerate(sequence.steps, start=1) if s["channel"] == "email"), None)
    accounts = lab.senders.get("linkedin") or []
    note_limit = NOTE_LIMIT[bool(accounts) and all(s.premium for s in accounts)]
    return [
        StepBrief(
            step=n,
            channel=s["channel"],
            position=n,
            total_steps=len(sequence.steps),
            is_first_email=n == first_email,
            delay_days=s["delay_days"],
            condition=s["condition"],
            note_limit=note_limit if s["channel"] == "linkedin_invite" else None,
        )
        for n, s in enumerate(sequence.steps, start=1)
    ]


def edit_message(
    sv: Services, workspace_id: UUID, sequence_id: UUID, step: int, cmd: MessageIn, actor: str, *, lead_id: UUID | None
) -> Sequence:
    """A person's text for a step, or for one lead's step (an override). Withdraws that message's approval."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    at = sv.clock.now()
    if lead_id is None:
        sequence.edit_message(step=step, subject=cmd.subject, body=cmd.body, at=at, actor=actor)
    else:
        sv.events.get(lead_id, Lead, workspace_id)
        sequence.edit_lead_message(lead_id=lead_id, step=step, subject=cmd.subject, body=cmd.body, at=at, actor=actor)
    sv.events.save(sequence)
    return sequence


def approve_message(
    sv: Services, workspace_id: UUID, sequence_id: UUID, step: int, actor: str, *, lead_id: UUID | None
) -> Sequence:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    at = sv.clock.now()
    if lead_id is None:
        sequence.approve_message(step=step, at=at, actor=actor)
    else:
        sequence.approve_lead_message(lead_id=lead_id, step=step, at=at, actor=actor)
    sv.events.save(sequence)
    return sequence


def choose_senders(sv: Services, workspace_id: UUID, sequence_id: UUID, cmd: ChooseSenders, actor: str) -> Sequence:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    for channel, ids in (("email", cmd.email), ("linkedin", cmd.linkedin)):
        for sender_id in ids:
            account = sv.events.get(sender_id, SenderAccount, workspace_id)
            if account.channel != channel:
                raise InvalidValue(f"sender account {sender_id} sends on {account.channel}, not {channel}")
    sequence.choose_senders(email=cmd.email, linkedin=cmd.linkedin, at=sv.clock.now(), actor=actor)
    sv.events.save(sequence)
    return sequence


def lab_of(sv: Services, sequence: Sequence) -> Lab:
    """The sequence's messages with their context: the chosen senders and the strategy profile."""
    accounts = sv.events.load_many([i for ids in sequence.senders.values() for i in ids])
    profile = sv.events.load_many([sequence.strategy_profile_id] if sequence.strategy_profile_id else [])
    found = next(iter(profile.values()), None)
    return Lab(
        steps=[{"key": s["key"], "channel": s["channel"], "name": s["name"]} for s in sequence.steps],
        messages=sequence.messages,
        overrides=sequence.current_overrides(),
        senders={
            family: [_sender_info(accounts[i]) for i in ids if isinstance(accounts.get(i), SenderAccount)]
            for family, ids in sequence.senders.items()
        },
        profile_signature=found.signature if isinstance(found, StrategyProfile) else None,
        avoid_words=tuple(found.avoid_words) if isinstance(found, StrategyProfile) else (),
        invite_without_note=bool(sequence.settings.get("invite_without_note")),
    )


def _sender_info(account: SenderAccount) -> SenderInfo:
    return SenderInfo(
        id=account.id,
        channel=account.channel,
        name=account.name,
        status=account.status,
        daily_limit=account.daily_limit,
        weekly_invite_limit=account.weekly_invite_limit,
        premium=account.premium,
        signature=account.signature,
        reason=account.paused_reason or account.last_error,
    )


def readiness(sv: Services, workspace_id: UUID, sequence_id: UUID, *, render_each_lead: bool = False) -> dict[str, Any]:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    return readiness_of(sv, sequence, render_each_lead=render_each_lead)


def readiness_of(sv: Services, sequence: Sequence, *, render_each_lead: bool = False) -> dict[str, Any]:
    """`{ready, findings}`: ready when nothing blocks the launch.

    `render_each_lead` counts the lengths of LinkedIn texts with logic by rendering every lead, as
    readiness did before it grouped the leads: the reference the tests and the bench compare with."""
    lab = lab_of(sv, sequence)
    asked = questions(lab)
    with sv.db.pool.connection() as conn:
        counts = lead_counts(conn, sequence.workspace_id, sequence.source_group_ids, asked)
        if asked.rendered_lengths:
            previewer = previewer_for(sv, sequence, lab)
            if render_each_lead:
                rows = lead_rows(conn, sequence.workspace_id, sequence.source_group_ids, limit=counts.total)
                answers = count_longer_each(previewer, rows, asked.rendered_lengths)
            else:
                answers = _rendered_grouped(conn, sequence, lab, previewer, asked.rendered_lengths)
            counts = replace(counts, answers={**counts.answers, **answers})
    unapproved = sequence.unapproved_steps()
    pending_overrides = sum(1 for m in lab.overrides if m["approved_version"] != m["version"])
    found = [f.as_dict() for f in findings(lab, counts, unapproved=unapproved, overrides_unapproved=pending_overrides)]
    return {"ready": not any(f["severity"] == "blocking" for f in found), "findings": found}


def _rendered_grouped(
    conn: Any, sequence: Sequence, lab: Lab, previewer: Previewer, limits: dict[str, tuple[int, int]]
) -> dict[str, int]:
    """LinkedIn texts with logic: each rendered once per group of leads that read the same (rendered_lengths)."""
    ws, groups = sequence.workspace_id, sequence.source_group_ids
    how = {name: grouping(lab, previewer, step) for name, (step, _) in limits.items()}
    grouped = lead_groups_of(conn, ws, groups, how, address="linkedin_url")
    answers = {name: count_longer(lab, previewer, step, limit, grouped[name]) for name, (step, limit) in limits.items()}
    for name, (step, limit) in limits.items():
        own = own_messages(lab, step)
        if own:  # few: each counted with its own message instead of the step's
            rows = [r for r in lead_rows(conn, ws, groups, lead_ids=own, limit=len(own)) if _has_linkedin(r)]
            as_step = count_longer(lab, previewer, step, limit, [(r, r["id"], 1) for r in rows])
            answers[name] += count_longer_each(previewer, rows, {name: (step, limit)})[name] - as_step
    return answers


def _has_linkedin(row: dict[str, Any]) -> bool:
    """As lead_groups_of's SQL tells a LinkedIn URL: not blank once spaces are trimmed."""
    return bool((row["linkedin_url"] or "").strip(" "))


def previewer_for(sv: Services, sequence: Sequence, lab: Lab | None = None) -> Previewer:
    public_url, key, workspace_id = sv.settings.public_url, sv.signing_key, sequence.workspace_id
    return Previewer(
        lab or lab_of(sv, sequence), lambda lead_id: unsubscribe_url(public_url, key, workspace_id, lead_id)
    )


def previews(
    sv: Services, workspace_id: UUID, sequence_id: UUID, *, lead_id: UUID | None, limit: int
) -> list[dict[str, Any]]:
    """Every step rendered for the lead asked for, or for the first `limit` leads of the sequence."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if lead_id is not None:
        sv.events.get(lead_id, Lead, workspace_id)
    with sv.db.pool.connection() as conn:
        rows = lead_rows(
            conn, workspace_id, sequence.source_group_ids, lead_ids=[lead_id] if lead_id else None, limit=limit
        )
    if lead_id is not None and not rows:
        raise InvalidValue(f"lead {lead_id} is not an eligible lead of this sequence's source groups")
    previewer = previewer_for(sv, sequence)
    return [item.as_dict() for row in rows for item in previewer.preview(row)]
