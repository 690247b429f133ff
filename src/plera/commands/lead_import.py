"""Reading lead rows from JSON or CSV: every bad row is reported with its number, code and detail.

Imports forgive what people write: CSV headers are matched without regard to case, spaces, dashes
and underscores, with the usual names from spreadsheets and CRM exports ("E-mail", "Company Name");
columns that name no lead field are left out and reported; a country may be a name or an alias
(plera.countries) and is kept as its ISO code; a zone may be spelled in any case. CSV cells are raw
outside text, so they are cleaned (plera.text.clean_line); JSON fields are refused instead, since
the sender can correct them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import LEAD_FIELDS
from plera.commands.models import email_address
from plera.countries import country_code
from plera.scheduling.zones import valid_zone
from plera.text import clean_line

_MAX_FIELD = 500
_MAX_IGNORED = 50  # headers reported as left out
_MAX_HEADER = 200  # a header cell longer than this names no field, and is not repeated back in full

# Header names as spreadsheets and CRM exports write them, by their key (see _header_key).
HEADER_ALIASES = {
    "first_name": ("first", "firstname", "givenname", "forename"),
    "last_name": ("last", "lastname", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail", "workemail", "businessemail"),
    "linkedin_url": ("linkedin", "linkedinurl", "linkedinprofile", "linkedinprofileurl", "profileurl"),
    "company": ("company", "companyname", "organization", "organisation", "employer", "accountname"),
    "title": ("title", "jobtitle", "position", "role"),
    "phone": ("phone", "phonenumber", "telephone", "mobile", "mobilephone", "tel"),
    "country": ("country", "countrycode"),
    "city": ("city", "town"),
    "timezone": ("timezone", "tz", "zone"),
}


@dataclass(frozen=True)
class Rejection:
    row: int
    code: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "code": self.code, "detail": self.detail}


@dataclass
class ParsedRows:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # CSV headers that name no lead field


def _header_key(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


_FIELD_OF_HEADER = {_header_key(f): f for f in LEAD_FIELDS} | {
    alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases
}


def field_of_header(header: str) -> str | None:
    """The lead field a CSV header names ("First Name", "E-mail", "Time zone"), or None."""
    return _FIELD_OF_HEADER.get(_header_key(header))


def parse_csv(body: bytes) -> ParsedRows:
    """CSV with a header row of lead fields. Undecodable bytes or a broken file refuse the whole import."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidValue(f"the CSV is not UTF-8 (byte {e.start} cannot be read)") from None
    reader = csv_reader(io.StringIO(text, newline=""))
    with csv_errors(reader):
        header = read_header(reader)
        raw: list[tuple[int, dict[str, Any]]] = []
        rejected: list[Rejection] = []
        for number, _, cells in csv_records(reader, header.names):
            if isinstance(cells, Rejection):
                rejected.append(cells)
            else:
                raw.append((number, cells))
    parsed = parse_rows(raw)
    parsed.rejected = sorted(parsed.rejected + rejected, key=lambda r: r.row)
    parsed.ignored_columns = header.ignored
    return parsed


@dataclass(frozen=True)
class CsvHeader:
    cells: list[str]  # as written, to repeat beside rejected rows
    names: list[str | None]  # the lead field of each column (None: left out)
    ignored: list[str]  # the headers left out (the first _MAX_IGNORED)


def csv_reader(lines: Iterable[str]) -> Iterator[list[str]]:
    """The reader both import paths use: the whole body in memory, or a job's file streamed (import_jobs)."""
    return csv.reader(lines, strict=True)


@contextmanager
def csv_errors(reader: Any) -> Iterator[None]:
    """A broken file (a stray quote) refuses the whole import, naming its line."""
    try:
        yield
    except csv.Error as e:
        raise InvalidValue(f"the CSV is malformed at line {reader.line_num}: {e}") from None


def read_header(reader: Iterator[list[str]]) -> CsvHeader:
    header = next(reader, None)
    if not header:
        raise InvalidValue("the CSV is empty: it needs a header row naming the lead fields")
    names, ignored = _columns(header)
    return CsvHeader(header, names, ignored)


