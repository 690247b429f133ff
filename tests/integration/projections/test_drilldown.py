from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.drilldown import sequence_leads

from .world import NAMES, make_world, the_usual_story


def _names(page):
    return sorted(item["name"].split()[0] for item in page["items"])


def test_the_drill_down_lists_a_sequences_leads_by_step_and_status(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:

        def leads(**filters):
            return sequence_leads(conn, world.workspace_id, world.sequence_id, limit=50, **filters)

        everyone = leads()
        assert _names(everyone) == sorted(NAMES)
        assert _names(leads(status="active")) == ["Cat", "Dan", "Gus"]
        assert _names(leads(status="paused")) == ["Eve"]
        assert _names(leads(status="stopped")) == ["Ann", "Ben", "Fay"]
        assert _names(leads(step=2)) == ["Cat", "Dan", "Gus"]
        assert _names(leads(step=1)) == ["Eve"]
        assert _names(leads(step=2, status="paused")) == []

    cat = next(i for i in everyone["items"] if i["name"] == "Cat Tester")
    assert cat["company"] == "Cat Co"
    assert (cat["status"], cat["next_step"]) == ("active", 2)
    assert cat["next_send_at"] is not None and cat["next_send_at"] > cat["last_event_at"]  # in 3 days
    dan = next(i for i in everyone["items"] if i["name"] == "Dan Tester")
    assert dan["next_send_at"] is None  # step 2 is not scheduled yet
    ann = next(i for i in everyone["items"] if i["name"] == "Ann Tester")
    assert (ann["status"], ann["next_step"], ann["next_send_at"]) == ("stopped", None, None)


def test_the_drill_down_pages_with_a_cursor(services, clock):
    world = make_world(services, clock, NAMES)
    InProcessFeed(services, ALL).catch_up()

    pages = []
    cursor = None
    with services.db.pool.connection() as conn:
        while True:
            page = sequence_leads(conn, world.workspace_id, world.sequence_id, limit=3, cursor=cursor)
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        one_page = sequence_leads(conn, world.workspace_id, world.sequence_id, limit=50)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i["lead_id"] for p in pages for i in p] == [i["lead_id"] for i in one_page["items"]]


def test_the_drill_down_of_another_workspaces_sequence_is_none(services, clock):
    world = make_world(services, clock, ["Ann"])
    other = make_world(services, clock, ["Ben"])
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        assert sequence_leads(conn, other.workspace_id, world.sequence_id, limit=10) is None
