"""Readiness: what stands between a sequence and its launch, as the contract's findings.

Pure. Templates are read statically (templates.analyse), never rendered per lead: what depends
on the leads is asked of the database as counts (LeadQuestions → LeadCounts, answered by
projections/lead_data.py), so a 10,000-lead sequence is one aggregate query. One render per
template checks the size bound (templates.RENDER_LIMIT): for "the longest lead", whose every field is
the longest value among the leads, with the longest name and signature of the chosen senders.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from plera.aggregates.sequence_messages import SENDER_CHANNELS
from plera.messaging.templates import UNSUBSCRIBE_URL, Analysis, Segment, analyse, context_of, render

BLOCKING = "blocking"
WARNING = "warning"
SEVERITY = {
    "step_not_approved": BLOCKING,
    "no_sender_for_channel": BLOCKING,
    "sender_unavailable": BLOCKING,
    "template_error": BLOCKING,
    "unknown_variable": BLOCKING,
    "empty_variable": BLOCKING,
    "linkedin_note_too_long": BLOCKING,
    "linkedin_message_too_long": BLOCKING,
    "email_missing_subject": BLOCKING,
    "email_missing_body": BLOCKING,
    "email_missing_unsubscribe": BLOCKING,
    "missing_channel_address": WARNING,
    "sender_capacity": WARNING,
    "avoid_word": WARNING,
    "no_eligible_leads": WARNING,
}
NOTE_LIMIT = {True: 300, False: 200}  # LinkedIn invite notes: premium accounts, free accounts
MESSAGE_LIMIT = 8000  # LinkedIn messages
START_DAYS_WARNING = 5  # starting every lead taking longer than this many sending days is worth a warning
SIGNATURE_LENGTH = 200  # what a sender's name or signature may add to a note, when it is not known
# As long as a real unsubscribe link (the public URL, /v1/unsubscribe/ and a 64-character token).
SAMPLE_UNSUBSCRIBE_URL = "https://plera.example/v1/unsubscribe/" + "x" * 64


@dataclass(frozen=True)
class SenderInfo:
    id: UUID
    channel: str  # "email" or "linkedin"
    name: str
    status: str
    daily_limit: int
    weekly_invite_limit: int | None = None
    premium: bool = False
    signature: str | None = None
    reason: str | None = None  # why it cannot send: its pause reason or the error of its last check


@dataclass(frozen=True)
class Lab:
    """What readiness reads of a sequence: its steps with their working messages, and its context."""

    steps: list[dict[str, Any]]  # {key, channel, name}, in order
    messages: dict[str, dict[str, Any]]  # step key → working message {subject, body, version, approved_version}
    overrides: list[dict[str, Any]]  # per-lead messages of current steps: {lead_id, step_key, subject, body, ...}
    senders: dict[str, list[SenderInfo]]  # "email" / "linkedin" → the chosen accounts
    profile_signature: str | None = None
    avoid_words: tuple[str, ...] = ()
    invite_without_note: bool = False

    def family(self, step: dict[str, Any]) -> str:
        return SENDER_CHANNELS[step["channel"]]


@dataclass(frozen=True)
class LengthCheck:
    """Leads whose rendered text would be longer than `limit`: `constant` plus the lead fields' lengths."""

    name: str
    constant: int
    fields: tuple[tuple[str, str], ...]  # (lead field, fallback)
    limit: int


@dataclass(frozen=True)
class LeadQuestions:
    """What to count over the sequence's eligible leads."""

    empty_any: dict[str, frozenset[str]] = field(default_factory=dict)  # name → lead fields, any blank
    lengths: list[LengthCheck] = field(default_factory=list)
    # name → (step, limit) of templates with logic, whose length only rendering tells (the rare case)
    rendered_lengths: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class LeadCounts:
    total: int
    no_email: int = 0
    no_linkedin: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # name → how many leads
    longest: dict[str, str] = field(default_factory=dict)  # lead field → its longest value among the leads


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str
    steps: list[int]
    lead_count: int | None = None
    sender_id: UUID | None = None  # the sender a sender_unavailable finding is about

    @property
    def severity(self) -> str:
        return SEVERITY[self.code]

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "detail": self.detail,
            "steps": self.steps,
            "lead_count": self.lead_count,
        }
        if self.sender_id is not None:
            found["sender_id"] = str(self.sender_id)
        return found


