from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.lead_timeline import lead_timeline

from .world import make_world, the_usual_story


def test_a_leads_timeline_tells_its_story_in_order(services, clock):
    world = make_world(services, clock, ["Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus"])
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        ann = lead_timeline(conn, world.workspace_id, world.leads["Ann"])
        dan = lead_timeline(conn, world.workspace_id, world.leads["Dan"])

    assert [item["summary"] for item in ann] == [
        "Imported (Ann Tester, Ann Co)",
        "Enrolled in a sequence of 3 steps",
        f"Step 1 (email) scheduled for {ann[2]['at'][:10]} {ann[2]['at'][11:16]} UTC",
        "Step 1 (email) sending",
        "Step 1 (email) sent",
        f"Step 2 (email) scheduled for {ann[5]['at'][:10]} {ann[5]['at'][11:16]} UTC",
        "Step 2 (email) sending",
        "Step 2 (email) sent",
        "Replied on email",
        "Step 3 (LinkedIn message) skipped: replied",
        "Stopped: replied",
    ]
    assert [item["at"] for item in ann] == sorted(item["at"] for item in ann)
    enrollment_events = ann[1:]
    assert {item["aggregate_id"] for item in enrollment_events} == {str(world.enrollment("Ann"))}
    assert {item["sequence_name"] for item in enrollment_events} == {"Founders sequence"}
    assert ann[0]["sequence_id"] is None and ann[0]["type"] == "LeadImported"
    assert dan[-1]["summary"] == "Step 1 (email) failed for good: 550 user unknown"
    assert dan[-1]["data"]["retryable"] is False


def test_a_timeline_holds_only_that_leads_events_in_that_workspace(services, clock):
    world = make_world(services, clock, ["Ann", "Ben"])
    world.send("Ben", 1)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        ann = lead_timeline(conn, world.workspace_id, world.leads["Ann"])
        foreign = lead_timeline(conn, make_world(services, clock, ["Cat"]).workspace_id, world.leads["Ann"])

    assert [item["type"] for item in ann] == ["LeadImported", "LeadEnrolled", "StepScheduled"]
    assert foreign == []
