"""A LinkedIn provider event relays what anyone wrote: it is made fit to keep before it becomes an event."""

import pytest
from pydantic import ValidationError

from plera.commands.linkedin_inbound import LinkedInEvent


def test_a_linkedin_message_with_nul_bytes_and_line_breaks_in_its_ids_is_cleaned_when_read() -> None:
    body = (
        '{"type": "message_received", "event_id": "ev\\u0000-1", "account_id": "alex",'
        ' "profile_url": "linkedin.com/in/ana\\n", "text": "hello\\u0000 world!\\nbye"}'
    )
    event = LinkedInEvent.model_validate_json(body)
    assert (event.event_id, event.profile_url) == ("ev-1", "linkedin.com/in/ana ")
    assert event.text == "hello world!\nbye"


def test_a_lone_surrogate_in_a_linkedin_event_is_refused_as_invalid_json_not_kept() -> None:
    body = '{"type": "message_received", "event_id": "e", "account_id": "a", "profile_url": "u", "text": "\\ud800"}'
    with pytest.raises(ValidationError):  # the webhook answers 422
        LinkedInEvent.model_validate_json(body)
