"""Drafts of step messages: what a draft is for, the checks a draft must pass, and the two writers.

OpenAIWriter asks a chat model for structured output and checks it; OfflineWriter builds drafts from
the strategy profile alone, without a network. Both return a DraftSet that names the writer, the
model and the prompt version, for the MessageDrafted events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, ValidationError

from plera.messaging import prompts
from plera.settings import Settings

Channel = Literal["email", "linkedin_invite", "linkedin_message"]
Condition = Literal["always", "no_reply"]
FailureCode = Literal["ai_timeout", "ai_rate_limited", "ai_unavailable", "ai_invalid_output"]

OFFLINE_VERSION = "offline-v1"


@dataclass(frozen=True)
class StepBrief:
    """What one draft is for. Its values are written into the instructions, so they are checked here."""

    step: int
    channel: Channel
    position: int
    total_steps: int
    is_first_email: bool
    delay_days: int
    condition: Condition = "always"
    note_limit: int | None = None  # LinkedIn invite notes: 200, or 300 with premium

    def __post_init__(self) -> None:
        if self.channel not in ("email", "linkedin_invite", "linkedin_message"):
            raise ValueError(f"unknown channel {self.channel!r}")
        if self.condition not in ("always", "no_reply"):
            raise ValueError(f"unknown condition {self.condition!r}")


@dataclass(frozen=True)
class ProfileBrief:
    """The strategy profile's fields that shape a draft."""

    name: str = ""
    offer: str = ""
    persona: str = ""
    tone: str = ""
    call_to_action: str = ""
    language: str = ""
    signature: str = ""
    avoid_words: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, fields: Mapping[str, object]) -> ProfileBrief:
        """From StrategyProfile.as_dict() or an API body; other keys are ignored."""

        def text(key: str) -> str:
            return str(fields.get(key) or "")

        words = fields.get("avoid_words")
        return cls(
            name=text("name"),
            offer=text("offer"),
            persona=text("persona"),
            tone=text("tone"),
            call_to_action=text("call_to_action"),
            language=text("language"),
            signature=text("signature"),
            avoid_words=tuple(str(word) for word in words) if isinstance(words, list | tuple) else (),
        )


@dataclass(frozen=True)
class DraftRequest:
    profile: ProfileBrief
    steps: list[StepBrief]
    sample_leads: list[dict[str, str]] = field(default_factory=list)  # untrusted: quoted, never obeyed


