"""Readiness renders a LinkedIn text with logic once per group of leads that read the same, not per lead:
its findings are exactly those of rendering every lead."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from plera.commands.messaging import readiness as readiness_of
from plera.runtime import Services

from .conftest import Api
from .test_messaging_lab import approve, codes, lab, put_message, readiness

URL = "linkedin.com/in/"
LEADS = [
    {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme", "linkedin_url": URL + "ada"},
    {"first_name": "Ed", "last_name": "Stone", "company": "Acme", "linkedin_url": URL + "ed"},  # Ada's shape
    {"first_name": "Bo", "company": "Beta", "email": "bo@beta.example"},  # no LinkedIn URL: skips the steps
    {"company": 'Acme & <Sons> "Ltd"', "title": "CRO", "linkedin_url": URL + "blank"},  # no first name
    {"first_name": "Cy", "linkedin_url": URL + "cy"},  # no company
    {"first_name": "Straße", "last_name": "Müller", "company": "ß" * 80, "linkedin_url": URL + "sz"},  # upper: SS
    {"first_name": "İlkay", "company": "Ünïcode Çø " * 9, "linkedin_url": URL + "ilkay"},  # lower: longer
    {"first_name": "B" * 60, "company": "C" * 150, "title": "Head of " + "t" * 40, "linkedin_url": URL + "long"},
    {"first_name": "cy-o'neil", "company": "x y z " * 20 + "end", "title": "VP", "linkedin_url": URL + "words"},
    {"first_name": "Di", "company": "D" * 130, "linkedin_url": URL + "di"},
    {"first_name": "Fi", "company": "E" * 100, "title": "CTO", "linkedin_url": URL + "fi"},
    {"first_name": "Gu", "company": "Globex 2000", "linkedin_url": URL + "gu"},
    {"first_name": "Ho", "company": "F" * 75, "linkedin_url": URL + "ho"},
    {"first_name": "Io", "company": "a" * 50, "linkedin_url": URL + "io"},  # 'a' becomes 'aaa' below
]
STEPS = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"},
]
LOOP = "{% for c in '" + "c" * 60 + "' %}"
# (invite note, LinkedIn message): filters, `if`, loops, and reads by content (==, replace, set)
TEMPLATES = [
    (
        "Hi {{ lead.first_name | default('there') | title }}, {% if lead.company %}I follow"
        " {{ lead.company | trim }}'s work{% else %}I follow your work{% endif %}. " + "x" * 120,
        LOOP + "{{ lead.company | upper }} {% endfor %}{{ lead.first_name | default('') | join('-') }}",
    ),
    (
        "{{ lead.first_name | upper }} {{ lead.last_name | lower | capitalize }} at"
        " {{ lead.company | default('your team') | e }} ({{ lead.company | length }}) " + "y" * 100 + ""
        " {{ lead.title | truncate(20) }}{{ lead.city | d('') | first }}",
        LOOP + "{{ lead.company | lower }}{% if not lead.title %} and you{% endif %}{% endfor %}",
    ),
    (
        "{% if lead.company == 'Acme' %}"
        + "z" * 205
        + "{% else %}Hi {{ lead.first_name | default('there') }}{% endif %}",
        LOOP + "{{ lead.company | replace('a', 'aaa') }}{% endfor %}",
    ),
    (
        "Hi {{ lead.first_name | d('there') }}, " + "w" * 150 + " {{ sender.name }}",
        "{% set who = lead.company | default('you') %}" + LOOP + "{{ who }}{{ who | upper }}{% endfor %}",
    ),
]


@pytest.fixture
def sequence(api: Api, catch_up: Any) -> dict[str, Any]:
    ids = lab(api, catch_up, steps=STEPS, leads=LEADS)
    senders = [api.sender("linkedin", name="Al"), api.sender("linkedin", name="Bartholomew " + "N" * 40)]
    api.ok(api.put(f"/v1/sequences/{ids['sequence']}/senders", json={"linkedin": senders}))
    # Ada's own note: rendered with it, not the step's
    put_message(api, ids["sequence"], 1, "{% if lead.company %}" + "o" * 250 + "{% endif %}", lead=ids["leads"][0])
    return ids


@pytest.mark.parametrize(("note", "message"), TEMPLATES)
def test_grouped_lengths_are_those_of_rendering_each_lead(
    api: Api, services: Services, sequence: dict[str, Any], note: str, message: str
) -> None:
    seq = sequence["sequence"]
    put_message(api, seq, 1, note)
    put_message(api, seq, 2, message)
    approve(api, seq, 1)
    approve(api, seq, 2)

    grouped = readiness_of(services, api.workspace_id, UUID(seq))
    each = readiness_of(services, api.workspace_id, UUID(seq), render_each_lead=True)

    assert grouped == each
    found = codes(grouped)
    assert found["linkedin_note_too_long"]["lead_count"] > 0  # the comparison is not of empty findings
    assert 0 < found["linkedin_message_too_long"]["lead_count"] < len(LEADS) - 1


def test_a_loop_past_the_render_bound_is_still_a_template_error(api: Api, catch_up: Any) -> None:
    seq = lab(api, catch_up, steps=STEPS[1:], leads=LEADS)["sequence"]
    api.ok(api.put(f"/v1/sequences/{seq}/senders", json={"linkedin": [api.sender("linkedin")]}))
    # 60 x 150-character companies x 2 is 18,000 characters: past LinkedIn's 10,000 for the longest lead
    put_message(api, seq, 1, LOOP + "{{ lead.company }}{{ lead.company | upper }}{% endfor %}")
    found = codes(readiness(api, seq))
    assert "longer than 10,000 characters" in found["template_error"]["detail"]
    assert found["linkedin_message_too_long"]["lead_count"] > 0  # the leads below the bound but past 8,000
