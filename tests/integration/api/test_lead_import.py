from uuid import UUID

from plera.aggregates.lead import Lead
from tests.integration.api.conftest import assert_problem

CSV = (
    b"first_name,last_name,email,linkedin_url,company,country\n"
    b"Ada,Lovelace,ada@example.com,,Analytical Engines,gb\n"
    b"Grace,Hopper,,https://www.linkedin.com/in/ghopper/,Navy,US\n"
    b"Nobody,,,,,\n"
    b"Bad,Mail,not-an-email,,,\n"
    b'Two,Mails,"a@c.test, other@evil.example",,,\n'
)


def _csv(api, group_id, body, content_type="text/csv"):
    return api.post(f"/v1/source-groups/{group_id}/leads", content=body, headers={"Content-Type": content_type})


def test_a_csv_import_takes_the_good_rows_and_reports_the_bad_by_row(api):
    group = api.group(api.run())
    result = api.ok(_csv(api, group, CSV))
    assert result["imported"] == 2 and result["existing"] == 0
    assert len(result["lead_ids"]) == 2
    assert result["rejected"] == [
        {"row": 3, "code": "missing_contact", "detail": "a lead needs an email or a LinkedIn URL"},
        {
            "row": 4,
            "code": "invalid_email",
            "detail": "not an email address: 'not-an-email' (An email address must have an @-sign.)",
        },
        {
            "row": 5,
            "code": "invalid_email",
            "detail": "not an email address: 'a@c.test, other@evil.example'"
            " (The part after the @-sign contains invalid characters: ',', '@', SPACE.)",
        },
    ]


def test_importing_the_same_file_twice_links_the_same_leads(api):
    group = api.group(api.run())
    first = api.ok(_csv(api, group, CSV))
    again = api.ok(_csv(api, group, CSV))
    assert (again["imported"], again["existing"]) == (0, 2)
    assert again["lead_ids"] == first["lead_ids"]


def test_a_person_in_two_groups_is_one_lead(api):
    run = api.run()
    one, two = api.group(run, "one"), api.group(run, "two")
    first = api.import_leads(one, [{"email": "Ada@Example.com", "first_name": "Ada"}])
    second = api.import_leads(two, [{"email": "ada@example.com", "company": "Engines"}])
    assert first["imported"] == 1 and (second["imported"], second["existing"]) == (0, 1)
    assert first["lead_ids"] == second["lead_ids"]


def test_json_rows_are_checked_one_by_one(api):
    group = api.group(api.run())
    result = api.import_leads(
        group,
        [
            {"email": "ada@example.com", "timezone": "Europe/London"},
            {"email": "x@example.com", "shoe_size": "9"},
            "not an object",
            {"email": "   ", "linkedin_url": ""},
            {"email": "tz@example.com", "timezone": "Mars/Base"},
            {"email": "n@example.com", "company": 5},
        ],
    )
    assert result["imported"] == 1
    assert [(r["row"], r["code"]) for r in result["rejected"]] == [
        (2, "unknown_field"),
        (3, "not_an_object"),
        (4, "missing_contact"),
        (5, "invalid_timezone"),
        (6, "invalid_field"),
    ]


def test_an_import_where_every_row_is_rejected_still_answers_200(api):
    group = api.group(api.run())
    result = api.import_leads(group, [{"first_name": "No contact"}, {"email": "nope"}])
    assert (result["imported"], result["existing"], result["lead_ids"]) == (0, 0, [])
    assert len(result["rejected"]) == 2
    empty = api.import_leads(group, [])
    assert (empty["imported"], empty["rejected"]) == (0, [])


def test_a_broken_csv_is_refused_whole(api):
    group = api.group(api.run())
    assert_problem(_csv(api, group, b'email,first_name\n"ada@example.com,Ada\n'), 422, "invalid_value")  # open quote
    assert_problem(_csv(api, group, b"shoe_size,hat\n9,big\n"), 422, "invalid_value")  # no lead field at all
    assert_problem(_csv(api, group, b""), 422, "invalid_value")
    assert_problem(_csv(api, group, b"email,email\na@example.com,b@example.com\n"), 422, "invalid_value")
    twice = assert_problem(_csv(api, group, b"Email,E-mail\na@example.com,b@example.com\n"), 422, "invalid_value")
    assert "'Email' and 'E-mail' both name email" in twice["detail"]


def test_a_csv_that_is_not_utf8_is_refused(api):
    group = api.group(api.run())
    latin1 = "email,first_name\nzoe@example.com,Zoë\n".encode("latin-1")
    body = assert_problem(_csv(api, group, latin1), 422, "invalid_value")
    assert "UTF-8" in body["detail"]
    assert_problem(_csv(api, group, b"\xff\xfe\x00e\x00m"), 422, "invalid_value")
    assert_problem(_csv(api, group, latin1, "text/csv; charset=latin-1"), 415, "unsupported_media_type")


def test_a_csv_with_a_utf8_bom_and_charset_is_read(api):
    group = api.group(api.run())
    body = "\ufeffemail,first_name\nzoe@example.com,Zoë\n".encode()
    assert api.ok(_csv(api, group, body, "text/csv; charset=UTF-8"))["imported"] == 1


