"""A template's rendered text has a size bound per channel (templates.RENDER_LIMIT): past it the render
fails as a template_error in previews and readiness, and a test send refuses it."""

from __future__ import annotations

from typing import Any

from plera.messaging.templates import RENDER_LIMIT

from .conftest import Api, assert_problem
from .test_messaging_lab import approve, codes, put_message, readiness

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "always"}]
LONGEST_SIGNATURE = "s" * 5_000
# 100 characters per character of the signature: read with fields of an assumed 2,000 characters it
# builds 200,000, within what the reading allows; a real 5,000-character signature makes 500,000.
LOOP = "{% for c in sender.signature %}" + "x" * 100 + "{% endfor %}\n{{ unsubscribe_url }}"


def _sequence_with_loop(api: Api, catch_up: Any) -> tuple[str, str]:
    run = api.run()
    group = api.group(run)
    (lead,) = api.import_leads(group, [{"first_name": "Ada", "email": "ada@acme.example"}])["lead_ids"]
    api.enrich(group)
    sequence = api.sequence(run, [group], ONE_EMAIL)
    catch_up()
    sender = api.sender("email", signature=LONGEST_SIGNATURE)
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [sender], "linkedin": []}))
    put_message(api, sequence, 1, LOOP, subject="Hello")
    approve(api, sequence, 1)
    return sequence, lead


def test_a_template_loop_past_the_bound_is_a_template_error_in_previews_and_readiness(api: Api, catch_up: Any) -> None:
    sequence, lead = _sequence_with_loop(api, catch_up)
    bound = f"longer than {RENDER_LIMIT['email']:,} characters"

    (item,) = api.ok(api.get(f"/v1/sequences/{sequence}/previews", params={"lead_id": lead}))["items"]
    assert bound in item["error"] and item["body"] == ""

    report = readiness(api, sequence)
    assert not report["ready"]
    finding = codes(report)["template_error"]
    assert finding["severity"] == "blocking" and finding["steps"] == [1] and bound in finding["detail"]
    assert_problem(api.post(f"/v1/sequences/{sequence}/launch"), 409, "launch_blocked")


def test_a_test_send_of_a_template_past_the_bound_is_refused(api: Api, catch_up: Any) -> None:
    sequence, lead = _sequence_with_loop(api, catch_up)
    body = {"step": 1, "lead_id": lead, "to": "tester@tester.example"}
    refused = assert_problem(api.post(f"/v1/sequences/{sequence}/test-send", json=body), 422, "invalid_value")
    assert f"longer than {RENDER_LIMIT['email']:,} characters" in refused["detail"]


def test_the_same_loop_over_a_short_signature_is_ready(api: Api, catch_up: Any) -> None:
    run = api.run()
    group = api.group(run)
    api.import_leads(group, [{"first_name": "Ada", "email": "ada@acme.example"}])
    api.enrich(group)
    sequence = api.sequence(run, [group], ONE_EMAIL)
    catch_up()
    sender = api.sender("email", signature="Ada, Acme")
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [sender], "linkedin": []}))
    put_message(api, sequence, 1, LOOP, subject="Hello")
    approve(api, sequence, 1)
    assert readiness(api, sequence)["ready"], readiness(api, sequence)
