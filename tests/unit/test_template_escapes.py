"""Known jinja2 sandbox escapes, kept as regressions: a template author must never reach Python through a message."""

from __future__ import annotations

import pytest

from plera.messaging import templates
from plera.messaging.templates import analyse, context_of, render

PAYLOADS = [
    pytest.param('{{ "{0.__class__.__mro__}".format(lead) }}', id="CVE-2016-10745 str.format"),
    pytest.param('{{ "{x.__class__.__mro__}".format_map({"x": lead}) }}', id="CVE-2019-10906 str.format_map"),
    pytest.param('{% set f = "{0.__class__}".format %}{{ f(lead) }}', id="CVE-2024-56326 stored format"),
    pytest.param('{{ "{0.__class__}".format }}', id="CVE-2024-56326 format reference"),
    pytest.param('{{ "{0.__class__}" | attr("format")(lead) }}', id="CVE-2025-27516 attr filter"),
    pytest.param("{{ lead | attr('__class__') }}", id="attr filter dunder"),
    pytest.param("{{ lead.__class__.__mro__[1].__subclasses__() }}", id="mro subclasses"),
    pytest.param("{{ self.__init__.__globals__ }}", id="self globals"),
    pytest.param("{{ self }}", id="template reference"),
    pytest.param("{{ cycler.__init__.__globals__.os.popen('id').read() }}", id="cycler os popen"),
    pytest.param("{{ joiner.__init__.__globals__.__builtins__ }}", id="joiner builtins"),
    pytest.param("{{ namespace.__init__.__globals__.os.system('id') }}", id="namespace os system"),
    pytest.param("{{ lipsum.__globals__ }}", id="lipsum globals"),
    pytest.param("{{ range.__self__ }}", id="range builtins module"),
    pytest.param("{{ ''.__class__ }}", id="str class"),
    pytest.param("{{ ''.__class__.__base__.__subclasses__() }}", id="object subclasses"),
    pytest.param("{{ config }}", id="flask config"),
    pytest.param("{{ request.application.__globals__ }}", id="flask request"),
    pytest.param("{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}", id="loop subclasses"),
    pytest.param("{{ lead._values }}", id="private field store"),
    pytest.param("{{ lead }}", id="whole lead object"),
    pytest.param("{{ lead.first_name.__class__.__mro__ }}", id="field mro"),
    pytest.param("{{ [].pop() }}", id="list method call"),
    pytest.param("{{ lead['__class__'] }}", id="item access dunder"),
    pytest.param("{{ ('%s' % lead) }}", id="percent format"),
    pytest.param("{{ 9 ** 9 ** 9 ** 9 }}", id="power bomb"),
]

LEAKS = ["class '", "<class", "<function", "<built-in", "<module", "Template", "_Fields", "os", "subprocess", "uid="]


@pytest.fixture
def lena():
    return context_of({"first_name": "Lena", "company": "Acme"}, {"name": "Ann"}, "https://plera.example/u/1")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_readiness_blocks_the_payload(payload):
    analysis = analyse(payload, channel="email")

    # an error is a template_error finding; a bare foreign name (config) is an unknown_variable one: both block
    assert analysis.error is not None or analysis.unknown


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendering_the_payload_leaks_nothing(payload, lena):
    rendered = render(payload, lena, channel="email")

    assert rendered.error is not None or rendered.text == ""
    assert not any(leak in rendered.text for leak in LEAKS)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_payload_is_refused_by_name_before_it_runs(payload, lena):
    analysis = analyse(payload, channel="linkedin_message")

    if analysis.error is not None:
        assert render(payload, lena, channel="linkedin_message").error == analysis.error


# The power bomb is left out: jinja folds constants while compiling, so only the reading can stop it.
SANDBOX_PAYLOADS = [payload for payload in PAYLOADS if "**" not in payload.values[0]]
SANDBOX_ONLY_LEAKS = ["class '", "<class", "<module", "uid=", "subprocess", "__builtins__", "Popen"]


@pytest.mark.parametrize("payload", SANDBOX_PAYLOADS)
def test_the_sandbox_alone_still_holds_if_the_reading_were_loosened(payload, lena):
    # The second wall: run the payload straight in the module's sandbox, bypassing `analyse`.
    try:
        text = templates._compiled(payload).render(templates._variables(lena, "email"))
    except Exception:  # refused (SecurityError), undefined, or no such filter: all stop the payload
        return
    assert not any(leak in text for leak in SANDBOX_ONLY_LEAKS)
