"""How the demo words what happened for a person reading it: channels, and a lead's events, with times
in the lead's own zone and senders by name (never an id, never an event's class name)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from plera.demo.week import local

CHANNELS = {"email": "email", "linkedin_invite": "LinkedIn invite", "linkedin_message": "LinkedIn message"}
FAMILIES = {"email": "email", "linkedin": "LinkedIn"}
QUOTE = 60  # characters of a received message shown


def channel(name: str) -> str:
    return CHANNELS.get(name) or FAMILIES.get(name) or name


class LeadStory:
    """A lead's events (as `plera history` replays them) in words, one line per event worth telling.

    Steps that went out are told with the sender that sent them: the sender is named when the step was
    handed to the channel (StepDispatching), which itself is not told."""

    def __init__(self, zone: str, sender_names: dict[str, str], sequence_names: dict[str, str]) -> None:
        self.zone = zone
        self.sender_names, self.sequence_names = sender_names, sequence_names
        self._sender_of_step: dict[int, str] = {}

    def lines(self, events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """(when, what) for each event worth telling, in order."""
        told = []
        for event in events:
            what = self.what(event)
            if what:
                told.append((local(datetime.fromisoformat(event["at"]), self.zone), what))
        return told

    def what(self, event: dict[str, Any]) -> str | None:
        kind, data = event["type"], event["data"]
        step = data.get("step")
        match kind:
            case "LeadImported":
                return "imported from the sample CSV"
            case "LeadAddedToGroup":
                return "imported again, from another list"
            case "LeadEnrolled":
                return f"entered the sequence {self.sequence_names.get(data.get('sequence_id', ''), '')!r}"
            case "StepScheduled":
                return None  # the plan, not an event in the lead's life; what went out is told
            case "StepDispatching":
                self._sender_of_step[step] = self.sender_names.get(data.get("sender_id", ""), "a sender")
                return None
            case "MessageSent":
                sender = self._sender_of_step.get(step, "a sender")
                return f"step {step} ({channel(data['channel'])}) went out from {sender}"
            case "StepSkipped":
                return f"step {step} will not go out: {data['reason']}"
            case "StepSendFailed":
                return f"step {step} could not go out: {data['reason']}"
            case "SendOutcomeUnknown":
                return f"step {step}: not known whether it went out, so it is not sent again"
            case "InviteAccepted":
                return "accepted the LinkedIn invite"
            case "ReplyDetected":
                return f"replied by {channel(data['channel'])}"
            case "OutOfOfficeDetected":
                until = local(datetime.fromisoformat(data["until"]), self.zone)
                return f"out of office: paused until {until} (not a reply)"
            case "MessageBounced":
                how = "for good" if data["hard"] else "for now"
                return f"step {step} bounced {how}: {data['reason']}"
            case "MessageReceived":
                text = " ".join((data.get("text") or "").split())
                quoted = text[:QUOTE] + ("…" if len(text) > QUOTE else "")
                return f"their {channel(data['channel'])} came in: “{quoted}”"
            case "ThreadRead":
                return "read in the inbox"
            case "EnrollmentPaused":
                return f"paused: {data.get('reason', '')}"
            case "EnrollmentResumed":
                return "back: the sequence goes on"
            case "EnrollmentStopped":
                return f"the sequence stopped for them: {data['reason']}"
            case "EnrollmentCompleted":
                return "done: no step of the sequence is left"
        return _spelled(kind)


def _spelled(kind: str) -> str:
    """An event the demo has no words for: its name, spelled out ("OutcomeRecorded" → "outcome recorded")."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower()
    return words.replace("enrollment", "sequence")
