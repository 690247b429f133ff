from plera.commands.lead_import import parse_json_rows
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.leads import get_lead

from .world import ACTOR, make_world


def test_a_reimported_person_fills_in_what_the_lead_lacked(services, clock):
    world = make_world(services, clock, ["Ann"])
    group = create_source_group(services, world.workspace_id, world.run_id, CreateSourceGroup(name="Again"), ACTOR)
    email = f"ann@{world.workspace_id.hex[:8]}.example"
    rows = [{"email": email, "first_name": "Annie", "title": "CEO", "linkedin_url": "https://linkedin.com/in/ann"}]
    import_leads(services, world.workspace_id, group.id, parse_json_rows(rows), ACTOR)
    linkedin_only = import_leads(
        services, world.workspace_id, group.id, parse_json_rows([{"linkedin_url": "https://linkedin.com/in/x"}]), ACTOR
    )
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        ann = get_lead(conn, world.workspace_id, world.leads["Ann"])
        nameless = get_lead(conn, world.workspace_id, linkedin_only.lead_ids[0])
        foreign = get_lead(conn, make_world(services, clock, ["Ben"]).workspace_id, world.leads["Ann"])

    assert ann is not None
    assert (ann["name"], ann["title"], ann["linkedin_url"]) == ("Ann Tester", "CEO", "https://linkedin.com/in/ann")
    assert nameless is not None and nameless["name"] is None
    assert foreign is None


def test_the_lead_search_has_its_trigram_index_where_the_server_has_pg_trgm(services):
    with services.db.pool.connection() as conn:
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone()
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'read' AND indexname = 'leads_search_idx'"
        ).fetchone()
    if available is None:
        assert index is None
    else:
        assert index is not None and "gin_trgm_ops" in index[0]
