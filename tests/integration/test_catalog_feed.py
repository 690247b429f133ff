from datetime import timedelta

from plera.commands.runs import CreateRun, archive_run, create_run
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.catalog import list_items


def test_runs_reach_the_catalog_through_the_in_process_feed(services, clock):
    ws = create_workspace(services, CreateWorkspace(name="Feed"), actor="cli").workspace
    first = create_run(services, ws.id, CreateRun(name="One"), actor="t")
    clock.advance(timedelta(seconds=1))
    create_run(services, ws.id, CreateRun(name="Two"), actor="t")
    archive_run(services, ws.id, first.id, actor="t")
    feed = InProcessFeed(services, ALL)
    assert feed.catch_up() > 0
    assert feed.catch_up() == 0
    with services.db.pool.connection() as conn:
        active = list_items(conn, ws.id, "run", limit=10, status="active")
        page = list_items(conn, ws.id, "run", limit=1)
        rest = list_items(conn, ws.id, "run", limit=1, cursor=page["next_cursor"])
    assert [r["name"] for r in active["items"]] == ["Two"]
    assert [r["name"] for r in page["items"] + rest["items"]] == ["One", "Two"]
    assert rest["next_cursor"] is None
