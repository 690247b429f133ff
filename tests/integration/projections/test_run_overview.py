from plera.commands.runs import CreateRun, archive_run, create_run
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.run_overview import runs_overview

from .world import ACTOR, NAMES, make_world, the_usual_story


def test_the_run_overview_lists_runs_with_their_sequences_headline_counts(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    world.tick()
    empty = create_run(services, world.workspace_id, CreateRun(name="Later"), ACTOR)
    world.tick()
    old = create_run(services, world.workspace_id, CreateRun(name="Old"), ACTOR)
    archive_run(services, world.workspace_id, old.id, ACTOR)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        overview = runs_overview(conn, world.workspace_id, limit=50)
        active = runs_overview(conn, world.workspace_id, status="active", limit=50)
        first = runs_overview(conn, world.workspace_id, limit=1)
        second = runs_overview(conn, world.workspace_id, limit=1, cursor=first["next_cursor"])

    assert [r["name"] for r in overview["items"]] == ["Q2 outbound", "Later", "Old"]
    assert [r["name"] for r in active["items"]] == ["Q2 outbound", "Later"]
    assert [r["name"] for r in first["items"] + second["items"]] == ["Q2 outbound", "Later"]
    q2 = overview["items"][0]
    assert [s["name"] for s in q2["sequences"]] == ["Founders sequence"]
    counts = {"enrolled": 7, "active": 3, "replied": 2, "sent": 4}  # sent: Ann twice, Ben and Cat once
    assert {k: q2["sequences"][0][k] for k in counts} == counts
    assert q2["sequences"][0]["status"] == "active"
    assert q2["totals"] == counts
    later = overview["items"][1]
    assert later["id"] == str(empty.id)
    assert later["sequences"] == [] and later["totals"] == {"enrolled": 0, "active": 0, "replied": 0, "sent": 0}