class Draft(BaseModel):
    """One step's message: jinja2 templates over the allowed variables. Also the model's output schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: int
    subject: str | None  # required, though nullable: strict structured output wants every field
    body: str


class DraftList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drafts: list[Draft]


class DraftSet(BaseModel):
    drafts: list[Draft]
    writer: Literal["openai", "offline"]
    model: str
    prompt_version: str


class DraftingFailed(Exception):
    """No drafts: the AI service failed or answered twice with drafts that break the rules."""

    def __init__(self, code: FailureCode, detail: str = "", retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code: FailureCode = code
        self.detail = detail
        self.retry_after = retry_after
        self.status = 502 if code == "ai_invalid_output" else 503


class InvalidDrafts(ValueError):
    """A reply that the model is asked to correct once."""


RESPONSE_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {"name": "step_drafts", "strict": True, "schema": DraftList.model_json_schema()},
}

_ALLOWED = frozenset(prompts.TEMPLATE_VARIABLES)
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.S)
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_VARIABLE = re.compile(
    r"\s*(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*"
    r"(?:\|\s*default\s*\(\s*(?P<default>'[^'\\]*'|\"[^\"\\]*\")\s*\)\s*)?",
    re.S,
)
_UNSUBSCRIBE = re.compile(r"\{\{\s*unsubscribe_url\s*\}\}")


def check_drafts(drafts: Sequence[Draft], steps: Sequence[StepBrief]) -> list[str]:
    """The rules a draft set must follow, as problems a model can act on. Empty when all is well."""
    wanted = {brief.step: brief for brief in steps}
    numbers = [draft.step for draft in drafts]
    problems = []
    if sorted(numbers) != sorted(wanted):
        problems.append(f"expected exactly one draft for each of steps {sorted(wanted)}, got steps {numbers}")
    for draft in drafts:
        if draft.step in wanted:
            problems += [f"step {draft.step}: {problem}" for problem in _check_draft(draft, wanted[draft.step])]
    return problems


def _check_draft(draft: Draft, brief: StepBrief) -> list[str]:
    email = brief.channel == "email"
    problems = [] if draft.body.strip() else ["the body is empty"]
    if email and not _UNSUBSCRIBE.search(_RAW.sub("", draft.body)):
        problems.append("an email body must contain {{ unsubscribe_url }}")
    if email and brief.is_first_email and not (draft.subject or "").strip():
        problems.append("the first email needs a subject")
    if brief.channel == "linkedin_invite" and brief.note_limit is not None and len(draft.body) > brief.note_limit:
        problems.append(f"the note has {len(draft.body)} characters; the limit is {brief.note_limit}")
    problems += template_problems(draft.body, unsubscribe=email)
    if draft.subject:
        problems += [f"subject: {problem}" for problem in template_problems(draft.subject, unsubscribe=False)]
    return problems


def template_problems(text: str, *, unsubscribe: bool) -> list[str]:
    """A rough check of a template's variables; the sandbox analyses templates in earnest."""
    code = _RAW.sub("", text)
    problems = []
    if "{%" in code or "{#" in code:
        problems.append("use only {{ ... }} expressions: no {% %} blocks and no {# #} comments")
    expressions = [match.group(1) for match in _EXPRESSION.finditer(code)]
    if code.count("{{") != len(expressions):
        problems.append("a {{ is never closed")
    for expression in expressions:
        variable = _VARIABLE.fullmatch(expression)
        if variable is None:
            problems.append(f"unsupported expression {{{{{expression[:60]}}}}}: use a variable with | default('...')")
            continue
        name = variable.group("name")
        if name == "unsubscribe_url":
            if not unsubscribe:
                problems.append("unsubscribe_url belongs only in email bodies")
        elif name not in _ALLOWED:
            problems.append(f"unknown variable {name}; use only {', '.join(prompts.TEMPLATE_VARIABLES)}")
        elif variable.group("default") is None:
            problems.append(f"{name} needs a fallback, as in {{{{ {name} | default('...') }}}}")
    return problems


def parse_reply(content: str, steps: Sequence[StepBrief]) -> list[Draft]:
    """The drafts in a model's reply, in step order, or InvalidDrafts saying what is wrong."""
    try:
        drafts = DraftList.model_validate_json(content).drafts
    except ValidationError as error:
        raise InvalidDrafts(_describe(error)) from None
    channels = {brief.step: brief.channel for brief in steps}
    drafts = [
        draft.model_copy(update={"subject": None})
        if channels.get(draft.step) != "email" or not (draft.subject or "").strip()
        else draft
        for draft in drafts
    ]
    problems = check_drafts(drafts, steps)
    if problems:
        raise InvalidDrafts("; ".join(problems))
    order = {brief.step: index for index, brief in enumerate(steps)}
    return sorted(drafts, key=lambda draft: order[draft.step])


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'reply'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)[:10]
    )


class OpenAIWriter:
    """Drafts from a chat model with structured output; one corrected retry, then DraftingFailed."""

    def __init__(self, base_url: str | None, api_key: str, model: str, timeout: float = 30.0) -> None:
        # max_retries=0: a retry here would double the wait behind a timeout; callers decide on retries.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self.model = model
        self.timeout = timeout

    def write(self, request: DraftRequest) -> DraftSet:
        messages = prompts.build_messages(request)
        completion = self._complete(messages)
        try:
            drafts = parse_reply(_content(completion), request.steps)
        except InvalidDrafts as first:
            messages += prompts.correction_messages(_text(completion), str(first))
            completion = self._complete(messages)
            try:
                drafts = parse_reply(_content(completion), request.steps)
            except InvalidDrafts as second:
                raise DraftingFailed("ai_invalid_output", f"invalid drafts twice: {second}"[:2000]) from None
        return DraftSet(
            drafts=drafts, writer="openai", model=completion.model or self.model, prompt_version=prompts.PROMPT_VERSION
        )

    def _complete(self, messages: list[ChatCompletionMessageParam]) -> ChatCompletion:
        # Details are our own words: nothing from the request or the service's answer is passed on.
        try:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, response_format=RESPONSE_FORMAT
            )
        except openai.APITimeoutError as error:
            raise DraftingFailed("ai_timeout", f"the AI service did not answer within {self.timeout:g} s") from error
        except openai.RateLimitError as error:
            retry_after = _retry_after(error.response.headers.get("retry-after"))
            raise DraftingFailed("ai_rate_limited", "the AI service is rate limiting", retry_after) from error
        except openai.APIStatusError as error:
            raise DraftingFailed("ai_unavailable", f"the AI service answered HTTP {error.status_code}") from error
        except openai.OpenAIError as error:
            raise DraftingFailed("ai_unavailable", "the AI service could not be reached") from error


