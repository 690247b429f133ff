"""Which lead fields a template reads only by their shape: for those, one value a shape renders to the same length."""

from __future__ import annotations

import pytest

from plera.messaging.template_shapes import shape_of, shaped_fields
from plera.messaging.templates import context_of, render


def test_a_shape_writes_ascii_letters_and_digits_as_x_and_keeps_every_other_character():
    assert shape_of("Acme GmbH") == shape_of("Abc1 Corp") == "xxxx xxxx"
    assert shape_of("O'Brien & <Sons> 2") == "x'xxxxx & <xxxx> x"
    assert shape_of("Straße") == "xxxxßx" and shape_of("İlkay") == "İxxxx"
    assert shape_of("  ") == "  "


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ lead.first_name }} at {{ lead.company }}",
        "Hi {{ lead.first_name | default('there') | title | trim }}",
        "{% if lead.company %}{{ lead.company | upper | e }}{% else %}you{% endif %}",
        "{% if not lead.company and lead.first_name is defined %}{{ lead.first_name | first }}{% endif %}",
        "{% for x in 'abc' %}{{ loop.index }} {{ lead.first_name | truncate(9) ~ lead.company | lower }}{% endfor %}",
        "{{ lead.company | length }} {{ lead.first_name | join('-') }} {{ lead.city | d(lead.company) }}",
        "{{ lead.company if lead.company else lead.first_name | capitalize }}",
    ],
)
def test_printing_and_testing_for_presence_read_only_the_shape(source: str) -> None:
    shaped = shaped_fields(source)
    assert shaped and shaped <= {"first_name", "company", "city"}
    leads = ({"company": "Acme GmbH", "first_name": "lena"}, {"first_name": "İlkay"}, {"company": "O'B & <Straße>"})
    for lead in leads:
        alike = {k: shape_of(v) if k in shaped else v for k, v in lead.items()}
        texts = [render(source, context_of(values, {}), channel="linkedin_message").text for values in (lead, alike)]
        assert len(texts[0]) == len(texts[1]), texts


@pytest.mark.parametrize(
    "source",
    [
        "{% if lead.company == 'Acme' %}long text{% endif %}",
        "{{ lead.company | replace('a', 'aaa') }}",
        "{{ lead.company | wordwrap(5) }} {{ lead.company | striptags }}",
        "{% set who = lead.company %}{{ who }}",
        "{% for c in lead.company %}{% if c == 'a' %}!{% endif %}{% endfor %}",
        "{{ lead.company | trim('A') }}",
        "{% if 'cme' in lead.company %}yes{% endif %}",
        "{% with who = lead.company %}{{ who }}{% endwith %}",
        "{% set captured %}{{ lead.company }}{% endset %}{% if captured == 'Acme' %}yes{% endif %}",
    ],
)
def test_comparing_looping_over_assigning_or_rewriting_a_field_reads_its_content(source: str) -> None:
    assert "company" not in shaped_fields(source)


def test_a_field_read_both_ways_is_read_by_its_content():
    assert shaped_fields("{{ lead.company }}{% if lead.company == 'Acme' %}!{% endif %}") == frozenset()
    assert shaped_fields("{{ lead.first_name }}{% if lead.company == 'Acme' %}!{% endif %}") == {"first_name"}
