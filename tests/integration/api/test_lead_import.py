from tests.integration.api.conftest import assert_problem

CSV = (
    b"first_name,last_name,email,linkedin_url,company,country\n"
    b"Ada,Lovelace,ada@example.com,,Analytical Engines,gb\n"
    b"Grace,Hopper,,https://www.linkedin.com/in/ghopper/,Navy,US\n"
    b"Nobody,,,,,\n"
    b"Bad,Mail,not-an-email,,,\n"
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
        {"row": 4, "code": "invalid_email", "detail": "not an email address: 'not-an-email'"},
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
    assert_problem(_csv(api, group, b"email,shoe_size\na@example.com,9\n"), 422, "invalid_value")
    assert_problem(_csv(api, group, b""), 422, "invalid_value")
    assert_problem(_csv(api, group, b"email,email\na@example.com,b@example.com\n"), 422, "invalid_value")


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