def questions(lab: Lab) -> LeadQuestions:
    """The counts readiness needs from the database, for this sequence's templates."""
    empty: dict[str, frozenset[str]] = {}
    lengths: list[LengthCheck] = []
    rendered: dict[str, tuple[int, int]] = {}
    for number, step, message in _messages(lab):
        body = _analysis(message["body"], step["channel"])
        needed = frozenset(
            v.removeprefix("lead.")
            for a in (body, _analysis(message.get("subject"), step["channel"]))
            for v in a.without_fallback
            if v.startswith("lead.")
        )
        if needed:
            empty[f"empty_{number}"] = needed
        limit = _length_limit(lab, step)
        if limit is not None and message["body"].strip() and not body.error:
            if body.segments is not None:
                lengths.append(_length_check(f"long_{number}", body.segments, limit, lab, step))
            else:
                rendered[f"long_{number}"] = (number, limit)
    return LeadQuestions(empty, lengths, rendered)


def findings(lab: Lab, counts: LeadCounts, *, unapproved: list[int], overrides_unapproved: int) -> list[Finding]:
    """Every finding, blocking ones first, each with the steps and the number of leads it affects."""
    found: list[Finding] = []
    if unapproved:
        detail = f"{_steps(unapproved)} {'is' if len(unapproved) == 1 else 'are'} not approved"
        if overrides_unapproved:
            detail += f" ({_count(overrides_unapproved, 'lead message')} of their own)"
        found.append(Finding("step_not_approved", detail, unapproved, overrides_unapproved or None))
    found += _sender_findings(lab, counts)
    found += _template_findings(lab, counts)
    found += _override_findings(lab)
    found += _address_findings(lab, counts)
    if counts.total == 0:
        found.append(Finding("no_eligible_leads", "no enriched source group of the sequence has leads", []))
    found.sort(key=lambda f: (f.severity != BLOCKING, list(SEVERITY).index(f.code)))
    return found


def _messages(lab: Lab) -> Iterable[tuple[int, dict[str, Any], dict[str, Any]]]:
    """The steps whose messages go out, with them (an invite sent without a note has none)."""
    for number, step in enumerate(lab.steps, start=1):
        if step["channel"] == "linkedin_invite" and lab.invite_without_note:
            continue
        message = lab.messages.get(step["key"])
        if message is not None:
            yield number, step, message


def _analysis(source: str | None, channel: str) -> Analysis:
    return analyse(source or "", channel=channel)


def _length_limit(lab: Lab, step: dict[str, Any]) -> int | None:
    if step["channel"] == "linkedin_invite":
        if lab.invite_without_note:
            return None
        accounts = lab.senders.get("linkedin") or []
        return NOTE_LIMIT[bool(accounts) and all(s.premium for s in accounts)]
    if step["channel"] == "linkedin_message":
        return MESSAGE_LIMIT
    return None


def _length_check(name: str, segments: tuple[Segment, ...], limit: int, lab: Lab, step: dict[str, Any]) -> LengthCheck:
    constant = 0
    fields: list[tuple[str, str]] = []
    for segment in segments:
        if segment.variable is None:
            constant += len(segment.text)
        elif segment.variable.startswith("lead."):
            fields.append((segment.variable.removeprefix("lead."), segment.fallback or ""))
        else:  # a sender's name or signature: the longest among the senders the lead may get
            constant += max((len(v) for v in _sender_values(lab, step, segment.variable)), default=0) or len(
                segment.fallback or ""
            )
    return LengthCheck(name, constant, tuple(fields), limit)


def _sender_values(lab: Lab, step: dict[str, Any], variable: str) -> list[str]:
    accounts = lab.senders.get(lab.family(step)) or []
    if variable == "sender.name":
        return [s.name for s in accounts]
    return [s.signature or lab.profile_signature or "" for s in accounts]


