"""The Messaging Lab's half of a Sequence: each step's message, per-lead overrides, the senders.

A message is keyed by its step's key (sequence_steps.py). It has a working version, which
drafts and edits replace, and the version a person approved, which is what goes out: an edit
withdraws the approval of the working version, never the text already approved. Its events
are the Sequence's (published on the sequence topic).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidValue, NoMessage, SequenceArchived, SequenceClosed

SENDER_CHANNELS = {"email": "email", "linkedin_invite": "linkedin", "linkedin_message": "linkedin"}


class SequenceMessages(PleraAggregate):
    steps: list[dict[str, Any]]
    status: str
    messages: dict[str, dict[str, Any]]  # step key → message
    overrides: dict[str, dict[str, Any]]  # "lead id/step key" → message
    senders: dict[str, list[UUID]]
    settings: dict[str, Any]

    class MessageDrafted(PleraAggregate.Event):
        """A writer's draft: `writer` is "openai" or "offline", with the model and prompt version it used."""

        step: int
        step_key: str
        subject: str | None
        body: str
        version: int
        writer: str
        model: str
        prompt_version: str

        def apply(self, sequence: SequenceMessages) -> None:
            sequence._set_message(sequence.messages, self.step_key, self, author=self.writer, model=self.model)

    def record_draft(
        self,
        *,
        step: int,
        subject: str | None,
        body: str,
        writer: str,
        model: str,
        prompt_version: str,
        at: datetime,
        actor: str,
    ) -> None:
        """A draft replaces the working version and is never approved by itself."""
        key = self._check_message_change(step)
        self._record(
            self.MessageDrafted,
            at=at,
            actor=actor,
            step=step,
            step_key=key,
            subject=subject,
            body=body,
            version=self._next_version(self.messages.get(key)),
            writer=writer,
            model=model,
            prompt_version=prompt_version,
        )

    class MessageEdited(PleraAggregate.Event):
        step: int
        step_key: str
        subject: str | None
        body: str
        version: int

        def apply(self, sequence: SequenceMessages) -> None:
            sequence._set_message(sequence.messages, self.step_key, self, author="person", model=None)

    def edit_message(self, *, step: int, subject: str | None, body: str, at: datetime, actor: str) -> None:
        """A person's text for the step. It withdraws the approval; the same text again changes nothing."""
        key = self._check_message_change(step)
        current = self.messages.get(key)
        if current and (current["subject"], current["body"]) == (subject, body):
            return
        version = self._next_version(current)
        self._record(
            self.MessageEdited, at=at, actor=actor, step=step, step_key=key, subject=subject, body=body, version=version
        )

    class MessageApproved(PleraAggregate.Event):
        step: int
        step_key: str
        version: int

        def apply(self, sequence: SequenceMessages) -> None:
            _approve(sequence.messages[self.step_key], self.version)

    def approve_message(self, *, step: int, at: datetime, actor: str) -> None:
        key = self._check_message_change(step)
        message = self.messages.get(key)
        if message is None or not message["body"].strip():
            raise NoMessage(f"step {step} has no message to approve: draft or write one first")
        if message["approved_version"] != message["version"]:
            self._record(self.MessageApproved, at=at, actor=actor, step=step, step_key=key, version=message["version"])

    class LeadMessageEdited(PleraAggregate.Event):
        lead_id: UUID
        step: int
        step_key: str
        subject: str | None
        body: str
        version: int

        def apply(self, sequence: SequenceMessages) -> None:
            key = f"{self.lead_id}/{self.step_key}"
            sequence._set_message(sequence.overrides, key, self, author="person", model=None)
            sequence.overrides[key]["lead_id"] = str(self.lead_id)
            sequence.overrides[key]["step_key"] = self.step_key

    def edit_lead_message(
        self, *, lead_id: UUID, step: int, subject: str | None, body: str, at: datetime, actor: str
    ) -> None:
        """A message for one lead in place of the step's; approved on its own."""
        key = self._check_message_change(step)
        current = self.overrides.get(f"{lead_id}/{key}")
        if current and (current["subject"], current["body"]) == (subject, body):
            return
        self._record(
            self.LeadMessageEdited,
            at=at,
            actor=actor,
            lead_id=lead_id,
            step=step,
            step_key=key,
            subject=subject,
            body=body,
            version=self._next_version(current),
        )

    class LeadMessageApproved(PleraAggregate.Event):
        lead_id: UUID
        step: int
        step_key: str
        version: int

        def apply(self, sequence: SequenceMessages) -> None:
            _approve(sequence.overrides[f"{self.lead_id}/{self.step_key}"], self.version)

    def approve_lead_message(self, *, lead_id: UUID, step: int, at: datetime, actor: str) -> None:
        key = self._check_message_change(step)
        message = self.overrides.get(f"{lead_id}/{key}")
        if message is None or not message["body"].strip():
            raise NoMessage(f"lead {lead_id} has no message of its own for step {step}")
        if message["approved_version"] != message["version"]:
            self._record(
                self.LeadMessageApproved,
                at=at,
                actor=actor,
                lead_id=lead_id,
                step=step,
                step_key=key,
                version=message["version"],
            )

    class SendersChosen(PleraAggregate.Event):
        email: list[UUID]
        linkedin: list[UUID]

        def apply(self, sequence: SequenceMessages) -> None:
            sequence.senders = {"email": list(self.email), "linkedin": list(self.linkedin)}

    def choose_senders(self, *, email: list[UUID], linkedin: list[UUID], at: datetime, actor: str) -> None:
        """The accounts each channel sends from; leads are spread over them (see sender_assignment)."""
        self._check_not_archived()
        chosen = {"email": list(dict.fromkeys(email)), "linkedin": list(dict.fromkeys(linkedin))}
        if chosen != self.senders:
            self._record(self.SendersChosen, at=at, actor=actor, **chosen)

    # ---- reading the messages

    def step_number(self, key: str) -> int | None:
        return next((n for n, s in enumerate(self.steps, start=1) if s["key"] == key), None)

    def key_of(self, step: int) -> str:
        if not 1 <= step <= len(self.steps):
            raise InvalidValue(f"step {step} does not exist: the sequence has {len(self.steps)} steps")
        return str(self.steps[step - 1]["key"])

    def message_of(self, step: int) -> dict[str, Any] | None:
        return self.messages.get(self.key_of(step))

    def override_of(self, lead_id: UUID, step: int) -> dict[str, Any] | None:
        return self.overrides.get(f"{lead_id}/{self.key_of(step)}")

    def current_overrides(self) -> list[dict[str, Any]]:
        """The overrides of the steps the sequence has now."""
        keys = {s["key"] for s in self.steps}
        return [m for m in self.overrides.values() if m["step_key"] in keys]

    def unapproved_steps(self) -> list[int]:
        """Steps whose working message, or a lead's override of it, is not approved."""
        pending = {m["step_key"] for m in self.current_overrides() if m["approved_version"] != m["version"]}
        return [
            n
            for n, s in enumerate(self.steps, start=1)
            if (not _is_approved(self.messages.get(s["key"])) or s["key"] in pending) and not self._needs_no_message(s)
        ]

    def _needs_no_message(self, step: dict[str, Any]) -> bool:
        """An invite of a sequence that sends invites without a note."""
        return step["channel"] == "linkedin_invite" and bool(self.settings.get("invite_without_note"))

    def approved_text(self, step: int, lead_id: UUID | None = None) -> dict[str, Any] | None:
        """What goes out for the step (to this lead): the approved override, else the step's approved message."""
        for message in (self.override_of(lead_id, step) if lead_id else None, self.message_of(step)):
            if message is not None and message["approved"] is not None:
                return {**message["approved"], "override": message is not self.message_of(step)}
        return None

    def _check_message_change(self, step: int) -> str:
        self._check_not_archived()
        if self.status == "completed":
            raise SequenceClosed("the sequence is completed: its messages can no longer change")
        return self.key_of(step)

    @staticmethod
    def _next_version(message: dict[str, Any] | None) -> int:
        return 1 if message is None else int(message["version"]) + 1

    @staticmethod
    def _set_message(into: dict[str, dict[str, Any]], key: str, e: Any, *, author: str, model: str | None) -> None:
        before = into.get(key, {})
        into[key] = {
            **before,
            "subject": e.subject,
            "body": e.body,
            "version": e.version,
            "author": author,
            "model": model,
            "prompt_version": getattr(e, "prompt_version", None),
            "approved_version": before.get("approved_version"),
            "approved": before.get("approved"),
        }

    def _check_not_archived(self) -> None:
        if self.status == "archived":
            raise SequenceArchived(f"sequence {self.id} is archived")


def _is_approved(message: dict[str, Any] | None) -> bool:
    return message is not None and message["approved_version"] == message["version"]


def _approve(message: dict[str, Any], version: int) -> None:
    message["approved_version"] = version
    message["approved"] = {"subject": message["subject"], "body": message["body"], "version": version}


def message_view(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {
        "subject": message["subject"],
        "body": message["body"],
        "version": message["version"],
        "approved": _is_approved(message),
        "approved_version": message["approved_version"],
        "author": message["author"],
        "model": message["model"],
    }