def _content(completion: ChatCompletion) -> str:
    if not completion.choices:
        raise InvalidDrafts("the reply had no choices")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise InvalidDrafts(f"the model refused: {choice.message.refusal[:200]}")
    if choice.finish_reason == "length":
        raise InvalidDrafts("the reply was cut off; write shorter drafts")
    if not choice.message.content:
        raise InvalidDrafts("the reply had no content")
    return choice.message.content


def _text(completion: ChatCompletion) -> str:
    return (completion.choices[0].message.content or "") if completion.choices else ""


def _retry_after(header: str | None) -> int | None:
    """Whole seconds from a Retry-After in seconds; an HTTP date is left to the caller's default."""
    try:
        seconds = float(header or "")
    except ValueError:
        return None
    return max(0, math.ceil(seconds)) if math.isfinite(seconds) else None


class OfflineWriter:
    """Deterministic drafts from the strategy profile alone, for workspaces without an AI service.

    The text is English whatever the profile's language. Profile text is escaped so that jinja reads it
    as text, and a sentence with an avoid word is left out or said another way.
    """

    def write(self, request: DraftRequest) -> DraftSet:
        voice = _Voice(request.profile)
        drafts = [voice.draft(brief, request.steps) for brief in request.steps]
        return DraftSet(drafts=drafts, writer="offline", model="offline", prompt_version=OFFLINE_VERSION)


_FIRST_NAME = "{{ lead.first_name | default('there') }}"
_NAME_ONLY = "{{ lead.first_name | default('') }}"
_COMPANY = "{{ lead.company | default('your team') }}"
_SIGNATURE = "{{ sender.signature | default('') }}"
_UNSUBSCRIBE_LINES = (
    "If you would rather not hear from me again, unsubscribe here: {{ unsubscribe_url }}",
    "Unsubscribe: {{ unsubscribe_url }}",
    "{{ unsubscribe_url }}",
)
_BRACE = "{% raw %}{{% endraw %}"  # one literal "{" where jinja would otherwise read a delimiter
_VARIABLE_ROOM = 60  # room left in an invite note for what the variables render to
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FIRST_PERSON = re.compile(r"(we|our|i|i'm|my|us)\b", re.I)


