"""Leads can be seen: a source group's leads, paged and searched, and one lead with what applies to it."""

from __future__ import annotations

from uuid import uuid4

from tests.integration.api.conftest import assert_problem

PEOPLE = [
    {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example", "company": "Analytical Engines"},
    {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example", "company": "US Navy"},
    {"first_name": "Kenji", "last_name": "Sato", "email": "kenji@acme.example", "company": "Sato Shoji"},
    {"first_name": "Lena", "email": "lena@example.com", "company": "ACME Corp"},
    {"linkedin_url": "https://www.linkedin.com/in/nameless", "company": "100% Growth_Co"},
]


def _pages(api, group, **params):
    """Every page of the group's leads, following next_cursor."""
    pages, cursor = [], None
    while True:
        page = api.ok(
            api.get(f"/v1/source-groups/{group}/leads", params={**params, **({"cursor": cursor} if cursor else {})})
        )
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_a_groups_leads_are_listed_page_by_page_in_the_order_they_joined(api, catch_up):
    run = api.run()
    group, other = api.group(run, "List A"), api.group(run, "List B")
    first = api.import_leads(group, PEOPLE[:3])["lead_ids"]
    second = api.import_leads(group, PEOPLE[3:])["lead_ids"]
    api.import_leads(other, [{"email": "someone@else.example"}])
    catch_up()

    pages = _pages(api, group, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    listed = [lead for page in pages for lead in page]
    assert [lead["id"] for lead in listed] == first + second
    ada = listed[0]
    assert (ada["name"], ada["email"], ada["company"]) == ("Ada Lovelace", "ada@engines.example", "Analytical Engines")
    assert listed[4]["name"] is None and listed[4]["linkedin_url"] == "https://www.linkedin.com/in/nameless"
    assert_problem(api.get(f"/v1/source-groups/{group}/leads", params={"cursor": "nonsense"}), 422, "invalid_cursor")
    assert_problem(api.get(f"/v1/source-groups/{group}/leads", params={"limit": 501}), 422, "invalid_request")


def test_q_finds_leads_by_part_of_their_name_email_or_company_in_any_case(api, catch_up):
    group = api.group(api.run())
    api.import_leads(group, PEOPLE)
    catch_up()

    def found(q, **params):
        return [lead["email"] or lead["linkedin_url"] for page in _pages(api, group, q=q, **params) for lead in page]

    assert found("acme") == ["kenji@acme.example", "lena@example.com"]  # an email's domain, a company
    assert found("LOVELACE") == ["ada@engines.example"]
    assert found("  grace   hopper ") == ["grace@navy.example"]  # first and last name together
    assert found("navy.example") == ["grace@navy.example"]
    assert found("a", limit=1) == [p["email"] for p in PEOPLE[:4]]  # paged like the list
    assert found("100%") == ["https://www.linkedin.com/in/nameless"]  # % and _ are text, not wildcards
    assert found("0%_g") == []
    assert found("nobody at all") == []
    assert_problem(api.get(f"/v1/source-groups/{group}/leads", params={"q": "a\x00"}), 422, "invalid_request")
    assert_problem(api.get(f"/v1/source-groups/{group}/leads", params={"q": "x" * 201}), 422, "invalid_request")


def test_a_lead_shows_its_zone_and_where_it_came_from(api, catch_up):
    group = api.group(api.run())
    rows = [
        {"email": "tz@example.com", "timezone": "America/Chicago", "country": "JP"},
        {"email": "city@example.com", "city": "Osaka"},
        {"email": "phone@example.com", "phone": "+49 30 123456"},
        {"email": "country@example.com", "country": "Japan"},
        {"email": "none@example.com", "country": "United States"},
    ]
    ids = api.import_leads(group, rows)["lead_ids"]
    catch_up()
    zones = [api.ok(api.get(f"/v1/leads/{i}")) for i in ids]
    assert [(z["zone"], z["zone_source"]) for z in zones] == [
        ("America/Chicago", "explicit"),
        ("Asia/Tokyo", "city"),
        ("Europe/Berlin", "phone"),
        ("Asia/Tokyo", "country"),
        ("UTC", "workspace"),  # the United States have several zones: the workspace's is used
    ]
    assert zones[3]["country"] == "JP"


def test_a_lead_shows_its_groups_enrollments_and_suppression(api, catch_up):
    run = api.run()
    one, two = api.group(run, "Fair visitors"), api.group(run, "Webinar")
    ada = api.import_leads(one, [PEOPLE[0]])["lead_ids"][0]
    api.import_leads(two, [{"email": "ADA@engines.example", "title": "Countess"}])
    api.enrich(one)
    sequence = api.sequence(run, [one])
    api.launch(sequence)
    catch_up()

    lead = api.ok(api.get(f"/v1/leads/{ada}"))
    assert (lead["id"], lead["name"], lead["title"]) == (ada, "Ada Lovelace", "Countess")
    assert sorted((g["id"], g["name"], g["run_id"]) for g in lead["source_groups"]) == sorted(
        [
            (one, "Fair visitors", run),
            (two, "Webinar", run),
        ]
    )
    [enrollment] = lead["enrollments"]
    assert (enrollment["sequence_id"], enrollment["sequence_name"]) == (sequence, "Intro")
    assert (enrollment["status"], enrollment["next_step"], enrollment["next_channel"]) == ("active", 1, "email")
    assert enrollment["next_send_at"] is not None
    assert lead["suppression"] is None

    api.ok(api.post("/v1/suppressions", json={"kind": "domain", "value": "engines.example", "reason": "asked"}), 201)
    api.ok(api.post(f"/v1/enrollments/{enrollment['id']}/pause"))
    catch_up()
    lead = api.ok(api.get(f"/v1/leads/{ada}"))
    suppression = lead["suppression"]
    assert (suppression["kind"], suppression["value"], suppression["reason"]) == ("domain", "engines.example", "asked")
    assert (suppression["source"], suppression["skip_reason"]) == ("manual", "suppressed")
    assert lead["enrollments"][0]["status"] == "paused"


def test_a_lead_or_group_of_another_workspace_is_404(api, new_workspace, catch_up):
    group = api.group(api.run())
    lead = api.import_leads(group, [PEOPLE[0]])["lead_ids"][0]
    catch_up()
    other = new_workspace("Other")
    assert_problem(other.get(f"/v1/leads/{lead}"), 404, "not_found")
    assert_problem(other.get(f"/v1/source-groups/{group}/leads"), 404, "not_found")
    assert_problem(other.get(f"/v1/source-groups/{group}/leads", params={"q": "ada"}), 404, "not_found")
    assert_problem(api.get(f"/v1/leads/{uuid4()}"), 404, "not_found")
    assert_problem(api.get("/v1/leads/not-a-uuid"), 404, "not_found")
    assert api.ok(api.get(f"/v1/leads/{lead}"))["email"] == "ada@engines.example"


def test_a_lead_just_imported_is_shown_before_the_read_models_catch_up(api):
    group = api.group(api.run())
    lead = api.import_leads(group, [{**PEOPLE[1], "country": "DE"}])["lead_ids"][0]
    shown = api.ok(api.get(f"/v1/leads/{lead}"))
    assert (shown["name"], shown["zone"], shown["zone_source"]) == ("Grace Hopper", "Europe/Berlin", "country")
