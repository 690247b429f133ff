"""Schemathesis hooks for the fuzz test (loaded by the CLI through SCHEMATHESIS_HOOKS).

- `message/rfc822` bodies (the inbound-email webhook) go on the wire as the bytes generated, so that
  operation is fuzzed too (`text/csv` already goes as text, through schemathesis's text/plain serializer).
- Sender accounts point at the loopback SMTP sink and LinkedIn sandbox.
- Webhook deliveries are signed with the workspace's webhook secret (PLERA_FUZZ_WEBHOOK_SECRET) three
  times in four, so the fuzzed bodies reach the parsers; the rest stay unsigned and must answer 401.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import schemathesis
from schemathesis.core import NotSet

from plera.channels.signatures import signed_headers


def _as_bytes(value: Any) -> bytes:
    if value is None or isinstance(value, NotSet):
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    data = getattr(value, "data", None)  # schemathesis's Binary wrapper
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return json.dumps(value).encode()


@schemathesis.serializer("message/rfc822")
def rfc822(ctx: Any, value: Any) -> bytes:
    return _as_bytes(value)


def _replaceable(value: Any) -> bool:
    """A text the schema takes wherever it stands (so a negative case stays negative for its other part)."""
    return isinstance(value, str) and 1 <= len(value) <= 100 and all(" " <= ch != "\x7f" for ch in value)


def _to_loopback(body: Any) -> None:
    """Senders point at the loopback sinks (PLERA_FUZZ_SMTP, PLERA_FUZZ_LINKEDIN): a fuzzed host would
    make every check of the sender wait on a name lookup or a connect that never comes."""
    if not isinstance(body, dict):
        return
    smtp, sandbox = os.environ.get("PLERA_FUZZ_SMTP"), os.environ.get("PLERA_FUZZ_LINKEDIN")
    settings = body.get("smtp")
    if smtp and isinstance(settings, dict) and _replaceable(settings.get("host")):
        host, port = smtp.rsplit(":", 1)
        settings["host"] = host
        if isinstance(settings.get("port"), int) and 1 <= settings["port"] <= 65535:
            settings["port"] = int(port)
    provider = body.get("provider")
    if sandbox and isinstance(provider, dict) and _replaceable(provider.get("base_url")):
        provider["base_url"] = sandbox


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path.startswith("/v1/sender-accounts"):
        _to_loopback(case.body)
    if "/webhooks/" not in case.operation.path:
        return
    secret = os.environ.get("PLERA_FUZZ_WEBHOOK_SECRET")
    if not secret:
        return
    body = _as_bytes(case.body)
    if int(hashlib.sha256(body).hexdigest(), 16) % 4 == 0:
        return  # left unsigned: 401
    # The signed bytes go out as they are (`data` wins over the transport's own JSON encoding); the case's
    # body stays the generated value, so schemathesis still knows whether it is valid.
    kwargs["data"] = body
    case.headers = {**(case.headers or {}), **signed_headers(secret, int(time.time()), body)}


# Refusals of schema-valid requests for rules a JSON schema cannot state: an opaque cursor that does not
# decode, a rule across fields, a rule that depends on another field's value, a reference to a step
# that does not exist. Each is a documented 422 of its operation; the API is right to give it, so
# `positive_data_acceptance` (ST202) is excused for exactly these answers: (code, words of the detail).
SEMANTIC_422: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("GET", "/v1/leads/{lead_id}/history"): [("invalid_request", "as_of: Input should be an ISO 8601")],  # a real date
    ("PATCH", "/v1/workspace"): [
        ("invalid_value", "window_start must be before window_end"),
        ("invalid_request", "not a canonical IANA time zone"),  # the zones of places, from the tz database
        ("invalid_request", "a country with known holidays"),  # the codes the holidays package knows
    ],
    ("POST", "/v1/dev/clock/advance"): [
        ("invalid_request", 'give either \\"seconds\\" or \\"by\\"'),
        ("invalid_request", "the duration"),  # more than 0 and at most 400 days
    ],
    # What a sender takes depends on its channel: an email address or a URL, smtp or provider settings,
    # a weekly invite limit; and a username wants a password, a provider an API key.
    ("POST", "/v1/sender-accounts"): [
        ("invalid_request", "not one email address"),
        ("invalid_request", "sender takes"),
        ("invalid_request", "sender needs"),
        ("invalid_request", "for LinkedIn senders only"),
        ("invalid_request", "smtp.password is needed"),
        ("invalid_request", "provider.api_key is needed"),
    ],
    ("PATCH", "/v1/sender-accounts/{sender_id}"): [
        ("invalid_request", "not one email address"),
        ("invalid_value", "not one email address"),
        ("invalid_value", "sender takes"),
        ("invalid_value", "for LinkedIn senders only"),
        ("invalid_value", "smtp.password is needed"),
        ("invalid_value", "provider.api_key is needed"),
    ],
    # A body of white space only is no message; binary text has no pattern to say so.
    ("POST", "/v1/webhooks/{workspace_id}/email/inbound"): [("invalid_request", "must be a raw RFC 5322 message")],
    ("POST", "/v1/sequences/{sequence_id}/test-send"): [("invalid_value", "does not exist")],  # step n of the body
    ("POST", "/v1/source-groups/{group_id}/leads"): [  # a CSV's header row must name lead fields
        ("invalid_value", "no CSV column names a lead field"),
        ("invalid_value", "the CSV is empty"),
    ],
    ("POST", "/v1/suppressions"): [("invalid_email", ""), ("invalid_domain", ""), ("invalid_linkedin_url", "")],
}


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False for a failure that is no fault of the API (see SEMANTIC_422 and the 502 below)."""
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(problem, dict):
        return True
    code, detail = problem.get("code"), json.dumps(problem)
    operation = (case.operation.method.upper(), case.operation.path)
    if failure.code == "ST202" and response.status_code == 422:
        if code == "invalid_cursor" and any(p.name == "cursor" for p in case.operation.query):
            return False  # a cursor is opaque: which strings decode, no pattern can say
        return not any(code == c and words in detail for c, words in SEMANTIC_422.get(operation, []))
    pinned = os.environ.get("PLERA_FUZZ_PINNED", "").split(",")
    if failure.code == "ST201" and any(f"parameter `{name}` in path" in failure.message for name in pinned if name):
        # The test pins this path parameter to a real id (schemathesis.toml [parameters]): the invalid
        # value generated for it was replaced by that id before the request went out.
        return False
    lead_import = operation == ("POST", "/v1/source-groups/{group_id}/leads")
    if failure.code == "ST201" and lead_import and response.status_code == 200 and problem.get("rejected"):
        return False  # a lead row is checked on its own (API.md): a bad row is rejected in a 200, not the import
    # The documented 502 of a send now (test-send, a reply): the mail server a fuzzed sender points at
    # refused or did not answer. That is the upstream's answer, relayed, not an error of ours.
    return not (failure.code == "ST101" and response.status_code == 502 and code == "send_failed")
