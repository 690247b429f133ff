"""Through Kafka: one event a read model cannot take waits aside, and the consumer group goes on (decision 0010).

The fault is real: a trigger on `read.leads` refuses one lead's row. The session's database is
shared, so the fault is removed and the dead letter retried before the test ends, whatever happens.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from plera.api import create_app
from plera.projections.all import ALL
from plera.projections.retry import retry

from .conftest import consume_until_caught_up, positions_name, relay_all
from .world import launched_sequence

LEADS = 3_400  # each brings three events (imported, enrolled, step 1 scheduled): over 10,000 in all
POISON = "P1700"
REFUSE = """
CREATE FUNCTION read.refuse_one_kafka_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.first_name = '{name}' AND NEW.email LIKE '%@poisoned.example' THEN
    RAISE EXCEPTION 'this row is refused' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_one_kafka_lead BEFORE INSERT OR UPDATE ON read.leads
  FOR EACH ROW EXECUTE FUNCTION read.refuse_one_kafka_lead();
"""
REMOVE = (
    "DROP TRIGGER IF EXISTS refuse_one_kafka_lead ON read.leads; DROP FUNCTION IF EXISTS read.refuse_one_kafka_lead()"
)


def dead_letter_count(page: str, consumer: str) -> float | None:
    for family in text_string_to_metric_families(page):
        for s in family.samples:
            if s.name == "plera_projection_dead_letters" and s.labels == {"consumer": consumer, "projection": "leads"}:
                return s.value
    return None


def test_a_poison_event_among_10000_good_ones_is_kept_aside_and_the_group_goes_on(services, relay, feeds, group):
    feed = feeds()
    with services.db.pool.connection() as conn:
        conn.execute(REFUSE.format(name=POISON))
    try:
        ids = launched_sequence(services, leads=LEADS, name="poisoned")
        relay_all(relay, services, timeout=120)
        consume_until_caught_up(feed, timeout=180)

        with services.db.pool.connection() as conn:
            names = {
                r[0]
                for r in conn.execute(
                    "SELECT first_name FROM read.leads WHERE workspace_id = %s", (ids["workspace_id"],)
                )
            }
            enrolled = conn.execute(
                "SELECT count(*) FROM read.enrollments WHERE sequence_id = %s", (ids["sequence_id"],)
            ).fetchone()
            letters = conn.execute("SELECT projection, consumer, held_behind FROM read.dead_letters").fetchall()
        assert names == {f"P{i}" for i in range(LEADS)} - {POISON}
        assert enrolled == (LEADS,)
        assert letters == [("leads", positions_name(group), None)]

        with TestClient(create_app(services)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["checks"]["projections"]["dead_letters"] == {"leads": 1}
            assert dead_letter_count(client.get("/metrics").text, positions_name(group)) == 1

        with services.db.pool.connection() as conn:
            conn.execute(REMOVE)
        done = retry(services, ALL)
        assert (done.applied, done.failing) == (1, [])
        with services.db.pool.connection() as conn:
            found = conn.execute(
                "SELECT count(*) FROM read.leads WHERE workspace_id = %s", (ids["workspace_id"],)
            ).fetchone()
        assert found == (LEADS,)
        with TestClient(create_app(services)) as client:
            assert client.get("/readyz").json()["checks"]["projections"]["status"] == "ok"
    finally:
        with services.db.pool.connection() as conn:
            conn.execute(REMOVE)
        retry(services, ALL)