def _sender_findings(lab: Lab, counts: LeadCounts) -> list[Finding]:
    found = []
    families: dict[str, list[int]] = {}
    for number, step in enumerate(lab.steps, start=1):
        families.setdefault(lab.family(step), []).append(number)
    for family, steps in families.items():
        chosen = lab.senders.get(family) or []
        active = [s for s in chosen if s.status == "active"]
        name = "LinkedIn" if family == "linkedin" else "email"
        for s in chosen:
            if s.status != "active":  # its leads would wait on it: the first send would find it unable
                detail = f"{name} sender {s.name} is {s.status}" + (f": {s.reason}" if s.reason else "")
                found.append(Finding("sender_unavailable", detail, steps, None, s.id))
        if not active:
            why = "all chosen accounts are paused or unverified" if chosen else "no account is chosen"
            found.append(Finding("no_sender_for_channel", f"{name}: {why}", steps, counts.total or None))
            continue
        per_day = sum(s.daily_limit for s in active)
        days = math.ceil(counts.total / per_day) if counts.total else 0
        if days > START_DAYS_WARNING:
            detail = f"{name}: starting all {_count(counts.total, 'lead')} takes {days} sending days at {per_day} a day"
            found.append(Finding("sender_capacity", detail, steps[:1], counts.total))
        if family == "linkedin" and any(lab.steps[n - 1]["channel"] == "linkedin_invite" for n in steps):
            per_week = sum(s.weekly_invite_limit or 0 for s in active)
            weeks = math.ceil(counts.total / per_week) if per_week and counts.total else 0
            if weeks > 2:
                detail = (
                    f"LinkedIn: inviting all {_count(counts.total, 'lead')} takes {_count(weeks, 'week')}"
                    f" at {_count(per_week, 'invite')} a week"
                )
                found.append(Finding("sender_capacity", detail, steps[:1], counts.total))
    return found


def _template_findings(lab: Lab, counts: LeadCounts) -> list[Finding]:
    found = []
    first_email = next((n for n, s in enumerate(lab.steps, start=1) if s["channel"] == "email"), None)
    for number, step, message in _messages(lab):
        channel = step["channel"]
        parts = {"subject": _analysis(message.get("subject"), channel), "body": _analysis(message["body"], channel)}
        for part, analysis in parts.items():
            if analysis.error:
                found.append(Finding("template_error", f"step {number} {part}: {analysis.error}", [number]))
            elif (too_long := _longest_render_error(lab, step, message.get(part), counts)) is not None:
                detail = f"step {number} {part}, for the lead with the longest fields: {too_long}"
                found.append(Finding("template_error", detail, [number]))
            if analysis.unknown:
                names = sorted(analysis.unknown)
                detail = f"step {number} {part}: {_and(names)} {'is' if len(names) == 1 else 'are'} not known"
                found.append(Finding("unknown_variable", detail, [number]))
        empty = counts.answers.get(f"empty_{number}", 0)
        if empty:
            unguarded = sorted({v for a in parts.values() for v in a.without_fallback if v.startswith("lead.")})
            which = (
                f"{unguarded[0]} has no fallback and is"
                if len(unguarded) == 1
                else f"{_and(unguarded)} have no fallback, and one or more of them is"
            )
            detail = f"step {number}: {which} blank for {_count(empty, 'lead')}"
            found.append(Finding("empty_variable", detail, [number], empty))
        found += _sender_variable_findings(lab, number, step, parts.values(), counts)
        body = message["body"] or ""
        if channel == "email":
            if number == first_email and not (message.get("subject") or "").strip():
                found.append(
                    Finding("email_missing_subject", f"step {number} opens the thread: it needs a subject", [number])
                )
            if not body.strip():
                found.append(Finding("email_missing_body", f"step {number} has no body", [number]))
            elif not parts["body"].error and not parts["body"].has_unsubscribe:
                detail = f"step {number}: the body must show {{{{ {UNSUBSCRIBE_URL} }}}}"
                found.append(Finding("email_missing_unsubscribe", detail, [number]))
        long = counts.answers.get(f"long_{number}", 0)
        if long:
            code = "linkedin_note_too_long" if channel == "linkedin_invite" else "linkedin_message_too_long"
            limit = _length_limit(lab, step)
            found.append(
                Finding(
                    code, f"step {number} is longer than {limit} characters for {_count(long, 'lead')}", [number], long
                )
            )
        words = _avoided(lab.avoid_words, (message.get("subject") or "") + "\n" + body)
        if words:
            detail = f"step {number} uses {'a word' if len(words) == 1 else 'words'} to avoid: {_and(words)}"
            found.append(Finding("avoid_word", detail, [number]))
    return found