Record = tuple[int, list[str], "dict[str, str] | Rejection"]


def csv_records(reader: Iterator[list[str]], names: list[str | None], start: int = 1) -> Iterator[Record]:
    """Each data row (numbered from `start`): its cells as written, and its cleaned fields by name, or
    why it cannot be a row (empty, or not as many cells as the header). parse_rows checks the fields."""
    for number, values in enumerate(reader, start=start):
        if not any(v.strip() for v in values):
            yield number, values, Rejection(number, "empty_row", "the row is empty")
        elif len(values) != len(names):
            detail = f"the row has {len(values)} fields, the header {len(names)}"
            yield number, values, Rejection(number, "malformed_row", detail)
        else:
            cells = zip(names, values, strict=True)
            yield number, values, {name: clean_line(value) for name, value in cells if name is not None}


def _columns(header: list[str]) -> tuple[list[str | None], list[str]]:
    """The lead field of each column (None: left out), and the headers left out."""
    names: list[str | None] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for cell in header:
        text = clean_line(cell).strip()[:_MAX_HEADER]
        name = field_of_header(text)
        if name is None:
            if text and len(ignored) < _MAX_IGNORED:
                ignored.append(text)
        elif name in seen:
            raise InvalidValue(f"the CSV columns {seen[name]!r} and {text!r} both name {name}")
        else:
            seen[name] = text
        names.append(name)
    if not seen:
        known = ", ".join(LEAD_FIELDS)
        raise InvalidValue(f"no CSV column names a lead field: the header needs some of {known}")
    return names, ignored


def parse_json_rows(leads: list[Any]) -> ParsedRows:
    return parse_rows(list(enumerate(leads, start=1)))


def parse_rows(raw: list[tuple[int, Any]]) -> ParsedRows:
    out = ParsedRows()
    for number, row in raw:
        try:
            out.rows.append((number, clean_row(row)))
        except RowError as e:
            out.rejected.append(Rejection(number, e.code, e.detail))
    return out


class RowError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def clean_row(row: Any) -> dict[str, str]:
    """One lead row, with blanks dropped (blank counts as missing) and each field checked."""
    if not isinstance(row, dict):
        raise RowError("not_an_object", "a lead row is an object of lead fields")
    unknown = [k for k in row if k not in LEAD_FIELDS]
    if unknown:
        raise RowError("unknown_field", f"unknown fields: {', '.join(map(str, unknown))}")
    clean: dict[str, str] = {}
    for name, value in row.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise RowError("invalid_field", f"{name} must be text")
        if "\x00" in value:
            raise RowError("invalid_field", f"{name} contains a NUL character")
        value = value.strip()
        if len(value) > _MAX_FIELD:
            raise RowError("field_too_long", f"{name} is longer than {_MAX_FIELD} characters")
        if value:
            clean[name] = value
    _check_contact(clean)
    return clean


def _check_contact(row: dict[str, str]) -> None:
    if "email" not in row and "linkedin_url" not in row:
        raise RowError("missing_contact", "a lead needs an email or a LinkedIn URL")
    if "email" in row:
        try:  # the same rule as the API's address fields: exactly one mailbox
            row["email"] = email_address(row["email"])
        except ValueError as e:
            reason = str(e).removeprefix("not one email address: ")
            raise RowError("invalid_email", f"not an email address: {row['email']!r} ({reason})") from None
    if "linkedin_url" in row and "linkedin.com/" not in row["linkedin_url"].lower():
        raise RowError("invalid_linkedin_url", f"not a LinkedIn profile URL: {row['linkedin_url']!r}")
    if "timezone" in row:
        zone = valid_zone(row["timezone"])
        if zone is None:
            raise RowError("invalid_timezone", f"unknown IANA time zone: {row['timezone']!r}")
        row["timezone"] = zone
    if "country" in row:
        code = country_code(row["country"])
        if code is None:
            raise RowError(
                "invalid_country", f"unknown country: {row['country']!r} (write its name, like Japan, or ISO code, JP)"
            )
        row["country"] = code
