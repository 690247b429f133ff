"""/readyz (database, broker, lag), /metrics (Prometheus) and /v1/asyncapi.json.

The session's services follow PLERA_KAFKA_BOOTSTRAP (infra/test.sh sets it), so each test here
makes the app with the mode it means: embedded (no bootstrap), a broker that answers, or one that
does not.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from plera.api import create_app
from plera.consumers import lag
from plera.consumers.lag import BrokerProbe, BrokerState
from tests.broker import kafka_bootstrap  # noqa: F401
from tests.integration.api.conftest import assert_problem

DOCS = Path(__file__).resolve().parents[3] / "docs"
UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1


def _client(services, bootstrap: str | None) -> TestClient:
    settings = services.settings.model_copy(update={"kafka_bootstrap": bootstrap})
    return TestClient(create_app(replace(services, settings=settings)))


@pytest.fixture
def embedded(services) -> Iterator[TestClient]:
    with _client(services, None) as c:
        yield c


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by (name, labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _append_an_event(api) -> None:
    api.run("lag maker")


# ---- /readyz


def test_readyz_in_embedded_mode_reports_database_broker_and_lag(embedded, api, catch_up):
    catch_up()
    response = embedded.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["warnings"] == []
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "skipped"
    assert checks["lag"]["status"] == "ok"
    assert (checks["lag"]["mode"], checks["lag"]["consumer"], checks["lag"]["consumer_lag"]) == (
        "embedded",
        "embedded",
        0,
    )
    assert checks["lag"]["relay_lag"] is None
    assert checks["lag"]["threshold"] == lag.LAG_WARNING == 10_000
    assert checks["lag"]["head"] >= 1

    _append_an_event(api)
    behind = embedded.get("/readyz").json()["checks"]["lag"]
    assert behind["consumer_lag"] >= 1 and behind["head"] > checks["lag"]["head"]


def test_readyz_is_degraded_but_200_when_lag_passes_the_threshold(embedded, api, catch_up, monkeypatch):
    catch_up()
    _append_an_event(api)
    monkeypatch.setattr(lag, "LAG_WARNING", 0)
    response = embedded.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["lag"]["status"] == "degraded"
    assert len(body["warnings"]) == 1 and "read models" in body["warnings"][0]
    catch_up()
    assert embedded.get("/readyz").json()["status"] == "ready"


def test_readyz_answers_503_with_its_checks_when_the_broker_does_not_answer(services):
    with _client(services, UNREACHABLE) as client:
        body = assert_problem(client.get("/readyz"), 503, "not_ready")
        assert body["checks"]["broker"]["status"] == "failing"
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["lag"]["mode"] == "kafka"
        assert body["checks"]["lag"]["consumer_lag"] is None  # the end offsets are the broker's
        assert body["checks"]["lag"]["relay_lag"] is not None
        assert "broker" in body["detail"]
        started = time.monotonic()
        assert client.get("/readyz").status_code == 503
        assert time.monotonic() - started < 1.0  # the broker's answer is cached, not asked again


def test_readyz_with_a_broker_that_answers(services, kafka_bootstrap):  # noqa: F811
    with _client(services, kafka_bootstrap) as client:
        response = client.get("/readyz")
        assert response.status_code == 200, response.text
        checks = response.json()["checks"]
        assert checks["broker"]["status"] == "ok"
        assert (checks["lag"]["mode"], checks["lag"]["consumer"]) == ("kafka", "kafka")
        assert isinstance(checks["lag"]["relay_lag"], int) and isinstance(checks["lag"]["consumer_lag"], int)

        samples = _samples(client.get("/metrics").text)
        assert samples[("plera_broker_up", ())] == 1
        assert ("plera_relay_lag_events", ()) in samples
        assert ("plera_consumer_lag_events", (("consumer", "kafka"),)) in samples


def test_the_broker_probe_asks_at_most_once_per_ttl():
    now = [100.0]
    probe = BrokerProbe(UNREACHABLE, ttl=2.0, monotonic=lambda: now[0])
    asked = []

    def ask() -> BrokerState:
        asked.append(now[0])
        return BrokerState(reachable=False, end_offsets={}, error="KafkaTimeoutError")

    probe._ask = ask  # type: ignore[method-assign]
    for t in (100.0, 100.5, 101.9, 102.1, 103.0, 104.2):
        now[0] = t
        probe.state()
    assert asked == [100.0, 102.1, 104.2]


def test_kafka_consumer_lag_sums_partitions_and_counts_unread_ones_from_zero():
    ends = {"plera.lead.v1:0": 10, "plera.lead.v1:1": 5, "plera.run.v1:0": 7}
    stored = {"plera.lead.v1:0": 8, "plera.lead.v1:1": 5}
    assert lag.kafka_consumer_lag(stored, ends) == 2 + 0 + 7


# ---- /metrics


def test_metrics_report_head_relay_lag_and_processed_and_lag_drops_to_zero(embedded, api, catch_up):
    catch_up()
    _append_an_event(api)
    response = embedded.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "plera_event_store_head",
        "plera_relay_position",
        "plera_consumer_lag_events",
        "plera_projection_events_processed_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text and name in text
    before = _samples(text)
    embedded_lag = ("plera_consumer_lag_events", (("consumer", "embedded"),))
    assert before[embedded_lag] >= 1

    catch_up()
    after = _samples(embedded.get("/metrics").text)
    assert after[embedded_lag] == 0
    head = after[("plera_event_store_head", ())]
    assert head == before[("plera_event_store_head", ())]
    assert after[("plera_projection_events_processed_total", (("consumer", "embedded"),))] == head
    assert ("plera_relay_lag_events", ()) not in after  # no relay in embedded mode
    assert ("plera_broker_up", ()) not in after


def test_metrics_speak_openmetrics_when_asked(embedded):
    response = embedded.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_metrics_without_a_broker_leave_out_the_lag_they_cannot_know(services):
    with _client(services, UNREACHABLE) as client:
        samples = _samples(client.get("/metrics").text)
    assert samples[("plera_broker_up", ())] == 0
    assert not [key for key in samples if key[0] == "plera_consumer_lag_events"]
    assert ("plera_relay_lag_events", ()) in samples


def test_readyz_and_metrics_need_no_key_and_are_documented(client):
    schema = client.get("/openapi.json").json()
    assert {"/readyz", "/metrics", "/v1/asyncapi.json"} <= schema["paths"].keys()
    assert "security" not in schema["paths"]["/metrics"]["get"]
    assert "security" not in schema["paths"]["/v1/asyncapi.json"]["get"]


# ---- /v1/asyncapi.json


def test_the_asyncapi_document_is_served_without_a_key_and_matches_the_docs(client):
    response = client.get("/v1/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document == json.loads((DOCS / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    assert document["channels"]["enrollment"]["address"] == "plera.enrollment.v1"
