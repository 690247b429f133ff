"""The OpenAPI document says what the API does: a refused method's Allow names every method of
the path, a body that is not UTF-8 is malformed JSON (422), and what the schema refuses the API refuses."""

from __future__ import annotations

import pytest

from .conftest import Api, assert_problem

SOME_ID = "0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11"


def _documented(api: Api, path: str) -> set[str]:
    operations = api.client.get("/openapi.json").json()["paths"][path]
    return {method.upper() for method in operations}


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/runs", "/v1/runs"),
        (f"/v1/sequences/{SOME_ID}", "/v1/sequences/{sequence_id}"),
        ("/v1/workspace", "/v1/workspace"),
        ("/v1/sender-accounts", "/v1/sender-accounts"),
        ("/v1/suppressions", "/v1/suppressions"),
    ],
)
def test_options_answers_405_with_every_method_of_the_path_in_allow(api: Api, path: str, template: str) -> None:
    response = api.client.options(path, headers=api.headers)
    assert_problem(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert _documented(api, template) <= allowed
    assert len(_documented(api, template)) >= 2  # the paths chosen serve several methods


def test_a_wrong_method_names_every_method_too(api: Api) -> None:
    response = api.client.delete("/v1/runs", headers=api.headers)
    assert_problem(response, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}


def test_a_json_body_that_is_not_utf_8_is_malformed_json(api: Api) -> None:
    response = api.post("/v1/runs", content=b'{"name": "\xff"}', headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "invalid_json")


def test_text_fields_say_in_the_schema_that_they_refuse_nul_and_line_breaks(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    run_name = schemas["CreateRun"]["properties"]["name"]
    assert run_name["maxLength"] == 200 and "\\u0000-\\u001f" in run_name["pattern"]
    reply = schemas["ReplyInThread"]["properties"]["body"]
    assert reply["maxLength"] == 20_000 and "\\u0000" in reply["pattern"] and reply["minLength"] == 1
    assert_problem(api.post("/v1/runs", json={"name": "Q1\nQ2"}), 422, "invalid_request")
    assert_problem(api.post("/v1/runs", json={"name": "Q1\x00"}), 422, "invalid_request")


def test_a_sender_patch_shows_null_only_where_null_is_taken(api: Api) -> None:
    """Found by the fuzz test: the schema offered null for every field, the API refuses it but for the signature."""
    fields = api.client.get("/openapi.json").json()["components"]["schemas"]["ChangeSenderAccount"]["properties"]
    nullable = {name for name, field in fields.items() if {"type": "null"} in field.get("anyOf", [])}
    assert nullable == {"signature"}
    assert_problem(api.patch(f"/v1/sender-accounts/{SOME_ID}", json={"premium": None}), 422, "invalid_request")


def test_the_linkedin_webhook_documents_its_body(api: Api) -> None:
    operation = api.client.get("/openapi.json").json()["paths"]["/v1/webhooks/{workspace_id}/linkedin"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert set(body["content"]["application/json"]["schema"]["required"]) == {
        "type",
        "event_id",
        "account_id",
        "profile_url",
    }


def test_a_lead_row_with_another_member_is_rejected_as_the_schema_says(api: Api) -> None:
    """The import checks rows one by one, so the row schema allows other members: the row is rejected, not the import."""
    schema = api.client.get("/openapi.json").json()["paths"]["/v1/source-groups/{group_id}/leads"]["post"]
    row = schema["requestBody"]["content"]["application/json"]["schema"]["properties"]["leads"]["items"]
    assert row.get("additionalProperties", True) is not False
    group = api.group(api.run())
    answer = api.import_leads(group, [{"email": "ada@example.com", "shoe_size": "9"}])
    assert answer["rejected"] == [{"row": 1, "code": "unknown_field", "detail": "unknown fields: shoe_size"}]


def test_the_lead_search_says_in_its_schema_that_it_refuses_control_characters(api: Api) -> None:
    """Found by the fuzz test: the schema took any text for q, the API refused control characters."""
    operation = api.client.get("/openapi.json").json()["paths"]["/v1/source-groups/{group_id}/leads"]["get"]
    (q,) = [p for p in operation["parameters"] if p["name"] == "q"]
    assert q["schema"]["pattern"] == "^[^\\u0000-\\u001f\\u007f]*$"
    group = api.group(api.run())
    assert_problem(api.get(f"/v1/source-groups/{group}/leads", params={"q": "a\x07b"}), 422, "invalid_request")