def _longest_render_error(lab: Lab, step: dict[str, Any], source: str | None, counts: LeadCounts) -> str | None:
    """Why the template does not render for the longest lead and sender (past the size bound), or None."""
    if not source:
        return None
    sender = {
        name: max(_sender_values(lab, step, f"sender.{name}"), key=len, default=None) for name in ("name", "signature")
    }
    context = context_of(counts.longest, sender, SAMPLE_UNSUBSCRIBE_URL)
    return render(source, context, channel=step["channel"]).error


def _sender_variable_findings(
    lab: Lab, number: int, step: dict[str, Any], analyses: Iterable[Analysis], counts: LeadCounts
) -> list[Finding]:
    found = []
    unguarded = {v for a in analyses for v in a.without_fallback if v.startswith("sender.")}
    for variable in sorted(unguarded):
        accounts = lab.senders.get(lab.family(step)) or []
        blank = [
            s.name for s, value in zip(accounts, _sender_values(lab, step, variable), strict=True) if not value.strip()
        ]
        if blank:
            detail = f"step {number}: {variable} has no fallback and is blank for {_and(blank)}"
            found.append(Finding("empty_variable", detail, [number], counts.total or None))
    return found


def _override_findings(lab: Lab) -> list[Finding]:
    """Lead messages of their own, counted by code: each is one lead."""
    problems: dict[tuple[str, int], int] = {}
    numbers = {s["key"]: n for n, s in enumerate(lab.steps, start=1)}
    for override in lab.overrides:
        number = numbers[override["step_key"]]
        channel = lab.steps[number - 1]["channel"]
        analyses = [_analysis(override.get("subject"), channel), _analysis(override["body"], channel)]
        codes = {"template_error" for a in analyses if a.error} | {"unknown_variable" for a in analyses if a.unknown}
        if channel == "email" and not analyses[1].error and not analyses[1].has_unsubscribe:
            codes.add("email_missing_unsubscribe")
        if not override["body"].strip():
            codes.add("email_missing_body" if channel == "email" else "template_error")
        for code in codes:
            problems[(code, number)] = problems.get((code, number), 0) + 1
    return [
        Finding(code, f"step {number}: {_count(n, 'lead message')} of their own", [number], n)
        for (code, number), n in sorted(problems.items())
    ]


def _address_findings(lab: Lab, counts: LeadCounts) -> list[Finding]:
    found = []
    for family, missing, what in (
        ("email", counts.no_email, "email address"),
        ("linkedin", counts.no_linkedin, "LinkedIn URL"),
    ):
        steps = [n for n, s in enumerate(lab.steps, start=1) if lab.family(s) == family]
        if steps and missing:
            who = f"1 lead has no {what}: it skips" if missing == 1 else f"{missing} leads have no {what}: they skip"
            detail = f"{who} {_steps(steps)}"
            found.append(Finding("missing_channel_address", detail, steps, missing))
    return found


def _avoided(words: Iterable[str], text: str) -> list[str]:
    return [w for w in words if w.strip() and re.search(rf"(?<!\w){re.escape(w.strip())}(?!\w)", text, re.IGNORECASE)]


# Details read as sentences: "1 lead has", "3 leads have", "steps 2, 3 and 4".
def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _and(items: Sequence[object]) -> str:
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _steps(numbers: Sequence[int]) -> str:
    return f"step {numbers[0]}" if len(numbers) == 1 else f"steps {_and(numbers)}"
