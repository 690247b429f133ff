"""Rendering stops as soon as the text passes the channel's bound, whatever the template would build."""

from __future__ import annotations

import time

from plera.messaging.templates import RENDER_LIMIT, context_of, render

LOOP = "{% for c in sender.signature %}" + "x" * 100 + "{% endfor %}"


def test_a_render_past_the_bound_fails_as_an_error_without_building_the_text() -> None:
    context = context_of({}, {"signature": "s" * 5_000})
    started = time.perf_counter()
    rendered = render(LOOP, context, channel="email")
    assert rendered.text == "" and rendered.error == "the rendered text is longer than 100,000 characters"
    assert time.perf_counter() - started < 0.5


def test_each_channel_has_its_bound() -> None:
    context = context_of({}, {"signature": "s" * 150})  # 15,000 characters rendered
    assert render(LOOP, context, channel="email").error is None
    for channel in ("linkedin_invite", "linkedin_message"):
        assert render(LOOP, context, channel=channel).error == (
            f"the rendered text is longer than {RENDER_LIMIT[channel]:,} characters"
        )
