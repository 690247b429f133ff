"""Leads: one row per person, and the source groups each belongs to.

The drill-down's names, the timeline's header, and the Messaging Lab's previews and readiness
counts read them (lead_data.py).

Guarded by the lead's version, so redelivery changes nothing. Other read models join this
table at query time rather than copying names, so a lead's events may arrive in any order
relative to its enrollments'.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor

from plera.envelope import Envelope
from plera.projections.batch import CHUNK, BatchBuffer, columns
from plera.projections.registry import Projection

leads = Projection(
    name="leads",
    ddl=[
        "CREATE TABLE IF NOT EXISTS leads ("
        " id uuid PRIMARY KEY, workspace_id uuid NOT NULL,"
        " first_name text, last_name text,"
        " name text GENERATED ALWAYS AS"
        " (nullif(btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), '')) STORED,"
        " company text, title text, email text, linkedin_url text, phone text, country text, city text,"
        " timezone text, version int NOT NULL)",
        "CREATE INDEX IF NOT EXISTS leads_workspace_idx ON leads (workspace_id)",
        # Inbound mail finds its lead by the sender's address (commands/email_inbound.py).
        "CREATE INDEX IF NOT EXISTS leads_email_idx ON leads (workspace_id, lower(btrim(email)))",
        # Membership only grows, and a row is its own fact: redelivery inserts nothing.
        "CREATE TABLE IF NOT EXISTS lead_groups ("
        " source_group_id uuid NOT NULL, lead_id uuid NOT NULL, PRIMARY KEY (source_group_id, lead_id))",
    ],
)

_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "linkedin_url",
    "phone",
    "country",
    "city",
    "timezone",
)

# New leads are inserted together, CHUNK at a time, when the batch ends, or before any update that may touch them.
_imported: BatchBuffer[list[tuple[Any, ...]]] = BatchBuffer(list)


@leads.handles("lead", "LeadImported")
def _lead_imported(cur: Cursor, e: Envelope) -> None:
    details = e.payload["details"]
    imported = _imported.of(cur)
    imported.append((e.aggregate_id, e.workspace_id, *(details.get(c) for c in _COLUMNS), e.aggregate_version))
    if len(imported) >= CHUNK:
        _insert_imported(cur)


def _insert_imported(cur: Cursor) -> None:
    rows = _imported.take(cur)
    if rows:
        cur.execute(
            "INSERT INTO leads (id, workspace_id, first_name, last_name, company, title, email, linkedin_url, phone,"
            " country, city, timezone, version)"
            " SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[],"
            " %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::int[])"
            " ON CONFLICT (id) DO NOTHING",
            columns(rows),
        )


leads.finish = _insert_imported


@leads.handles("lead", "LeadAddedToGroup")
def _lead_added(cur: Cursor, e: Envelope) -> None:
    # `filled` holds only fields the lead lacked, so a present value always wins.
    filled = e.payload["filled"]
    _insert_imported(cur)
    cur.execute(
        "UPDATE leads SET first_name = coalesce(%s, first_name), last_name = coalesce(%s, last_name),"
        " company = coalesce(%s, company), title = coalesce(%s, title), email = coalesce(%s, email),"
        " linkedin_url = coalesce(%s, linkedin_url), phone = coalesce(%s, phone), country = coalesce(%s, country),"
        " city = coalesce(%s, city), timezone = coalesce(%s, timezone), version = %s WHERE id = %s AND version < %s",
        (*(filled.get(c) for c in _COLUMNS), e.aggregate_version, e.aggregate_id, e.aggregate_version),
    )


@leads.handles("source_group", "LeadsAdded")
def _group_leads(cur: Cursor, e: Envelope) -> None:
    cur.execute(
        "INSERT INTO lead_groups (source_group_id, lead_id) SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING",
        (e.aggregate_id, e.payload["lead_ids"]),
    )


# ---- queries


def get_lead(conn: Connection, workspace_id: UUID, lead_id: UUID) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, name, first_name, last_name, company, title, email, linkedin_url FROM read.leads"
        " WHERE workspace_id = %s AND id = %s",
        (workspace_id, lead_id),
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "name", "first_name", "last_name", "company", "title", "email", "linkedin_url")
    return {k: (str(v) if k == "id" else v) for k, v in zip(keys, row, strict=True)}
