"""The recipient's zone, inferred from the lead's zone, city, phone or country, else the workspace's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plera.scheduling.policy import RecipientZone, recipient_zone, valid_zone
from plera.scheduling.zones import country_code, country_zone

WORKSPACE = "Europe/Lisbon"


def zone_of(
    timezone: str | None = None, city: str | None = None, country: str | None = None, phone: str | None = None
) -> RecipientZone:
    return recipient_zone(timezone=timezone, city=city, country=country, phone=phone, workspace_zone=WORKSPACE)


# ---- explicit


@pytest.mark.parametrize(
    ("given_zone", "zone"),
    [
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("  europe/berlin ", "Europe/Berlin"),
        ("UTC", "UTC"),
    ],
)
def test_an_explicit_zone_wins_spelled_as_the_database_spells_it(given_zone, zone):
    found = zone_of(timezone=given_zone, city="Sydney", country="AU", phone="+1 415 555 0100")

    assert found == RecipientZone(zone, "explicit")


@pytest.mark.parametrize(
    "given_zone", ["", "   ", "Mars/Olympus_Mons", "localtime", "America", "GMT+2", "../etc/passwd"]
)
def test_a_zone_that_is_no_zone_is_skipped(given_zone):
    assert zone_of(timezone=given_zone, city="Berlin", country="DE") == RecipientZone("Europe/Berlin", "city")


# ---- city


@pytest.mark.parametrize(
    ("city", "country", "zone"),
    [
        ("Mumbai", "IN", "Asia/Kolkata"),
        ("Berlin", "DE", "Europe/Berlin"),
        ("Sydney", "AU", "Australia/Sydney"),
        ("Perth", "AU", "Australia/Perth"),  # one city of a country with several zones
        ("Los Angeles", "US", "America/Los_Angeles"),
        ("New York", "US", "America/New_York"),  # an alternate name of New York City
        ("Portland", "US", "America/Los_Angeles"),  # Oregon's, the most populous, not Maine's
        ("San Francisco, CA", "US", "America/Los_Angeles"),
        ("São Paulo", "BR", "America/Sao_Paulo"),
        ("sao  paulo", "Brazil", "America/Sao_Paulo"),
        ("Köln", "DE", "Europe/Berlin"),
        ("Cologne", "Germany", "Europe/Berlin"),
        ("Frankfurt", "DE", "Europe/Berlin"),
        ("Bombay", "India", "Asia/Kolkata"),
        ("Winnipeg", "CA", "America/Winnipeg"),
        ("london", "gb", "Europe/London"),
        ("London", "CA", "America/Toronto"),  # London, Ontario
        ("Yekaterinburg", "RU", "Asia/Yekaterinburg"),
    ],
)
def test_a_city_with_its_country_gives_the_zone_of_the_most_populous_match_there(city, country, zone):
    assert zone_of(city=city, country=country) == RecipientZone(zone, "city")


@pytest.mark.parametrize(
    ("city", "zone"),
    [
        ("Paris", "Europe/Paris"),  # Paris, Texas is a hundred times smaller
        ("London", "Europe/London"),
        ("Kolkata", "Asia/Kolkata"),
        ("Tokyo", "Asia/Tokyo"),
        ("Kansas City", "America/Chicago"),  # two cities, one zone
    ],
)
def test_a_city_without_a_country_counts_when_one_zone_clearly_dominates(city, zone):
    assert zone_of(city=city) == RecipientZone(zone, "city")


@pytest.mark.parametrize("city", ["Cambridge", "Springfield", "Portland"])
def test_a_city_name_shared_by_comparable_places_in_several_zones_is_skipped(city):
    assert zone_of(city=city) == RecipientZone(WORKSPACE, "workspace")


def test_a_city_not_found_in_the_given_country_is_skipped_for_the_countrys_zone():
    assert zone_of(city="Mumbai", country="DE") == RecipientZone("Europe/Berlin", "country")


def test_a_city_comes_before_the_phone():
    assert zone_of(city="Berlin", country="DE", phone="+1 415 555 0100") == RecipientZone("Europe/Berlin", "city")


# ---- phone


@pytest.mark.parametrize(
    ("phone", "country", "zone"),
    [
        ("+1 415 555 0100", None, "America/Los_Angeles"),
        ("+1 (212) 555-0100", None, "America/New_York"),
        ("+44 20 7946 0958", None, "Europe/London"),
        ("+49 30 1234567", None, "Europe/Berlin"),
        ("+61 2 9374 4000", None, "Australia/Sydney"),
        ("(415) 555-0100", "US", "America/Los_Angeles"),  # national, read with the country
        ("030 1234567", "Germany", "Europe/Berlin"),
        ("+1 415 555 0100", "DE", "America/Los_Angeles"),  # before the country
    ],
)
def test_a_phone_number_gives_its_zone_when_it_maps_to_one(phone, country, zone):
    assert zone_of(phone=phone, country=country) == RecipientZone(zone, "phone")


@pytest.mark.parametrize(
    ("phone", "country"),
    [
        ("+1 800 555 0100", None),  # toll-free: every North American zone
        ("(415) 555-0100", None),  # national, with no country to read it by
        ("(415) 555-0100", "Narnia"),
        ("+1 000", None),
        ("call me", "US"),
        ("+", None),
    ],
)
def test_a_phone_number_without_a_single_zone_is_skipped(phone, country):
    assert zone_of(phone=phone, country=country) == RecipientZone(WORKSPACE, "workspace")


# ---- country


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("DE", "Europe/Berlin"),
        ("de", "Europe/Berlin"),
        ("DEU", "Europe/Berlin"),
        ("Germany", "Europe/Berlin"),
        ("IN", "Asia/Kolkata"),
        ("india", "Asia/Kolkata"),
        ("JP", "Asia/Tokyo"),
        ("UK", "Europe/London"),
        ("United Kingdom", "Europe/London"),
        ("FR", "Europe/Paris"),
        ("Switzerland", "Europe/Zurich"),
    ],
)
def test_a_country_with_one_zone_gives_that_zone(country, zone):
    assert zone_of(country=country) == RecipientZone(zone, "country")


@pytest.mark.parametrize("country", ["US", "United States", "USA", "AU", "Canada", "RU", "BR", "MX", "ES"])
def test_a_country_with_several_zones_falls_back_to_the_workspace(country):
    assert zone_of(country=country) == RecipientZone(WORKSPACE, "workspace")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("germany", "DE"),
        ("Deutschland", "DE"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("UK", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("Côte d’Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Korea", None),  # north or south: not guessed
        ("Narnia", None),
        ("XX", None),
    ],
)
def test_a_country_is_read_from_its_codes_names_and_common_aliases(text, code):
    assert country_code(text) == code


def test_country_zones_are_iana_zones():
    assert country_zone("DE") == "Europe/Berlin"
    assert country_zone(None) is None
    assert country_zone("XX") is None


# ---- the workspace


def test_garbage_everywhere_falls_back_to_the_workspace_zone():
    found = zone_of(timezone="Nowhere/Land", city="Xyzzyville", country="Narnia", phone="not a number")

    assert found == RecipientZone(WORKSPACE, "workspace")


def test_nothing_at_all_falls_back_to_the_workspace_zone():
    assert zone_of() == RecipientZone(WORKSPACE, "workspace")


def test_values_of_the_wrong_type_are_skipped():
    found = recipient_zone(timezone=42, city=["Berlin"], country=None, phone=4155550100, workspace_zone=WORKSPACE)  # type: ignore[arg-type]

    assert found == RecipientZone(WORKSPACE, "workspace")


def test_a_workspace_zone_that_is_no_zone_is_refused():
    with pytest.raises(ValueError):
        recipient_zone(timezone=None, city=None, country=None, phone=None, workspace_zone="Mars/Olympus_Mons")


@settings(max_examples=300, deadline=None)
@given(
    timezone=st.one_of(st.none(), st.text(max_size=40)),
    city=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["Berlin", "Paris", "Springfield"])),
    country=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["US", "DE", "Germany", "IN"])),
    phone=st.one_of(st.none(), st.text(alphabet="+0123456789 ()-x", max_size=25), st.text(max_size=25)),
)
def test_any_lead_data_gives_a_valid_zone_and_never_raises(timezone, city, country, phone):
    found = recipient_zone(timezone=timezone, city=city, country=country, phone=phone, workspace_zone=WORKSPACE)

    assert valid_zone(found.zone) == found.zone
