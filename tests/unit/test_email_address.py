"""The fast path of `email_address` answers exactly as email-validator does, for every address."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from plera.commands.models import _PLAIN_ADDRESS, email_address


def validator_says(value: str) -> str | None:
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        return None


def ours(value: str) -> str | None:
    try:
        return email_address(value)
    except ValueError:
        return None


plain = st.from_regex(_PLAIN_ADDRESS, fullmatch=True)  # long ones too: the length limit is the validator's
near = st.text(alphabet="aZ09.-_+@'!x", min_size=1, max_size=40)  # what trips the fast path up


@settings(max_examples=600, derandomize=True)
@given(st.one_of(plain, near))
def test_every_address_gets_the_validators_answer(value: str):
    assert ours(value) == validator_says(value)


def test_the_usual_addresses_take_the_fast_path_and_keep_their_local_part():
    for value in ("Ada.Lovelace@Example.COM", "o'neil+news@acme-corp.co.uk", "x@c.test"):
        assert _PLAIN_ADDRESS.fullmatch(value)
        assert email_address(value) == validator_says(value)


def test_special_use_and_overlong_addresses_are_refused_as_the_validator_does():
    for value in ("a@localhost", "a@x.local", "a@x.onion", "a@x.invalid", "a@x.arpa", "x" * 250 + "@c.test"):
        assert ours(value) is None and validator_says(value) is None


def test_an_address_in_another_script_still_goes_to_the_validator():
    assert re.fullmatch(_PLAIN_ADDRESS, "müller@bücher.example") is None
    assert ours("müller@bücher.example") == validator_says("müller@bücher.example")
