"""Reading lead rows from JSON or CSV: every bad row is reported with its number, code and detail."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import LEAD_FIELDS

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_FIELD = 500


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


def parse_csv(body: bytes) -> ParsedRows:
    """CSV with a header row of lead fields. Undecodable bytes or a broken file refuse the whole import."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidValue(f"the CSV is not UTF-8 (byte {e.start} cannot be read)") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise InvalidValue("the CSV is empty: it needs a header row naming the lead fields")
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in LEAD_FIELDS]
        if unknown:
            raise InvalidValue(f"unknown CSV columns: {', '.join(unknown)}; known are {', '.join(LEAD_FIELDS)}")
        if len(set(names)) != len(names):
            raise InvalidValue("the CSV header names a column twice")
        raw: list[tuple[int, dict[str, Any]]] = []
        rejected: list[Rejection] = []
        for number, values in enumerate(reader, start=1):
            if not any(v.strip() for v in values):
                rejected.append(Rejection(number, "empty_row", "the row is empty"))
            elif len(values) != len(names):
                rejected.append(
                    Rejection(number, "malformed_row", f"the row has {len(values)} fields, the header {len(names)}")
                )
            else:
                raw.append((number, dict(zip(names, values, strict=True))))
    except csv.Error as e:
        raise InvalidValue(f"the CSV is malformed at line {reader.line_num}: {e}") from None
    parsed = parse_rows(raw)
    parsed.rejected = sorted(parsed.rejected + rejected, key=lambda r: r.row)
    return parsed


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
    if "email" in row and not _EMAIL.match(row["email"]):
        raise RowError("invalid_email", f"not an email address: {row['email']!r}")
    if "linkedin_url" in row and "linkedin.com/" not in row["linkedin_url"].lower():
        raise RowError("invalid_linkedin_url", f"not a LinkedIn profile URL: {row['linkedin_url']!r}")
    if "timezone" in row:
        try:
            ZoneInfo(row["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise RowError("invalid_timezone", f"unknown IANA time zone: {row['timezone']!r}") from None
    if "country" in row:
        country = row["country"]
        if len(country) != 2 or not country.isalpha():
            raise RowError("invalid_country", f"country is a two-letter ISO code, not {country!r}")
        row["country"] = country.upper()
