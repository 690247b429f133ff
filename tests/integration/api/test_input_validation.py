"""Bad input is a 422 with its field located, before anything is recorded: sizes, names and
addresses, zones, countries and numbers (issue 15)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.conftest import Api, assert_problem
from tests.sinks import sink_settings


def _email_sender(**fields: Any) -> dict[str, Any]:
    body = {"channel": "email", "name": "Alice", "address": "alice@plera.example", "daily_limit": 50}
    return body | sink_settings("email") | fields  # an email sender needs its SMTP server


def _refused_at(api: Api, response: Any, *loc: str | int) -> None:
    body = assert_problem(response, 422, "invalid_request")
    assert [e["loc"] for e in body["errors"]] == [["body", *loc]], body


def test_a_signature_of_100k_characters_is_refused_for_profiles_and_senders(api: Api, catch_up: Any) -> None:
    huge = "x" * 100_000
    _refused_at(api, api.post("/v1/strategy-profiles", json={"name": "P", "signature": huge}), "signature")
    _refused_at(api, api.post("/v1/sender-accounts", json=_email_sender(signature=huge)), "signature")
    catch_up()
    assert api.ok(api.get("/v1/sender-accounts"))["items"] == []


@pytest.mark.parametrize(
    "name", ["Alice\r\nBcc: x@evil.example", "Alice\nSmith", "Alice\x1b[31m", "Alice\tSmith"], ids=repr
)
def test_control_characters_in_a_senders_name_are_refused(api: Api, name: str) -> None:
    _refused_at(api, api.post("/v1/sender-accounts", json=_email_sender(name=name)), "name")


@pytest.mark.parametrize(
    "address",
    [
        "a@c.test, other@evil.example",
        "a@c.test other@evil.example",
        "Alice <alice@plera.example>",
        "alice@plera.example\r\nBcc: x@evil.example",
        "alice",
        "alice@localhost",
        "@plera.example",
    ],
    ids=repr,
)
def test_an_email_senders_address_is_exactly_one_mailbox(api: Api, address: str) -> None:
    _refused_at(api, api.post("/v1/sender-accounts", json=_email_sender(address=address)), "address")


def test_one_mailbox_is_taken_with_its_domain_lower_cased(api: Api, catch_up: Any) -> None:
    api.ok(api.post("/v1/sender-accounts", json=_email_sender(address="Alice.B@Plera.Example")), 201)
    catch_up()
    (sender,) = api.ok(api.get("/v1/sender-accounts"))["items"]
    assert sender["address"] == "Alice.B@plera.example"


def test_a_test_send_goes_to_one_mailbox_only(api: Api) -> None:
    body = {"step": 1, "lead_id": "0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11", "to": "a@c.test, other@evil.example"}
    sequence_id = api.sequence(api.run(), [])
    _refused_at(api, api.post(f"/v1/sequences/{sequence_id}/test-send", json=body), "to")


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/UTC", "posix/Europe/Berlin", "Factory", "utc"])
def test_a_workspace_zone_must_be_a_canonical_iana_place(api: Api, zone: str) -> None:
    _refused_at(api, api.patch("/v1/workspace", json={"timezone": zone}), "timezone")
    assert api.ok(api.get("/v1/workspace"))["timezone"] == "UTC"


@pytest.mark.parametrize("country", ["XX", "us", "ZZZ", "USA", ""])
def test_holiday_countries_are_upper_case_iso_codes_the_holidays_package_knows(api: Api, country: str) -> None:
    _refused_at(api, api.patch("/v1/workspace", json={"holiday_countries": [country]}), "holiday_countries", 0)


def test_known_zones_and_countries_are_taken(api: Api) -> None:
    changed = api.ok(api.patch("/v1/workspace", json={"timezone": "America/New_York", "holiday_countries": ["US"]}))
    assert changed["timezone"] == "America/New_York" and changed["holiday_countries"] == ["US"]


@pytest.mark.parametrize("daily_new_leads", [10**30, 100_001, 0, -1])
def test_a_sequences_numbers_are_bounded(api: Api, daily_new_leads: int) -> None:
    body = {
        "run_id": api.run(),
        "name": "Intro",
        "steps": [{"channel": "email", "delay_days": 0}],
        "settings": {"daily_new_leads": daily_new_leads},
    }
    _refused_at(api, api.post("/v1/sequences", json=body), "settings", "daily_new_leads")


def test_a_senders_daily_limit_is_bounded(api: Api) -> None:
    _refused_at(api, api.post("/v1/sender-accounts", json=_email_sender(daily_limit=10**30)), "daily_limit")


def test_every_text_field_and_number_the_api_takes_is_bounded_in_the_openapi_document(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    unbounded: list[str] = []

    def check(where: str, schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                check(name, schemas[name])
            return
        for branch in schema.get("anyOf", []) + schema.get("allOf", []):
            check(where, branch)
        kind = schema.get("type")
        if kind == "string" and not {"maxLength", "enum", "const", "format"} & schema.keys():
            unbounded.append(where)
        if kind == "integer" and ("maximum" not in schema or "minimum" not in schema):
            unbounded.append(where)
        for field, prop in schema.get("properties", {}).items():
            check(f"{where}.{field}", prop)
        if isinstance(schema.get("items"), dict):
            check(f"{where}[]", schema["items"])
            if "maxItems" not in schema:
                unbounded.append(where)

    seen: set[str] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                check(f"{method} {path} {parameter['name']}", parameter["schema"])
            if path.endswith("/source-groups/{group_id}/leads"):
                continue  # rows are checked one by one, each refusal reported in the answer (lead import)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                check(f"{method} {path} body", media.get("schema", {}))
    assert unbounded == [], "\n".join(unbounded)
