"""Shared pieces of the command models: the one validator of each kind of value the API takes.

Every text field has a maximum length and a `pattern` that tells, in the OpenAPI document, which
characters it refuses; every number has bounds. The checks themselves are Python validators, so a
refusal says what is wrong in words rather than quoting a regular expression.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

import holidays
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from plera.scheduling.zones import place_zones
from plera.text import has_control

# What the schema says the validators below refuse (JSON Schema patterns, ECMA-262 syntax).
NO_NUL = "^[^\\u0000]*$"
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
# Commands strip surrounding whitespace, so a required field must hold more than whitespace: what
# Python strips is ECMA-262's \s and also U+001C to U+001F and U+0085.
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000\\u001c-\\u001f\\u0085][^\\u0000]*$"
NOT_BLANK_LINE = "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f\\u0085][^\\u0000-\\u001f\\u007f]*$"

# Lengths of the kinds of text the contract takes. They bound what one event keeps and, since a
# signature or a lead's field can be printed many times by a template, what a message multiplies.
NAME_MAX = 200
LONG_TEXT_MAX = 5_000  # a strategy profile's offer or persona, a signature
ADDRESS_MAX = 320  # RFC 5321: 64 for the local part, 255 for the domain, and the @
URL_MAX = 2_000
WORD_MAX = 100
WORDS_MAX = 200  # entries of a list of words, such as avoid_words


def _no_control(value: str) -> str:
    if has_control(value):
        raise ValueError("may not contain control characters such as line breaks")
    return value


def text(max_length: int, *, blank: bool = True, **field: Any) -> Any:
    """A text field that may span lines: bounded, without NUL (refused by every `Command`).
    `field` takes Field's other arguments (default, description)."""
    pattern = NO_NUL if blank else NOT_BLANK
    return Field(
        max_length=max_length, min_length=None if blank else 1, json_schema_extra={"pattern": pattern}, **field
    )


def line(max_length: int = NAME_MAX, *, blank: bool = False, **field: Any) -> Any:
    """A one-line field (a name, a host, an id): bounded, without control characters, line breaks
    included; declare it as `Line` so that they are refused. `field` as for `text`."""
    pattern = NO_CONTROL if blank else NOT_BLANK_LINE
    return Field(
        max_length=max_length, min_length=None if blank else 1, json_schema_extra={"pattern": pattern}, **field
    )


Line = Annotated[str, AfterValidator(_no_control)]
"""A str that holds no control character; give it its length with `line(...)`."""


# The usual address, in plain ASCII: dot-separated atoms, then host labels and a letters-only top-level
# domain that is not special-use. email-validator takes every such address as it is (its domain
# lower-cased), at about a hundredth of the cost, which an import of 200,000 rows notices; anything
# else goes to it for the verdict. tests/unit/test_email_address.py holds the two to the same answers.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+"
    r"(?!(?:arpa|invalid|local|localhost|onion)$)[A-Za-z]{2,63})"
)


def email_address(value: str) -> str:
    """`value` as one email address (one mailbox, no display name, no list), with its domain
    lower-cased; raises ValueError saying what is wrong. For the API's fields and lead import alike.

    Deliverability is not checked (no DNS lookups on a request path), and the reserved `.test`
    domain is allowed, for demos and tests; other special-use names (`localhost`, `.local`) are not.
    """
    plain = _PLAIN_ADDRESS.fullmatch(value) if len(value) <= 254 else None  # longer: the validator's message
    if plain is not None:
        return f"{plain['local']}@{plain['domain'].lower()}"  # what the validator gives such an address
    if has_control(value):
        raise ValueError("an email address may not contain control characters such as line breaks")
    try:
        checked = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise ValueError(f"not one email address: {error}") from None
    return checked.normalized


EmailAddress = Annotated[
    str,
    Field(max_length=ADDRESS_MAX, json_schema_extra={"format": "email", "pattern": NOT_BLANK_LINE}),
    AfterValidator(email_address),
]


def iana_zone(name: str) -> str:
    """`name` when it is a canonical IANA zone of a place (see `Zone`); raises ValueError otherwise.
    For text that does not come through a command model, such as an imported row."""
    if name not in place_zones():
        raise ValueError(f"not a canonical IANA time zone (such as Europe/Berlin): {name!r}")
    return name


Zone = Annotated[
    str,
    Field(max_length=64, examples=["Europe/Berlin"], json_schema_extra={"pattern": NOT_BLANK_LINE}),
    AfterValidator(iana_zone),
]
"""An IANA zone that names a place, spelled as the database spells it (`localtime`, `posixrules`,
`Factory`, `right/…` and `posix/…` are refused). Sequences, workspaces and lead import all take this."""


@cache
def holiday_countries() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes whose holidays the `holidays` package knows."""
    return frozenset(code for code in holidays.list_supported_countries() if len(code) == 2)


def _country(code: str) -> str:
    if code not in holiday_countries():
        raise ValueError(f"not an upper-case ISO 3166-1 alpha-2 code of a country with known holidays: {code!r}")
    return code


HolidayCountry = Annotated[
    str,
    Field(min_length=2, max_length=2, examples=["US"], json_schema_extra={"pattern": "^[A-Z]{2}$"}),
    AfterValidator(_country),
]


def has_nul(value: Any) -> bool:
    """PostgreSQL text cannot hold NUL: one in an event would stop every read model that copies it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class Command(BaseModel):
    """Commands refuse unknown fields, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("text may not contain NUL (\\u0000) characters")
        return value