def test_other_media_types_are_refused_with_415(api):
    group = api.group(api.run())
    assert_problem(_csv(api, group, b"email\na@example.com\n", "text/plain"), 415, "unsupported_media_type")
    assert_problem(_csv(api, group, b"leads=1", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    no_type = api.client.post(
        f"/v1/source-groups/{group}/leads", content=b"email\na@example.com\n", headers=api.headers
    )
    assert_problem(no_type, 415, "unsupported_media_type")


def test_a_json_import_body_must_be_an_object_with_leads(api):
    group = api.group(api.run())
    assert_problem(_csv(api, group, b'{"leads": ', "application/json"), 422, "invalid_json")
    assert_problem(_csv(api, group, b"[]", "application/json"), 422, "invalid_request")
    assert_problem(_csv(api, group, b'{"leads": {}}', "application/json"), 422, "invalid_request")
    body = assert_problem(_csv(api, group, b'{"leads": [], "extra": 1}', "application/json"), 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["body", "extra"]


def test_text_with_nul_characters_never_reaches_the_event_store(api, catch_up):
    group = api.group(api.run())
    result = api.import_leads(group, [{"email": "a@example.com", "company": "Bad\u0000Co"}])
    assert result["rejected"][0]["code"] == "invalid_field"
    assert_problem(api.post("/v1/runs", json={"name": "a\u0000b"}), 422, "invalid_request")
    catch_up()  # the read models still apply everything


SPREADSHEET = (
    b"First Name,Last Name,E-mail,LinkedIn,Company Name,Job Title, Time zone ,COUNTRY,Industry\n"
    b"Kenji,Sato,kenji@example.jp,,Sato Shoji,CEO,,Japan,Trade\n"
    b"Ada,Lovelace,ada@example.com,https://www.linkedin.com/in/ada,Engines,CTO,europe/london,UK,Compute\n"
    b"Grace,Hopper,grace@example.com,,Navy,Admiral,,United States,Defence\n"
    b"Max,Muster,max@example.de,,Muster GmbH,,,Deutschland,Retail\n"
    b"Sam,Smith,sam@example.com,,Smith Co,,,USA,Retail\n"
    b"Nils,Nowhere,nils@example.com,,,,,Narnia,\n"
)


def test_a_spreadsheet_csv_is_read_by_its_usual_headers_and_country_names(api, services):
    group = api.group(api.run())
    result = api.ok(_csv(api, group, SPREADSHEET))
    assert (result["imported"], result["ignored_columns"]) == (5, ["Industry"])
    assert result["rejected"] == [
        {
            "row": 6,
            "code": "invalid_country",
            "detail": "unknown country: 'Narnia' (write its name, like Japan, or ISO code, JP)",
        }
    ]
    leads = [services.events.get(UUID(i), Lead, api.workspace_id).details for i in result["lead_ids"]]
    assert [lead["country"] for lead in leads] == ["JP", "GB", "US", "DE", "US"]
    assert leads[0] == {
        "first_name": "Kenji",
        "last_name": "Sato",
        "email": "kenji@example.jp",
        "company": "Sato Shoji",
        "title": "CEO",
        "country": "JP",
    }
    assert (leads[1]["linkedin_url"], leads[1]["timezone"]) == ("https://www.linkedin.com/in/ada", "Europe/London")


def test_control_characters_in_csv_cells_are_cleaned_before_they_are_recorded(api, services):
    group = api.group(api.run())
    body = b"email,company,first_name\nnul@example.com,Bad\x00Co,Li\x07n\n"
    result = api.ok(_csv(api, group, body))
    assert (result["imported"], result["rejected"]) == (1, [])
    lead = services.events.get(UUID(result["lead_ids"][0]), Lead, api.workspace_id)
    assert (lead.details["company"], lead.details["first_name"]) == ("BadCo", "Lin")


def _event_count(services) -> int:
    with services.db.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM plera_events").fetchone()
    return int(row[0])


def test_a_dry_run_answers_what_an_import_would_do_and_records_nothing(api, services):
    group = api.group(api.run())
    api.import_leads(group, [{"email": "grace@example.com", "first_name": "Grace"}])  # already known
    before = _event_count(services)

    dry = api.ok(
        api.post(
            f"/v1/source-groups/{group}/leads",
            params={"dry_run": "true"},
            content=SPREADSHEET + b"Kenji,Sato,KENJI@example.jp,,,,,JP,\n",  # the same person again
            headers={"Content-Type": "text/csv"},
        )
    )
    assert (dry["dry_run"], dry["imported"], dry["existing"], len(dry["rejected"])) == (True, 4, 2, 1)
    assert _event_count(services) == before

    real = api.ok(_csv(api, group, SPREADSHEET + b"Kenji,Sato,KENJI@example.jp,,,,,JP,\n"))
    assert (real["dry_run"], real["imported"], real["existing"]) == (False, 4, 2)
    assert real["lead_ids"] == dry["lead_ids"] and real["rejected"] == dry["rejected"]
    assert _event_count(services) > before
