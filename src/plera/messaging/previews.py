"""Previews: every step of a sequence rendered for one lead, as that lead would receive it.

Pure. The lead gets the sender it will keep (sender_assignment), the sender's signature or
else the strategy profile's, its own unsubscribe link on email steps, and its own message
where it has one. A later email step with no subject goes out in the first one's thread as
"Re: …", and the preview shows it so. A step on a channel the lead has no address for is shown as
skipped, with the reason, as the dispatcher will skip it (rather than as a message nobody receives).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from plera.aggregates.sender_assignment import Candidate, assign
from plera.aggregates.sequence_messages import SENDER_CHANNELS
from plera.messaging.readiness import Lab, SenderInfo
from plera.messaging.templates import LEAD_FIELDS, RenderContext, analyse, context_of, render

NO_NOTE = "sent without a note: the sequence allows invites without one (invite_without_note)"
SKIP_REASONS = {
    "email": "no email address",
    "linkedin_invite": "no LinkedIn URL",
    "linkedin_message": "no LinkedIn URL",
}
_ADDRESS_FIELDS = {"email": "email", "linkedin_invite": "linkedin_url", "linkedin_message": "linkedin_url"}


@dataclass(frozen=True)
class Preview:
    lead_id: UUID
    lead_name: str | None
    company: str | None
    step: int
    channel: str
    sender_id: UUID | None
    subject: str | None
    body: str
    variables: dict[str, str | None]
    fallbacks_used: list[str]
    override: bool
    approved: bool
    error: str | None
    note: str | None = None  # what the preview should tell beside the text (an invite sent without a note)
    skip_reason: str | None = None  # why the lead skips the step; then nothing is rendered

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "lead_id": str(self.lead_id),
            "lead_name": self.lead_name,
            "company": self.company,
            "step": self.step,
            "channel": self.channel,
            "sender_id": str(self.sender_id) if self.sender_id else None,
            "subject": self.subject,
            "body": self.body,
            "variables": self.variables,
            "fallbacks_used": self.fallbacks_used,
            "override": self.override,
            "approved": self.approved,
            "error": self.error,
            "note": self.note,
            "skipped": self.skipped,
            "skip_reason": self.skip_reason,
        }


class _Shown(NamedTuple):
    """What a preview shows of a step's message for one lead."""

    subject: str | None
    body: str
    variables: dict[str, str | None]
    fallbacks_used: list[str]
    error: str | None
    note: str | None


_SKIPPED = _Shown(subject=None, body="", variables={}, fallbacks_used=[], error=None, note=None)


class Previewer:
    """Renders a sequence's steps for many leads; built once per request, used per lead."""

    def __init__(self, lab: Lab, unsubscribe_url: Callable[[UUID], str]) -> None:
        self._lab = lab
        self._unsubscribe_url = unsubscribe_url
        self._senders: dict[UUID, SenderInfo] = {s.id: s for found in lab.senders.values() for s in found}
        self._candidates = {
            family: [Candidate(s.id, s.daily_limit) for s in found if s.status == "active"]
            for family, found in lab.senders.items()
        }
        self._overrides = {(str(o["lead_id"]), o["step_key"]): o for o in lab.overrides}

    def sender_of(self, lead_id: UUID, channel: str) -> SenderInfo | None:
        chosen = assign(lead_id, self._candidates.get(SENDER_CHANNELS[channel], []))
        return self._senders.get(chosen) if chosen else None

    def preview(self, lead: Mapping[str, Any]) -> list[Preview]:
        lead_id: UUID = lead["id"]
        lead_name, company = _name(lead), _present(lead.get("company"))
        out: list[Preview] = []
        thread_subject: str | None = None
        for number, step in enumerate(self._lab.steps, start=1):
            channel = step["channel"]
            override = self._overrides.get((str(lead_id), step["key"]))
            message = override or self._lab.messages.get(step["key"])
            sender = self.sender_of(lead_id, channel)
            skip_reason = None if _present(lead.get(_ADDRESS_FIELDS[channel])) else SKIP_REASONS[channel]
            shown = _SKIPPED if skip_reason else self._shown(lead, message, sender, channel)
            subject = shown.subject
            if channel == "email" and not skip_reason:
                if thread_subject is None:
                    thread_subject = subject
                elif not subject and thread_subject:
                    subject = "Re: " + thread_subject
            out.append(
                Preview(
                    lead_id=lead_id,
                    lead_name=lead_name,
                    company=company,
                    step=number,
                    channel=channel,
                    sender_id=sender.id if sender else None,
                    subject=subject if channel == "email" else None,
                    body=shown.body,
                    variables=shown.variables,
                    fallbacks_used=shown.fallbacks_used,
                    override=override is not None,
                    approved=message is not None and message["approved_version"] == message["version"],
                    error=shown.error,
                    note=shown.note,
                    skip_reason=skip_reason,
                )
            )
        return out

    def _shown(
        self, lead: Mapping[str, Any], message: Mapping[str, Any] | None, sender: SenderInfo | None, channel: str
    ) -> _Shown:
        """The step rendered for the lead, as it would go out (without the thread's "Re:")."""
        context = context_of(
            {f: lead.get(f) for f in LEAD_FIELDS},
            self.sender_fields(sender),
            self._unsubscribe_url(lead["id"]) if channel == "email" else None,
        )
        without_note = channel == "linkedin_invite" and self._lab.invite_without_note
        if without_note:
            message = None  # the sequence sends its invites without a note
        subject, body, used, error = self._render(message, context, channel)
        return _Shown(
            subject=subject,
            body=body,
            variables=_variables(message, context, channel),
            fallbacks_used=used,
            error=error if message is not None else self._missing(channel),
            note=NO_NOTE if without_note else None,
        )

    def _missing(self, channel: str) -> str | None:
        return None if channel == "linkedin_invite" and self._lab.invite_without_note else "no message yet"

    def sender_fields(self, sender: SenderInfo | None) -> dict[str, str | None]:
        """What `sender.<field>` reads for a lead the sender sends to: its signature, else the profile's."""
        return {
            "name": sender.name if sender else None,
            "signature": (sender.signature if sender else None) or self._lab.profile_signature,
        }

    @staticmethod
    def _render(
        message: Mapping[str, Any] | None, context: RenderContext, channel: str
    ) -> tuple[str | None, str, list[str], str | None]:
        if message is None:
            return None, "", [], None
        body = render(message["body"], context, channel=channel)
        subject = render(message["subject"], context, channel=channel) if message.get("subject") else None
        used = list(dict.fromkeys([*(subject.fallbacks_used if subject else ()), *body.fallbacks_used]))
        error = (subject.error if subject else None) or body.error
        return (subject.text.strip() if subject else None), body.text, used, error


def _present(value: Any) -> str | None:
    """Blank counts as missing, as everywhere for lead fields."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def _name(lead: Mapping[str, Any]) -> str | None:
    return " ".join(p for p in (_present(lead.get("first_name")), _present(lead.get("last_name"))) if p) or None


def _variables(message: Mapping[str, Any] | None, context: RenderContext, channel: str) -> dict[str, str | None]:
    """The variables the step's templates use, as this lead resolves them (None: missing)."""
    if message is None:
        return {}
    used = (
        analyse(message["body"], channel=channel).variables
        | analyse(message.get("subject") or "", channel=channel).variables
    )
    values: dict[str, str | None] = {}
    for name in sorted(used):
        scope, _, key = name.partition(".")
        if scope == "lead":
            values[name] = context.lead.get(key)
        elif scope == "sender":
            values[name] = context.sender.get(key)
        else:
            values[name] = context.unsubscribe_url
    return values
