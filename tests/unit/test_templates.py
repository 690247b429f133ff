"""Message templates: what readiness reads from them, and what a lead receives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from plera.messaging.templates import (
    LEAD_FIELDS,
    VARIABLES,
    Rendered,
    Segment,
    analyse,
    context_of,
    literal_length,
    render,
    variables_for,
)

LENA = {"first_name": "Lena", "last_name": "Berg", "company": "Acme", "title": "CTO", "city": "Oslo", "country": "NO"}
ANN = {"name": "Ann from Plera", "signature": "Ann\nPlera"}


def lena(**changes: str | None) -> dict[str, str | None]:
    return {**LENA, **changes}


def test_the_allow_list_names_six_lead_fields_the_sender_and_the_unsubscribe_link():
    assert LEAD_FIELDS == ("first_name", "last_name", "company", "title", "city", "country")
    assert set(VARIABLES) == {f"lead.{name}" for name in LEAD_FIELDS} | {
        "sender.name",
        "sender.signature",
        "unsubscribe_url",
    }
    assert "unsubscribe_url" not in variables_for("linkedin_invite")


# --- analysis


def test_analysis_lists_every_dotted_variable_used():
    analysis = analyse("Hi {{ lead.first_name }} at {{ lead.company | upper }}, {{ sender.name }}", channel="email")

    assert analysis.error is None
    assert analysis.variables == {"lead.first_name", "lead.company", "sender.name"}
    assert analysis.unknown == set()


def test_a_field_outside_the_allow_list_is_unknown():
    analysis = analyse("Call me at {{ lead.phone }}, {{ foo }}", channel="email")

    assert analysis.error is None
    assert analysis.unknown == {"lead.phone", "foo"}


def test_the_unsubscribe_link_is_unknown_in_a_linkedin_template():
    assert analyse("{{ unsubscribe_url }}", channel="linkedin_message").unknown == {"unsubscribe_url"}
    assert analyse("{{ unsubscribe_url }}", channel="email").unknown == set()


def test_a_name_set_in_the_template_or_bound_by_a_loop_is_not_unknown():
    assert analyse("{% set x = 1 %}{{ x }}", channel="email").unknown == set()
    assert analyse("{% for w in ['a', 'b'] %}{{ loop.index }}{{ w }}{% endfor %}", channel="email").unknown == set()
    assert analyse("{% with y = lead.city %}{{ y }}{% endwith %}", channel="email").unknown == set()


def test_a_name_used_before_it_is_set_is_unknown():
    assert analyse("{{ x }}{% set x = 1 %}", channel="email").unknown == {"x"}


def test_variables_printed_without_a_default_may_render_empty():
    analysis = analyse(
        "{{ lead.first_name | default('there') }} {{ lead.company }} {{ lead.title | d('you') | upper }}",
        channel="email",
    )

    assert analysis.without_fallback == {"lead.company"}


def test_one_use_without_a_default_is_enough_to_render_empty():
    analysis = analyse("{{ lead.company | default('your team') }} and {{ lead.company }}", channel="email")

    assert analysis.without_fallback == {"lead.company"}


def test_a_variable_printed_only_inside_an_if_on_it_never_renders_empty():
    source = (
        "{% if lead.company %}at {{ lead.company }}{% endif %}{% if lead.city is defined %}{{ lead.city }}{% endif %}"
    )
    analysis = analyse(source, channel="email")

    assert analysis.variables == {"lead.company", "lead.city"}
    assert analysis.without_fallback == set()


def test_an_else_branch_is_not_protected_by_its_if():
    analysis = analyse("{% if lead.city %}hi{% else %}{{ lead.city }}{% endif %}", channel="email")

    assert analysis.without_fallback == {"lead.city"}


def test_an_unknown_variable_is_not_also_reported_as_without_fallback():
    assert analyse("{{ lead.phone }}", channel="email").without_fallback == set()


def test_the_unsubscribe_link_counts_only_when_it_is_printed():
    assert analyse("Stop: {{ unsubscribe_url }}", channel="email").has_unsubscribe
    assert analyse("{{ unsubscribe_url | default('') }}", channel="email").has_unsubscribe
    assert not analyse("Bye", channel="email").has_unsubscribe
    assert not analyse("{% if unsubscribe_url %}bye{% endif %}", channel="email").has_unsubscribe
    assert not analyse("{% set u %}{{ unsubscribe_url }}{% endset %}", channel="email").has_unsubscribe


def test_a_simple_template_is_cut_into_literal_and_variable_segments():
    analysis = analyse(
        "Hi {{ lead.first_name | default('there') }}, how is {{ lead.company }}?", channel="linkedin_invite"
    )

    assert analysis.segments == (
        Segment(text="Hi "),
        Segment(variable="lead.first_name", fallback="there"),
        Segment(text=", how is "),
        Segment(variable="lead.company"),
        Segment(text="?"),
    )
    assert literal_length(analysis) == len("Hi , how is ?")


def test_an_unknown_variable_in_a_simple_template_is_a_literal_of_its_fallback():
    analysis = analyse("Hi {{ lead.phone }}{{ unsubscribe_url | d('!') }}", channel="linkedin_invite")

    assert analysis.segments == (Segment(text="Hi !"),)


@pytest.mark.parametrize(
    "source",
    [
        "{% if lead.company %}at {{ lead.company }}{% endif %}",
        "{{ lead.company | upper }}",
        "{{ lead.first_name | default(lead.last_name) }}",
        "{% set x = 1 %}{{ x }}",
        "{{ 'a' ~ lead.city }}",
    ],
)
def test_a_template_with_control_flow_or_other_filters_has_no_segments(source):
    analysis = analyse(source, channel="email")

    assert analysis.error is None
    assert analysis.segments is None
    assert literal_length(analysis) is None


def test_the_segments_of_a_simple_template_add_up_to_what_renders():
    source = "Hi {{ lead.first_name | default('there') }} from {{ lead.city }}\n"
    segments = analyse(source, channel="linkedin_invite").segments
    context = context_of(lena(first_name=" ", city="Oslo"), ANN)
    expected = "".join(
        segment.text
        if segment.variable is None
        else context.lead.get(segment.variable.removeprefix("lead."), segment.fallback or "")
        for segment in segments or ()
    )

    assert render(source, context, channel="linkedin_invite").text == expected == "Hi there from Oslo\n"


def test_a_syntax_error_is_reported_with_its_line():
    analysis = analyse("Hi {{ lead.first_name }},\n\n{% if lead.company %}at {{ lead.company }", channel="email")

    assert analysis.error is not None
    assert analysis.error.startswith("line 3:")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ lead.first_name.upper() }}", "calling methods is not allowed"),
        ("{{ lead.first_name | attr('upper') }}", "the filter 'attr' is not allowed"),
        ("{{ lead.first_name | map('upper') }}", "the filter 'map' is not allowed"),
        ("{{ lead._values }}", "names starting with '_' are not allowed"),
        ("{{ _private }}", "names starting with '_' are not allowed"),
        ("{{ lead['first_name'] }}", "'[...]' is not allowed"),
        ("{{ lead.company.name }}", "only lead.<field> and sender.<field> can be read"),
        ("{{ lead }}", "'lead' needs a field, as in lead.first_name"),
        ("{% set lead = 'x' %}", "only new plain names can be assigned"),
        ("{{ 9 ** 9 ** 9 }}", "arithmetic ('**') is not supported"),
        ("{% macro m() %}{% endmacro %}", "{% macro %} is not supported"),
        ("{% include 'other' %}", "{% include %} is not supported"),
        ("{{ lead.title | truncate(10, colour='red') }}", "does not take these arguments"),
        ("{{ lead.city is frobbed }}", "there is no test named 'frobbed'"),
        ("{{ ['a'] | join(', ', 'name') }}", "join(attribute=...) is not allowed"),
    ],
)
def test_the_sandbox_refusals_are_found_without_rendering(source, reason):
    analysis = analyse(source, channel="email")

    assert analysis.error is not None
    assert reason in analysis.error
    assert analysis.error.startswith("line 1: ")


def test_a_template_that_could_build_an_enormous_text_is_refused():
    source = (
        "{% set a = 'aaaaaaaaaa' %}{% set b = a | replace('a', a) %}{% set c = b | replace('a', b) %}{{ c | join(c) }}"
    )

    analysis = analyse(source, channel="email")

    assert analysis.error is not None
    assert "more than 1,000,000 characters" in analysis.error


def test_a_number_too_long_to_read_is_an_error_not_a_crash():
    assert analyse("{{ " + "9" * 5000 + " }}", channel="email").error is not None
    assert analyse("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", channel="email").error is not None


def test_the_analysis_of_a_template_is_computed_once():
    source = "Hello {{ lead.first_name }} and welcome"

    assert analyse(source, channel="email") is analyse(source, channel="email")


# --- rendering


def test_a_missing_first_name_uses_the_fallback_and_says_so():
    rendered = render(
        "Hi {{ lead.first_name | default('there') }}!", context_of(lena(first_name=None), ANN), channel="email"
    )

    assert rendered == Rendered(text="Hi there!", fallbacks_used=("lead.first_name",), error=None)


def test_a_present_first_name_needs_no_fallback():
    rendered = render("Hi {{ lead.first_name | default('there') }}!", context_of(lena(), ANN), channel="email")

    assert rendered == Rendered(text="Hi Lena!", fallbacks_used=())


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_first_name_uses_the_fallback(blank):
    rendered = render("Hi {{ lead.first_name | d('there') }}", context_of(lena(first_name=blank), ANN), channel="email")

    assert rendered.text == "Hi there"
    assert rendered.fallbacks_used == ("lead.first_name",)


def test_each_fallback_used_is_reported_once_in_order():
    source = "{{ lead.city | d('your city') }} {{ sender.signature | d('Ann') }} {{ lead.city | d('there') }}"

    rendered = render(source, context_of(lena(city=""), {"name": "Ann"}), channel="email")

    assert rendered.text == "your city Ann there"
    assert rendered.fallbacks_used == ("lead.city", "sender.signature")


def test_a_missing_field_without_a_fallback_renders_empty():
    rendered = render(
        "Hi {{ lead.first_name }}, at {{ lead.company }}.", context_of(lena(company=None), ANN), channel="email"
    )

    assert rendered == Rendered(text="Hi Lena, at .")


def test_an_unknown_variable_renders_empty():
    rendered = render("[{{ lead.phone }}{{ foo }}]", context_of(lena(), ANN), channel="email")

    assert rendered == Rendered(text="[]")


def test_a_lead_field_outside_the_allow_list_never_reaches_the_template():
    context = context_of({**LENA, "phone": "+47 555 0100", "email": "lena@acme.example"}, ANN)

    assert render("[{{ lead.phone }}{{ lead.email }}]", context, channel="email").text == "[]"


def test_the_sender_name_and_signature_are_printed():
    rendered = render("Best,\n{{ sender.signature }}\n({{ sender.name }})", context_of(lena(), ANN), channel="email")

    assert rendered.text == "Best,\nAnn\nPlera\n(Ann from Plera)"


def test_the_unsubscribe_link_is_printed_in_an_email():
    context = context_of(lena(), ANN, "https://plera.example/u/abc")

    assert render("Stop: {{ unsubscribe_url }}", context, channel="email").text == "Stop: https://plera.example/u/abc"


def test_the_unsubscribe_link_is_not_exposed_to_a_linkedin_message():
    context = context_of(lena(), ANN, "https://plera.example/u/abc")

    assert render("Stop: {{ unsubscribe_url }}", context, channel="linkedin_message").text == "Stop: "


def test_a_trailing_newline_is_kept():
    assert render("Hi\n", context_of(lena(), ANN), channel="email").text == "Hi\n"


def test_control_flow_renders_for_the_lead():
    source = "{% if lead.title %}As {{ lead.title }}{% else %}As a leader{% endif %} at {{ lead.company }}"

    assert render(source, context_of(lena(), ANN), channel="email").text == "As CTO at Acme"
    assert render(source, context_of(lena(title=""), ANN), channel="email").text == "As a leader at Acme"


def test_a_syntax_error_is_returned_not_raised():
    rendered = render("Hi {{ lead.first_name ", context_of(lena(), ANN), channel="email")

    assert rendered.text == ""
    assert rendered.fallbacks_used == ()
    assert rendered.error is not None and rendered.error.startswith("line 1:")


def test_a_refused_template_is_never_run():
    rendered = render("{{ lead.first_name.upper() }}", context_of(lena(), ANN), channel="email")

    assert rendered.text == ""
    assert rendered.error is not None and "calling methods is not allowed" in rendered.error


def test_an_error_while_rendering_is_returned_not_raised():
    rendered = render("{{ lead.first_name | truncate('ten') }}", context_of(lena(), ANN), channel="email")

    assert rendered.text == ""
    assert rendered.error is not None


def test_renders_in_parallel_threads_report_their_own_fallbacks():
    source = "{{ lead.first_name | d('there') }} {{ lead.company | d('your team') }} {{ lead.city | d('town') }}"
    missing = ["first_name", "company", "city"]
    contexts = [context_of(lena(**{missing[i % 3]: None}), ANN) for i in range(3000)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda context: render(source, context, channel="email"), contexts))

    assert [result.fallbacks_used for result in results] == [(f"lead.{missing[i % 3]}",) for i in range(3000)]


def test_ten_thousand_leads_times_four_steps_render_from_the_compiled_cache():
    steps = [
        "Hi {{ lead.first_name | default('there') }}, I saw {{ lead.company | default('your team') }} is hiring.",
        "{% if lead.title %}As {{ lead.title }}, {% endif %}you may like this.\n{{ sender.signature }}",
        "Quick follow-up, {{ lead.first_name | d('') }}. {{ unsubscribe_url }}",
        "{{ lead.first_name }} {{ lead.last_name }} in {{ lead.city | upper }}",
    ]
    leads = [lena(first_name=f"Lead{n}" if n % 2 else " ", title=None if n % 3 else "CTO") for n in range(10_000)]

    rendered = [
        render(step, context_of(lead, ANN, f"https://plera.example/u/{n}"), channel="email")
        for n, lead in enumerate(leads)
        for step in steps
    ]

    assert len(rendered) == 40_000
    assert all(result.error is None for result in rendered)
    assert rendered[0].text == "Hi there, I saw Acme is hiring."
    assert rendered[4].fallbacks_used == ()
    assert rendered[4].text == "Hi Lead1, I saw Acme is hiring."
    assert rendered[6].text == "Quick follow-up, Lead1. https://plera.example/u/1"
    assert rendered[5].text == "you may like this.\nAnn\nPlera"
