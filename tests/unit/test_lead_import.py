"""Reading lead rows: CSV headers as people write them, and countries as names or codes."""

import pytest

from plera.aggregates.errors import InvalidValue
from plera.commands.lead_import import field_of_header, parse_csv, parse_json_rows


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("first_name", "first_name"),
        ("First Name", "first_name"),
        ("FIRSTNAME", "first_name"),
        ("Surname", "last_name"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("LinkedIn", "linkedin_url"),
        ("LinkedIn Profile URL", "linkedin_url"),
        ("Company Name", "company"),
        ("Job Title", "title"),
        (" Time zone ", "timezone"),
        ("Phone Number", "phone"),
        ("Shoe size", None),
    ],
)
def test_a_csv_header_is_read_in_any_case_and_spacing_and_by_its_usual_names(header, field):
    assert field_of_header(header) == field


@pytest.mark.parametrize(
    ("written", "code"),
    [("Japan", "JP"), ("United States", "US"), ("USA", "US"), ("UK", "GB"), ("Deutschland", "DE"), ("fr", "FR")],
)
def test_a_country_is_kept_as_its_iso_code(written, code):
    parsed = parse_json_rows([{"email": "a@example.com", "country": written}])
    assert parsed.rows == [(1, {"email": "a@example.com", "country": code})]


def test_a_zone_in_any_case_is_kept_as_the_database_spells_it():
    parsed = parse_json_rows([{"email": "a@example.com", "timezone": "asia/tokyo"}])
    assert parsed.rows[0][1]["timezone"] == "Asia/Tokyo"


def test_columns_that_name_no_lead_field_are_left_out_and_reported():
    parsed = parse_csv(b"Email,Notes,,First Name\na@example.com,likes tea,x,Ada\n")
    assert parsed.rows == [(1, {"email": "a@example.com", "first_name": "Ada"})]
    assert parsed.ignored_columns == ["Notes"]


def test_a_csv_naming_no_lead_field_is_refused():
    with pytest.raises(InvalidValue, match="no CSV column names a lead field"):
        parse_csv(b"Notes,Shoe size\nx,9\n")
