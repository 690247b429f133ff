"""The Messaging Lab in one call, for the demo's helpers in tests and benchmarks: messages, senders, approval."""

from __future__ import annotations

from uuid import UUID

from plera.aggregates.sequence import Sequence
from plera.commands.messaging import (
    ChooseSenders,
    MessageIn,
    approve_message,
    choose_senders,
    draft_messages,
    edit_message,
)
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.runtime import Services

PLAIN_MESSAGES: dict[str, tuple[str | None, str]] = {
    "email": (
        "A question for {{ lead.company | default('your team') }}",
        "Hi {{ lead.first_name | default('there') }},\n\nA short note from {{ sender.name | default('us') }}.\n\n"
        "{{ sender.signature | default('') }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    "linkedin_invite": (None, "Hi {{ lead.first_name | default('there') }}, glad to connect."),
    "linkedin_message": (None, "Thanks for connecting, {{ lead.first_name | default('there') }}."),
}


def make_ready(
    sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str, *, senders: dict[str, list[UUID]]
) -> Sequence:
    """What a person does in the Messaging Lab before launch, all at once: a message for every step
    (the offline writer's drafts when the sequence has a strategy profile, else plain ones), senders
    for its channels (accounts that can send: they are checked when added), and every message approved."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if sequence.strategy_profile_id is not None:
        sequence = draft_messages(sv, workspace_id, sequence_id, actor)
    else:
        first_email = next((n for n, s in enumerate(sequence.steps, start=1) if s["channel"] == "email"), None)
        for step, spec in enumerate(sequence.steps, start=1):
            subject, body = PLAIN_MESSAGES[spec["channel"]]
            subject = subject if step == first_email else None  # later emails go in its thread, as "Re: …"
            edit_message(
                sv, workspace_id, sequence_id, step, MessageIn(subject=subject, body=body), actor, lead_id=None
            )
    choose_senders(sv, workspace_id, sequence_id, ChooseSenders.model_validate(senders), actor)
    for step in range(1, len(sequence.steps) + 1):
        sequence = approve_message(sv, workspace_id, sequence_id, step, actor, lead_id=None)
    return sequence


def sink_senders(
    sv: Services,
    workspace_id: UUID,
    sequence_id: UUID,
    actor: str,
    *,
    smtp: tuple[str, int],
    linkedin_base_url: str,
) -> dict[str, list[UUID]]:
    """One sender for each channel the sequence uses, on a local SMTP sink (host, port, no login) or
    LinkedIn sandbox: senders are checked when added, so they need servers that answer."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    families = sorted({"email" if s["channel"] == "email" else "linkedin" for s in sequence.steps})
    settings: dict[str, dict[str, object]] = {
        "email": {"smtp": {"host": smtp[0], "port": smtp[1], "starttls": False}},
        "linkedin": {"provider": {"base_url": linkedin_base_url, "api_key": "sandbox", "account_id": "sandbox"}},
    }
    senders: dict[str, list[UUID]] = {}
    for family in families:
        address = "sender@plera.example" if family == "email" else "https://www.linkedin.com/in/plera-sandbox"
        body: dict[str, object] = {
            "channel": family,
            "name": f"Sandbox {family}",
            "address": address,
            "daily_limit": 1000,
        }
        cmd = AddSenderAccount.model_validate(body | settings[family])
        senders[family] = [add_sender_account(sv, workspace_id, cmd, actor).id]
    return senders
