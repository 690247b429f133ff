"""Rendering a step's subject or body for one lead, in a jinja2 sandbox.

A template is read first (`analyse`), and one the reading refuses is never run. What does run sees only the
allowed variables: no globals, no other filters. Rendering never raises; a problem comes back as `error`.

The output is bounded per channel (`RENDER_LIMIT`): the reading bounds what a template may build with
fields of an assumed length, but the real fields (a sender's signature, say) may be longer, and a
loop multiplies them. The text is generated piece by piece and the render stops as soon as it passes
the bound, so a template that would build megabytes costs no more memory than the bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from plera.messaging.template_analysis import (
    FALLBACK_FILTERS,
    FILTERS,
    LEAD_FIELDS,
    SENDER_FIELDS,
    UNSUBSCRIBE_URL,
    VARIABLES,
    Analysis,
    Segment,
    analyse,
    literal_length,
    variables_for,
)

__all__ = [
    "LEAD_FIELDS",
    "RENDER_LIMIT",
    "SENDER_FIELDS",
    "UNSUBSCRIBE_URL",
    "VARIABLES",
    "Analysis",
    "RenderContext",
    "Rendered",
    "Segment",
    "analyse",
    "context_of",
    "literal_length",
    "render",
    "variables_for",
]


RENDER_LIMIT = {"email": 100_000, "linkedin_invite": 10_000, "linkedin_message": 10_000}
"""Characters a rendered subject or body may have, by channel: far above any real message (a LinkedIn
message's own limit, 8,000, is a readiness finding below it), far below what would strain a worker."""


@dataclass(frozen=True)
class RenderContext:
    """The values one lead's message may show. Blank values are left out, so they read as missing."""

    lead: Mapping[str, str] = field(default_factory=dict)
    sender: Mapping[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Rendered:
    text: str
    fallbacks_used: tuple[str, ...] = ()
    error: str | None = None


def context_of(
    lead: Mapping[str, str | None],
    sender: Mapping[str, str | None],
    unsubscribe_url: str | None = None,
) -> RenderContext:
    return RenderContext(
        lead=_present(lead, LEAD_FIELDS),
        sender=_present(sender, SENDER_FIELDS),
        unsubscribe_url=unsubscribe_url if unsubscribe_url and unsubscribe_url.strip() else None,
    )


def render(source: str, context: RenderContext, *, channel: str) -> Rendered:
    analysis = analyse(source, channel=channel)
    if analysis.error is not None:
        return Rendered(text="", error=analysis.error)
    used: list[str] = []
    token = _fallbacks_used.set(used)
    try:
        text = _bounded(_compiled(source), _variables(context, channel), RENDER_LIMIT[channel])
    except Exception as error:  # a template problem is an answer, never a crash of the send or the preview
        return Rendered(text="", error=_describe(error))
    finally:
        _fallbacks_used.reset(token)
    if text is None:
        return Rendered(text="", error=f"the rendered text is longer than {RENDER_LIMIT[channel]:,} characters")
    return Rendered(text=text, fallbacks_used=tuple(dict.fromkeys(used)))


def _bounded(template: Template, variables: dict[str, Any], limit: int) -> str | None:
    """The rendered text, or None as soon as it passes `limit` characters (nothing more is generated)."""
    pieces: list[str] = []
    size = 0
    for piece in template.generate(variables):
        size += len(piece)
        if size > limit:
            return None
        pieces.append(piece)
    return "".join(pieces)


class _Fields:
    """`lead` or `sender` inside a template: its present fields as attributes, and nothing else."""

    __slots__ = ("_record", "_values")

    def __init__(self, record: str, values: Mapping[str, str]) -> None:
        self._record = record
        self._values = values

    def __getattr__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


# Each render gets its own list through a context variable, so threads rendering at once never mix them.
_fallbacks_used: ContextVar[list[str] | None] = ContextVar("plera_fallbacks_used", default=None)


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """jinja2's `default`, which also notes the variable whose fallback was printed."""
    if isinstance(value, Undefined) or (boolean and not value):
        used = _fallbacks_used.get()
        if used is not None and isinstance(value, Undefined):
            used.append(_name_of(value))
        return default_value
    return value


def _name_of(missing: Undefined) -> str:
    name = missing._undefined_name or ""
    owner = missing._undefined_obj
    return f"{owner._record}.{name}" if isinstance(owner, _Fields) else name


_sandbox = SandboxedEnvironment(
    autoescape=False,  # plain-text messages; the HTML part of an email escapes the text itself
    keep_trailing_newline=True,
    undefined=Undefined,
    auto_reload=False,
)
_sandbox.globals.clear()
_sandbox.filters = {name: _sandbox.filters[name] for name in FILTERS} | dict.fromkeys(FALLBACK_FILTERS, _default)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _sandbox.from_string(source)


def _variables(context: RenderContext, channel: str) -> dict[str, Any]:
    variables: dict[str, Any] = {"lead": _Fields("lead", context.lead), "sender": _Fields("sender", context.sender)}
    if context.unsubscribe_url is not None and UNSUBSCRIBE_URL in variables_for(channel):
        variables[UNSUBSCRIBE_URL] = context.unsubscribe_url
    return variables


def _present(values: Mapping[str, str | None], fields: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name in fields if (value := values.get(name)) is not None and value.strip()}


def _describe(error: Exception) -> str:
    if isinstance(error, TemplateSyntaxError):
        return f"line {error.lineno}: {error.message}"
    if isinstance(error, SecurityError):
        return f"refused by the sandbox: {error}"
    return f"the template failed to render: {error}"