class _Voice:
    """The profile's words, escaped for jinja and kept clear of its avoid_words."""

    def __init__(self, profile: ProfileBrief) -> None:
        self.avoid = [word.lower() for word in profile.avoid_words if word.strip()]
        tone = profile.tone.lower()
        word = "Hello" if "formal" in tone and "informal" not in tone else "Hi"
        names = (_FIRST_NAME, _NAME_ONLY)
        self.hello = self.first(f"{hi} {name}" for name in names for hi in (word, "Hello", "Hi", "Dear")) or _NAME_ONLY
        self.persona_phrase = _phrase(profile.persona)
        persona = f"I am reaching out because we work with {self.persona_phrase}." if self.persona_phrase else ""
        self.persona = self.keep(persona)
        offer = self.sentences(profile.offer)
        self.offer = offer if not offer or _FIRST_PERSON.match(offer) else self.keep(f"What we do: {offer}")
        cta = profile.call_to_action.strip().rstrip(".!?")
        # "a 20-minute call next week" is a thing to ask for, not a sentence of its own
        asked = f"Would you be open to {cta}?" if cta[:1].islower() else profile.call_to_action
        self.call = self.sentences(asked) or self.keep("Would you be open to a short call?")

    def draft(self, brief: StepBrief, steps: Sequence[StepBrief]) -> Draft:
        if brief.channel == "email":
            return self.email(brief)
        if brief.channel == "linkedin_invite":
            return Draft(step=brief.step, subject=None, body=self.invite(brief.note_limit or 300))
        earlier = {step.channel for step in steps if step.position < brief.position}
        return Draft(step=brief.step, subject=None, body=self.linkedin_message(earlier))

    def email(self, brief: StepBrief) -> Draft:
        subject: str | None = None
        if brief.is_first_email:
            subjects = (f"Idea for {_COMPANY}", f"Question for {_COMPANY}", "Introduction", "Hello")
            subject = self.first(subjects) or "{{ lead.company | default('') }}"
            paragraphs = [
                _join(self.persona, self.offer),
                _join(self.keep(f"I thought this could be relevant for {_COMPANY}."), self.call),
            ]
        elif brief.position == brief.total_steps:
            paragraphs = [
                _join(
                    self.keep("I have not heard back, so this is my last note on this."),
                    self.keep(f"If it becomes a priority for {_COMPANY} later, just reply to this email."),
                )
            ]
        else:
            paragraphs = [self.keep("I wanted to follow up on my earlier note, in case it got buried."), self.call]
        parts = [f"{self.hello},", *paragraphs, _SIGNATURE, self.first(_UNSUBSCRIBE_LINES)]
        body = "\n\n".join(part for part in parts if part)
        return Draft(step=brief.step, subject=subject, body=body)

    def invite(self, limit: int) -> str:
        candidates = (
            f"{self.hello},\n{self.offer} I would like to connect." if self.offer else "",
            f"{self.hello},\nI work with {self.persona_phrase} and would like to connect."
            if self.persona_phrase
            else "",
            f"{self.hello},\nI would like to connect and learn more about {_COMPANY}.",
            f"{self.hello},\nI would like to connect.",
        )
        fitting = (
            note
            for note in candidates
            if note and len(note) <= limit and len(_visible(note, fallbacks=False)) <= limit - _VARIABLE_ROOM
        )
        return self.first(fitting) or f"{self.hello}."

    def linkedin_message(self, earlier: set[Channel]) -> str:
        if "linkedin_message" in earlier:
            text = _join(self.keep("Following up on my last message."), self.call)
        elif "linkedin_invite" in earlier:
            text = _join(self.keep("Thanks for connecting."), self.offer, self.call)
        else:
            text = _join(self.persona, self.offer, self.call)
        return f"{self.hello},\n\n{text}" if text else f"{self.hello}."

    def ok(self, template: str) -> bool:
        visible = _visible(template).lower()
        return not any(word in visible for word in self.avoid)

    def keep(self, template: str) -> str:
        return template if self.ok(template) else ""

    def first(self, candidates: Iterable[str]) -> str:
        return next((template for template in candidates if self.ok(template)), "")

    def sentences(self, text: str) -> str:
        return _join(*(self.keep(_sentence(part)) for part in _SENTENCE_END.split(text.strip()) if part.strip()))


def _join(*sentences: str) -> str:
    return " ".join(sentence for sentence in sentences if sentence)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return _literal(text if text.endswith((".", "!", "?")) else f"{text}.")


def _phrase(text: str) -> str:
    return _literal(" ".join(text.split()).rstrip(".!?"))


def _literal(text: str) -> str:
    """Text that jinja renders as written: every '{' that would open a delimiter goes in a raw block."""
    return re.sub(r"\{(?=[{%#])", lambda _: _BRACE, text)


def _visible(template: str, *, fallbacks: bool = True) -> str:
    """Roughly what a reader sees: escapes undone, variables as their fallbacks (or left out)."""
    text = template.replace(_BRACE, "\0")
    text = _EXPRESSION.sub(lambda match: _fallback(match.group(1)) if fallbacks else "", text)
    return text.replace("\0", "{")


def _fallback(expression: str) -> str:
    variable = _VARIABLE.fullmatch(expression)
    default = variable.group("default") if variable else None
    return default[1:-1] if default else ""


def writer_for(settings: Settings) -> OpenAIWriter | OfflineWriter:
    if settings.openai_api_key:
        return OpenAIWriter(
            base_url=settings.openai_base_url, api_key=settings.openai_api_key, model=settings.openai_model
        )
    return OfflineWriter()
