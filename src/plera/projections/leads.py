"""Leads: one row per person, and the source groups each belongs to.

The drill-down's names, the timeline's header, and the Messaging Lab's previews and readiness
counts read them (lead_data.py).

Guarded by the lead's version, so redelivery changes nothing. Other read models join this
table at query time rather than copying names, so a lead's events may arrive in any order
relative to its enrollments'.

A group's leads are listed in the order they joined it, and searched by a part of the name, email
or company (`search`, lower case). A substring needs pg_trgm to be found by index: the DDL
installs the extension when the server has it and lets us, and indexes `search` with it;
without it, the same query walks the group's leads in list order, so a search with many hits
still ends at its page, while a rare one reads the whole group (docs/decisions/0012-lead-search.md).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor, sql

from plera.envelope import Envelope
from plera.projections.batch import CHUNK, BatchBuffer, columns
from plera.projections.paging import decode_position, encode_position
from plera.projections.registry import Projection

# Installing pg_trgm may fail (not shipped with the server, or not ours to install): the search then
# goes without its index. Where it is installed already, in whatever schema, its operator class is used.
_TRIGRAM_INDEX = """DO $$
DECLARE trgm text;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): lead search goes without its index', SQLERRM;
  END;
  SELECT n.nspname INTO trgm FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';
  IF trgm IS NOT NULL THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS leads_search_idx ON leads USING gin (search %I.gin_trgm_ops)', trgm);
  END IF;
