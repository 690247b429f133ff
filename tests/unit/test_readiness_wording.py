"""Readiness details read as sentences: singular for one lead or step, plural for more, no stray articles."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from plera.messaging.readiness import Lab, LeadCounts, SenderInfo, findings

UNSUBSCRIBE = "{{ unsubscribe_url }}"


def lab(steps: list[str], bodies: dict[int, str] | None = None, **senders: list[SenderInfo]) -> Lab:
    bodies = bodies or {}
    keys = [f"k{n}" for n in range(1, len(steps) + 1)]
    messages: dict[str, dict[str, Any]] = {
        key: {
            "subject": "Hello" if channel == "email" else None,
            "body": bodies.get(n, f"Hi {UNSUBSCRIBE}" if channel == "email" else "Hi"),
            "version": 1,
            "approved_version": 1,
        }
        for n, (key, channel) in enumerate(zip(keys, steps, strict=True), start=1)
    }
    chosen = {
        "email": senders.get("email", [sender("email", "Alex")]),
        "linkedin": senders.get("linkedin", [sender("linkedin", "Alex")]),
    }
    return Lab(
        steps=[{"key": k, "channel": c, "name": None} for k, c in zip(keys, steps, strict=True)],
        messages=messages,
        overrides=[],
        senders=chosen,
        avoid_words=("synergy", "revolutionary"),
    )


def sender(channel: str, name: str, status: str = "active") -> SenderInfo:
    return SenderInfo(uuid4(), channel, name, status, daily_limit=100, weekly_invite_limit=100)


def details(lab: Lab, counts: LeadCounts, unapproved: list[int] | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in findings(lab, counts, unapproved=unapproved or [], overrides_unapproved=0):
        found.setdefault(finding.code, []).append(finding.detail)
    return found


def test_one_lead_without_an_address_is_one_lead_that_has_none() -> None:
    seed = lab(["linkedin_invite", "email", "email", "email"])

    one = details(seed, LeadCounts(total=7, no_email=1, no_linkedin=2))["missing_channel_address"]

    assert one == [
        "1 lead has no email address: it skips steps 2, 3 and 4",
        "2 leads have no LinkedIn URL: they skip step 1",
    ]


def test_steps_and_names_are_listed_with_and() -> None:
    three = lab(["email", "email", "email"], bodies={2: f"Our synergy is revolutionary {UNSUBSCRIBE}"})

    found = details(three, LeadCounts(total=3), unapproved=[1, 3])

    assert found["step_not_approved"] == ["steps 1 and 3 are not approved"]
    assert found["avoid_word"] == ["step 2 uses words to avoid: synergy and revolutionary"]
    assert details(three, LeadCounts(total=3), unapproved=[2])["step_not_approved"] == ["step 2 is not approved"]


def test_blank_variables_count_leads_in_the_singular_and_the_plural() -> None:
    blank = lab(["email", "email"], bodies={1: f"Hi {{{{ lead.company }}}} {UNSUBSCRIBE}"})

    one = details(blank, LeadCounts(total=3, answers={"empty_1": 1}))["empty_variable"]
    two = details(blank, LeadCounts(total=3, answers={"empty_1": 2}))["empty_variable"]

    assert one == ["step 1: lead.company has no fallback and is blank for 1 lead"]
    assert two == ["step 1: lead.company has no fallback and is blank for 2 leads"]


def test_paused_and_unknown_are_said_of_each_name() -> None:
    paused = lab(
        ["email"],
        bodies={1: f"{{{{ lead.shoe_size }}}} {UNSUBSCRIBE}"},
        email=[sender("email", "Alex"), sender("email", "Bo", "paused")],
    )

    found = details(paused, LeadCounts(total=3))

    assert found["sender_unavailable"] == ["email sender Bo is paused"]  # blocking: its leads would wait
    assert found["unknown_variable"] == ["step 1 body: lead.shoe_size is not known"]
