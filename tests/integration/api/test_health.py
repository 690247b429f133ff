from dataclasses import replace

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from plera.api import create_app
from plera.store import Database
from tests.integration.api.conftest import assert_problem


def test_healthz_answers_ok_without_a_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ready_when_the_database_does(client):
    response = client.get("/readyz")  # the broker too, when PLERA_KAFKA_BOOTSTRAP names one
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] in ("ready", "degraded")  # degraded: the read models lag (test_operability.py)
    assert body["checks"]["database"] == {"status": "ok", "detail": None}


def test_readyz_answers_503_when_the_database_does_not(services):
    closed = ConnectionPool(services.db.url, open=False)  # a pool that hands out no connection
    down = replace(services, db=Database(url=services.db.url, pool=closed))
    with TestClient(create_app(down)) as client:
        body = assert_problem(client.get("/readyz"), 503, "not_ready")
        assert body["checks"]["database"]["status"] == "failing"
        assert body["checks"]["lag"]["status"] == "unknown"
        assert client.get("/healthz").status_code == 200


def test_the_docs_and_the_schema_are_served_without_a_key(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Plera Sequences"
    assert "/v1/sequences/{sequence_id}/launch" in schema["paths"]
    not_found = schema["paths"]["/v1/runs/{run_id}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # every error is a Problem
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
