"""Countries as people write them, read as ISO 3166-1 alpha-2 codes.

The names come from pycountry's copy of the ISO 3166 data: the alpha-2 and alpha-3 codes, the name,
the common name ("Taiwan", "Bolivia") and the official name ("Federal Republic of Germany"). Case,
accents, dots and runs of spaces are ignored, so "U.S.A.", "usa" and "Côte d’Ivoire" are read.
`ALIASES` adds what ISO does not list but people write (UK, England, Holland) and the countries'
own names for themselves that leads' lists often carry (Deutschland, España). pycountry's fuzzy
search is not used: it guesses ("UK" matches Uganda and Ukraine too), and a wrong country silently
moves a lead's sending window, while an unknown one is reported and can be corrected.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

import pycountry

ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "united states of america": "US",
    "america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "nederland": "NL",
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "espana": "ES",
    "italia": "IT",
    "brasil": "BR",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "belgie": "BE",
    "belgique": "BE",
    "ceska republika": "CZ",
    "russia": "RU",
    "ivory coast": "CI",
    "turkey": "TR",
    "uae": "AE",
    "brunei": "BN",
    "democratic republic of the congo": "CD",
    "dr congo": "CD",
    "drc": "CD",
    "micronesia": "FM",
    "palestine": "PS",
    "palestinian territory": "PS",
    "vatican": "VA",
    "east timor": "TL",
    "timor leste": "TL",
    "falkland islands": "FK",
    "cocos islands": "CC",
    "saint martin": "MF",
    "sint maarten": "SX",
    "saint helena": "SH",
    "us virgin islands": "VI",
    "bonaire, saint eustatius and saba": "BQ",
    "kosovo": "XK",  # not in ISO 3166, but the code everyone uses, geonames' (so its zone) included
    "xk": "XK",
    "xkx": "XK",
}


def country_code(text: str | None) -> str | None:
    """The alpha-2 code of a country given by code, name or a common alias, or None when unknown."""
    if not text:
        return None
    return _code_of(text)


@lru_cache(maxsize=4096)  # an import asks for the same few countries on every row
def _code_of(text: str) -> str | None:
    return _codes().get(_key(text))


def _key(text: str) -> str:
    """Case, accents, dots and runs of spaces ignored; a typographic apostrophe reads as a plain one."""
    text = text.replace("’", "'").replace(".", "")
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


@cache
def _codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("official_name", "common_name", "name", "alpha_3", "alpha_2"):  # codes win
            value = getattr(country, attribute, None)
            if value:
                codes[_key(value)] = country.alpha_2
    return {_key(alias): code for alias, code in ALIASES.items()} | codes
