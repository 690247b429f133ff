"""Bad input answers 4xx problem details with a stable code, never a 500."""

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from plera.api import create_app
from plera.api.limits import MAX_BODY_BYTES, BodyLimit
from tests.integration.api.conftest import PROBLEM, assert_problem


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer plera_00000000000000000000000000000000_abcd_secret"},
        {"Authorization": "Bearer plera_nothex_abcd_secret"},
    ],
    ids=["missing", "garbage", "basic", "unknown-workspace", "bad-workspace-id"],
)
def test_a_missing_or_invalid_key_answers_401(client, headers):
    body = assert_problem(client.get("/v1/runs", headers=headers), 401, "unauthorized")
    assert body["type"] == "/problems/unauthorized"


def test_a_valid_key_with_its_secret_altered_answers_401(client, api):
    headers = {"Authorization": f"Bearer {api.api_key[:-2]}xx"}
    response = client.get("/v1/workspace", headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_route_and_a_wrong_method_answer_problems(client, api):
    assert_problem(api.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(client.get("/nothing-here"), 404, "not_found")
    wrong = client.delete("/v1/runs", headers=api.headers)
    assert_problem(wrong, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/runs/{id}"),
        ("POST", "/v1/runs/{id}/archive"),
        ("POST", "/v1/runs/{id}/source-groups"),
        ("GET", "/v1/runs/{id}/source-groups"),
        ("POST", "/v1/source-groups/{id}/leads"),
        ("POST", "/v1/source-groups/{id}/mark-enriched"),
        ("POST", "/v1/sender-accounts/{id}/pause"),
        ("POST", "/v1/sender-accounts/{id}/resume"),
        ("GET", "/v1/sequences/{id}"),
        ("PATCH", "/v1/sequences/{id}"),
        ("POST", "/v1/sequences/{id}/launch"),
        ("POST", "/v1/sequences/{id}/pause"),
        ("POST", "/v1/enrollments/{id}/stop"),
        ("GET", "/v1/leads/{id}/history"),
    ],
)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", "0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a1"])
def test_an_id_that_is_not_a_uuid_names_nothing(client, api, method, path, bad_id):
    body = {"name": "x"} if path.endswith("source-groups") and method == "POST" else {}
    response = client.request(method, path.format(id=bad_id), headers=api.headers, json=body)
    assert_problem(response, 404, "not_found")


def test_a_well_formed_id_of_nothing_answers_404(api):
    assert_problem(api.get("/v1/runs/0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11"), 404, "not_found")
    assert_problem(api.get("/v1/sequences/0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11"), 404, "not_found")


def test_unknown_fields_are_refused_with_each_error_located(api):
    body = assert_problem(api.post("/v1/runs", json={"name": "Q1", "colour": "red"}), 422, "invalid_request")
    assert body["errors"] == [
        {"loc": ["body", "colour"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    run_id = api.run()
    body = assert_problem(
        api.post(f"/v1/runs/{run_id}/source-groups", json={"name": "A", "size": 3}), 422, "invalid_request"
    )
    assert body["errors"][0]["loc"] == ["body", "size"]
    assert_problem(api.patch("/v1/workspace", json={"timezone": "Mars/Olympus"}), 422, "invalid_request")


def test_a_missing_or_wrongly_typed_body_is_refused(api):
    assert_problem(api.post("/v1/runs"), 422, "invalid_request")
    assert_problem(api.post("/v1/runs", json=["a list"]), 422, "invalid_request")
    assert_problem(api.post("/v1/runs", json={"name": 5}), 422, "invalid_request")
    assert_problem(api.post("/v1/runs", json={"name": ""}), 422, "invalid_request")


def test_malformed_json_is_refused_as_invalid_json(api):
    for raw in (b'{"name": ', b"{'name': 'x'}", b"\xff\xfe{}"):
        response = api.post("/v1/runs", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] in ("invalid_json", "bad_request")
    assert_problem(
        api.post("/v1/runs", content=b'{"name": ', headers={"Content-Type": "application/json"}), 422, "invalid_json"
    )


def test_deeply_nested_json_is_refused_not_crashed_on(api):
    raw = b"[" * 100_000 + b"]" * 100_000
    response = api.post("/v1/runs", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith(PROBLEM)


def test_a_body_over_10_mb_answers_413_by_its_declared_length(api):
    big = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert_problem(
        api.post("/v1/runs", content=big, headers={"Content-Type": "application/json"}), 413, "payload_too_large"
    )


def test_a_chunked_body_over_10_mb_answers_413_by_its_counted_bytes(api, client):
    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    response = api.post(
        "/v1/runs", content=chunks(), headers={"Content-Type": "application/json"}
    )  # a generator goes out chunked, with no Content-Length
    assert_problem(response, 413, "payload_too_large")


def test_the_body_limit_stops_reading_at_the_first_chunk_past_the_limit():
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}  # an endless stream

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        await Request(scope, receive).body()

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    anyio.run(BodyLimit(app, max_bytes=10_000), scope, receive, send)
    assert sent[0]["status"] == 413
    assert read == 11
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"


def test_a_bad_cursor_or_limit_is_refused(api):
    assert_problem(api.get("/v1/runs", params={"cursor": "garbage"}), 422, "invalid_cursor")
    assert_problem(api.get("/v1/runs", params={"cursor": "WzEsMiwzXQ=="}), 422, "invalid_cursor")  # [1,2,3]
    assert_problem(api.get("/v1/runs", params={"limit": 0}), 422, "invalid_request")
    assert_problem(api.get("/v1/runs", params={"limit": 501}), 422, "invalid_request")
    assert_problem(api.get("/v1/runs", params={"limit": "ten"}), 422, "invalid_request")
    assert_problem(api.get("/v1/runs", params={"status": "sleeping"}), 422, "invalid_request")
    assert_problem(api.get("/v1/sequences", params={"run_id": "nope"}), 422, "invalid_request")


def test_an_unexpected_error_answers_a_bare_500_problem(services):
    app = create_app(services)

    def boom() -> None:
        raise RuntimeError("secret internals: postgres://user:pw@db")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert "RuntimeError" not in body["detail"]
