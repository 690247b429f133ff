"""The offline writer: good, deterministic drafts from the strategy profile, with no network."""

from __future__ import annotations

import pytest
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from plera.messaging.drafting import (
    Draft,
    DraftRequest,
    OfflineWriter,
    OpenAIWriter,
    ProfileBrief,
    StepBrief,
    check_drafts,
    writer_for,
)
from plera.settings import Settings

PROFILE = ProfileBrief(
    name="Q3 SaaS",
    offer="We help sales teams research accounts in minutes. Start with a free trial!",
    persona="Heads of Sales at B2B SaaS companies",
    tone="friendly",
    call_to_action="Would you be open to a quick call next week? Guaranteed results.",
    language="en",
    signature="Ana, Plera",
    avoid_words=("free", "GUARANTEE", "quick"),
)


def five_steps(note_limit: int = 200) -> list[StepBrief]:
    channels = ["linkedin_invite", "email", "linkedin_message", "email", "email"]
    return [
        StepBrief(
            step=n,
            channel=channel,  # type: ignore[arg-type]
            position=n,
            total_steps=len(channels),
            is_first_email=n == 2,
            delay_days=0 if n == 1 else 2,
            condition="always" if n == 1 else "no_reply",
            note_limit=note_limit if channel == "linkedin_invite" else None,
        )
        for n, channel in enumerate(channels, start=1)
    ]


def drafts_for(profile: ProfileBrief = PROFILE, note_limit: int = 200) -> dict[int, Draft]:
    result = OfflineWriter().write(DraftRequest(profile=profile, steps=five_steps(note_limit)))
    assert (result.writer, result.model) == ("offline", "offline")
    return {draft.step: draft for draft in result.drafts}


def render(template: str, **lead: str) -> str:
    return SandboxedEnvironment().from_string(template).render(lead=lead, sender={}, unsubscribe_url="u")


def test_the_same_profile_gives_the_same_drafts() -> None:
    first = OfflineWriter().write(DraftRequest(profile=PROFILE, steps=five_steps()))
    again = OfflineWriter().write(DraftRequest(profile=PROFILE, steps=five_steps()))
    assert first == again


def test_the_drafts_pass_the_checks_that_ai_drafts_must_pass() -> None:
    steps = five_steps()
    assert check_drafts(OfflineWriter().write(DraftRequest(profile=PROFILE, steps=steps)).drafts, steps) == []


def test_every_email_carries_the_unsubscribe_link_and_only_the_first_has_a_subject() -> None:
    drafts = drafts_for()
    assert [drafts[n].subject is not None for n in (2, 4, 5)] == [True, False, False]
    assert render(drafts[2].subject or "") == "Idea for your team"
    for n in (2, 4, 5):
        assert "{{ unsubscribe_url }}" in drafts[n].body
    for n in (1, 3):
        assert drafts[n].subject is None and "unsubscribe_url" not in drafts[n].body


def test_the_first_email_speaks_the_profiles_offer_persona_and_call_to_action() -> None:
    body = render(drafts_for()[2].body, first_name="Lena", company="Northwind")
    assert body.startswith("Hi Lena,")
    assert "Heads of Sales at B2B SaaS companies" in body
    assert "We help sales teams research accounts in minutes." in body
    assert "Northwind" in body


@pytest.mark.parametrize("limit", [200, 300])
def test_an_invite_note_fits_its_limit_with_room_for_the_variables(limit: int) -> None:
    long_offer = ProfileBrief(**{**PROFILE.__dict__, "offer": "We help sales teams " + "really " * 40 + "a lot."})
    for profile in (PROFILE, long_offer):
        note = drafts_for(profile, note_limit=limit)[1].body
        assert len(note) <= limit
        assert len(render(note, first_name="Maximilian-Alexander", company="Northwind Traders International")) <= limit


def test_avoid_words_never_appear() -> None:
    for draft in drafts_for().values():
        text = f"{draft.subject or ''}\n{draft.body}".lower()
        for word in PROFILE.avoid_words:
            assert word.lower() not in text


def test_every_variable_has_a_fallback() -> None:
    allowed = {
        "lead": {"first_name", "last_name", "company", "title", "city", "country"},
        "sender": {"name", "signature"},
    }
    env = SandboxedEnvironment()
    for draft in drafts_for().values():
        for template in filter(None, (draft.subject, draft.body)):
            tree = env.parse(template)
            defaults = {id(f.node) for f in tree.find_all(nodes.Filter) if f.name == "default"}
            for attribute in tree.find_all(nodes.Getattr):
                assert isinstance(attribute.node, nodes.Name)
                assert attribute.attr in allowed[attribute.node.name]
                assert id(attribute) in defaults, f"{attribute.node.name}.{attribute.attr} has no default"
            names = {name.name for name in tree.find_all(nodes.Name)}
            assert names <= {"lead", "sender", "unsubscribe_url"}


@pytest.mark.parametrize(
    "text",
    ["{{ 7*7 }}", "{% if true %}49{% endif %}", "{# hidden #}", "{%raw%}{{ 7*7 }}{% endraw %}", "{{{ 7*7 }}}"],
)
def test_jinja_in_the_profile_is_rendered_as_written(text: str) -> None:
    profile = ProfileBrief(
        **{**PROFILE.__dict__, "offer": f"We compute {text} for you.", "persona": f"people who like {text}"}
    )
    steps = five_steps(note_limit=300)
    drafts = {d.step: d for d in OfflineWriter().write(DraftRequest(profile=profile, steps=steps)).drafts}
    assert check_drafts(list(drafts.values()), steps) == []
    first_email, follow_up_message = render(drafts[2].body), render(drafts[3].body)
    assert f"people who like {text}." in first_email
    assert f"We compute {text} for you." in first_email
    assert f"We compute {text} for you." in follow_up_message


def test_offline_is_the_writer_without_an_api_key_and_openai_with_one() -> None:
    assert isinstance(writer_for(Settings(openai_api_key=None)), OfflineWriter)
    writer = writer_for(Settings(openai_api_key="sk-x", openai_base_url="http://127.0.0.1:9/v1", openai_model="m"))
    assert isinstance(writer, OpenAIWriter) and writer.model == "m"