END $$"""

leads = Projection(
    name="leads",
    ddl=[
        "CREATE TABLE IF NOT EXISTS leads ("
        " id uuid PRIMARY KEY, workspace_id uuid NOT NULL,"
        " first_name text, last_name text,"
        " name text GENERATED ALWAYS AS"
        " (nullif(btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), '')) STORED,"
        " company text, title text, email text, linkedin_url text, phone text, country text, city text,"
        " timezone text, version int NOT NULL,"
        " search text GENERATED ALWAYS AS (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')"
        " || ' ' || coalesce(email, '') || ' ' || coalesce(company, ''))) STORED)",
        "CREATE INDEX IF NOT EXISTS leads_workspace_idx ON leads (workspace_id)",
        _TRIGRAM_INDEX,
        # Inbound mail finds its lead by the sender's address (commands/email_inbound.py).
        "CREATE INDEX IF NOT EXISTS leads_email_idx ON leads (workspace_id, lower(btrim(email)))",
        # Membership only grows, and a row is its own fact: redelivery inserts nothing.
        "CREATE TABLE IF NOT EXISTS lead_groups ("
        " source_group_id uuid NOT NULL, lead_id uuid NOT NULL, added_at timestamptz NOT NULL,"
        " position bigint NOT NULL, PRIMARY KEY (source_group_id, lead_id))",
        "CREATE INDEX IF NOT EXISTS lead_groups_list_idx ON lead_groups (source_group_id, position)",
        "CREATE INDEX IF NOT EXISTS lead_groups_lead_idx ON lead_groups (lead_id)",
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
    # The list's order: the group's version, then the place in the event (an import's row order).
    cur.execute(
        "INSERT INTO lead_groups (source_group_id, lead_id, added_at, position)"
        " SELECT %s, lead_id, %s, (%s::bigint << 32) + n FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(lead_id, n)"
        " ON CONFLICT DO NOTHING",
        (e.aggregate_id, e.occurred_at, e.aggregate_version, e.payload["lead_ids"]),
    )


# ---- queries

_SELECT = "l.id, l.name, " + ", ".join(f"l.{c}" for c in _COLUMNS)
MAX_QUERY = 200


def _lead(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": str(row[0]), "name": row[1], **dict(zip(_COLUMNS, row[2 : 2 + len(_COLUMNS)], strict=True))}


def get_lead(conn: Connection, workspace_id: UUID, lead_id: UUID) -> dict[str, Any] | None:
    """The lead's fields and name (first and last, None when it has neither), or None when not the workspace's."""
    row = conn.execute(
        f"SELECT {_SELECT} FROM read.leads l WHERE l.workspace_id = %s AND l.id = %s", (workspace_id, lead_id)
    ).fetchone()
    return None if row is None else _lead(row)


def group_leads(
    conn: Connection, workspace_id: UUID, group_id: UUID, *, q: str | None, limit: int, cursor: str | None
) -> dict[str, Any] | None:
    """A page of the group's leads in the order they joined it, as {items, next_cursor}; with `q`, only
    those whose name, email or company contains it (any case). None when the group is not the workspace's."""
    known = conn.execute(
        "SELECT 1 FROM read.catalog WHERE id = %s AND workspace_id = %s AND kind = 'source_group'",
        (group_id, workspace_id),
    ).fetchone()
    if known is None:
        return None
    where = [sql.SQL("g.source_group_id = %s AND l.workspace_id = %s")]
    params: list[Any] = [group_id, workspace_id]
    words = " ".join((q or "").split())
    if words:
        where.append(sql.SQL("l.search LIKE lower(%s)"))
        params.append(f"%{_like_escaped(words)}%")
    if cursor:
        where.append(sql.SQL("g.position > %s"))
        params.append(decode_position(cursor))
    query = sql.SQL(
        "SELECT " + _SELECT + ", g.added_at, g.position FROM read.lead_groups g JOIN read.leads l ON l.id = g.lead_id"
        " WHERE {} ORDER BY g.position LIMIT %s"
    ).format(sql.SQL(" AND ").join(where))
    # Never prepared: planned each time with the pattern at hand, which decides whether the trigram
    # index (a rare match) or the group's list order (a common one, or a short text) is faster.
    rows = conn.execute(query, [*params, limit + 1], prepare=False).fetchall()
    items = [_lead(r) | {"added_at": r[-2].isoformat()} for r in rows[:limit]]
    next_cursor = encode_position(rows[limit - 1][-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def groups_of_lead(conn: Connection, workspace_id: UUID, lead_id: UUID) -> list[dict[str, Any]]:
    """The source groups the lead came from, in the order it joined them (at one instant, older groups first)."""
    rows = conn.execute(
        "SELECT c.id, c.name, c.parent_id, g.added_at FROM read.lead_groups g"
        " JOIN read.catalog c ON c.id = g.source_group_id AND c.kind = 'source_group'"
        " WHERE g.lead_id = %s AND c.workspace_id = %s ORDER BY g.added_at, c.created_at, c.id",
        (lead_id, workspace_id),
    ).fetchall()
    return [{"id": str(r[0]), "name": r[1], "run_id": str(r[2]), "added_at": r[3].isoformat()} for r in rows]


def enrollments_of_lead(conn: Connection, workspace_id: UUID, lead_id: UUID) -> list[dict[str, Any]]:
    """The lead's enrollments, oldest first, with their sequence's name and the channel of the next step."""
    rows = conn.execute(
        "SELECT e.id, e.sequence_id, c.name, e.status, e.stop_reason, e.next_step,"
        " c.data->'steps'->(e.next_step - 1)->>'channel', e.next_send_at, e.enrolled_at, e.last_event_at"
        " FROM read.enrollments e LEFT JOIN read.catalog c ON c.id = e.sequence_id"
        " WHERE e.lead_id = %s AND e.workspace_id = %s ORDER BY e.enrolled_at, e.id",
        (lead_id, workspace_id),
    ).fetchall()
    return [
        {
            "id": str(r[0]),
            "sequence_id": str(r[1]),
            "sequence_name": r[2],
            "status": r[3],
            "stop_reason": r[4],
            "next_step": r[5],
            "next_channel": r[6],
            "next_send_at": r[7].isoformat() if r[7] else None,
            "enrolled_at": r[8].isoformat(),
            "last_event_at": r[9].isoformat(),
        }
        for r in rows
    ]
