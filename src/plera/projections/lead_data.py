"""The leads of a sequence, as the Messaging Lab reads them: rows for previews, counts for readiness.

A sequence's leads are those of its source groups that are enriched (eligible), from the leads
and catalog read models. Counting happens in SQL, so readiness on 10,000 leads is one query.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection, sql

from plera.messaging.readiness import LeadCounts, LeadQuestions
from plera.messaging.rendered_lengths import Group, Grouping
from plera.messaging.templates import LEAD_FIELDS

ROW_FIELDS = ("first_name", "last_name", "company", "title", "city", "country", "email", "linkedin_url", "timezone")

# A semi-join rather than DISTINCT over the join: a lead in two groups is one row either way, and
# DISTINCT sorted every whole row (0.6 s against 0.3 s at 225,000 leads).
_LEADS = (
    "SELECT l.* FROM read.leads l WHERE l.id IN (SELECT g.lead_id FROM read.lead_groups g"
    " JOIN read.catalog c ON c.id = g.source_group_id AND c.kind = 'source_group' AND c.status = 'enriched'"
    " WHERE c.workspace_id = %(ws)s AND g.source_group_id = ANY(%(groups)s))"
)


def _blank(column: str) -> sql.Composable:
    return sql.SQL("nullif(btrim({}), '') IS NULL").format(sql.Identifier(column))


def lead_counts(conn: Connection, workspace_id: UUID, group_ids: list[UUID], asked: LeadQuestions) -> LeadCounts:
    """How many eligible leads there are, lack an address, and answer each question."""
    columns: list[sql.Composable] = [
        sql.SQL("count(*)"),
        sql.SQL("count(*) FILTER (WHERE {})").format(_blank("email")),
        sql.SQL("count(*) FILTER (WHERE {})").format(_blank("linkedin_url")),
    ]
    params: dict[str, Any] = {"ws": workspace_id, "groups": group_ids}
    names: list[str] = []
    for name, fields in asked.empty_any.items():
        any_blank = sql.SQL(" OR ").join(_blank(_field(f)) for f in sorted(fields))
        columns.append(sql.SQL("count(*) FILTER (WHERE {})").format(any_blank))
        names.append(name)
    for n, check in enumerate(asked.lengths):
        terms: list[sql.Composable] = [sql.Literal(check.constant)]
        for i, (lead_field, fallback) in enumerate(check.fields):
            params[f"f{n}_{i}"] = fallback
            terms.append(
                sql.SQL("length(coalesce(nullif(btrim({}), ''), {}))").format(
                    sql.Identifier(_field(lead_field)), sql.Placeholder(f"f{n}_{i}")
                )
            )
        columns.append(
            sql.SQL("count(*) FILTER (WHERE {} > {})").format(sql.SQL(" + ").join(terms), sql.Literal(check.limit))
        )
        names.append(check.name)
    for lead_field in LEAD_FIELDS:  # the longest value of each field, for the size bound of templates
        # max of the value behind its zero-padded length: the longest wins in one pass, where an
        # array_agg ordered by length sorted every lead's value (six sorts of 225,000, seconds)
        columns.append(
            sql.SQL(
                "substr(max(lpad(length(btrim({0}))::text, 10, '0') || nullif(btrim({0}), '') COLLATE \"C\"), 11)"
            ).format(sql.Identifier(lead_field))
        )
    query = sql.SQL("SELECT {} FROM (" + _LEADS + ") l").format(sql.SQL(", ").join(columns))
    row = conn.execute(query, params).fetchone()
    assert row is not None
    total, no_email, no_linkedin, *rest = row
    answers, longest = rest[: len(names)], rest[len(names) :]
    return LeadCounts(
        total,
        no_email,
        no_linkedin,
        dict(zip(names, answers, strict=True)),
        longest={f: v for f, v in zip(LEAD_FIELDS, longest, strict=True) if v is not None},
    )


def lead_groups_of(
    conn: Connection, workspace_id: UUID, group_ids: list[UUID], asked: dict[str, Grouping], *, address: str
) -> dict[str, list[Group]]:
    """Eligible leads with the address, grouped as each name asks, with how many leads each group has.

    The groupings are GROUPING SETS of one query, so the leads are read once for all of them. One group a
    lead for a grouping `by_lead` (its sender is part of what it is grouped by): a query of its own."""
    params: dict[str, Any] = {"ws": workspace_id, "groups": group_ids}
    source = sql.SQL("FROM (" + _LEADS + ") l WHERE NOT {}").format(_blank(address))
    found: dict[str, list[Group]] = {name: [] for name in asked}
    for name, how in asked.items():
        if how.by_lead:
            values = [sql.Identifier(_field(field)) for field in how.fields]
            query = sql.SQL("SELECT {}, id {}").format(sql.SQL(", ").join([*values, sql.SQL("1")]), source)
            rows = conn.execute(query, params).fetchall()
            found[name] = [(dict(zip(how.fields, row, strict=False)), row[-1], 1) for row in rows]
    together = {name: how for name, how in asked.items() if not how.by_lead}
    if not together:
        return found
    # by value: the database is quicker at grouping values than at computing shapes (rendered_lengths does)
    columns = list(dict.fromkeys(field for how in together.values() for field in how.fields))
    sets = list(dict.fromkeys(tuple(columns.index(f) for f in how.fields) for how in together.values()))
    expressions = [sql.Identifier(_field(field)) for field in columns]

    def listed(indices: tuple[int, ...]) -> sql.Composable:
        return sql.SQL("({})").format(sql.SQL(", ").join(expressions[i] for i in indices))

    grouping = sql.SQL("GROUPING({})").format(sql.SQL(", ").join(expressions)) if expressions else sql.SQL("0")
    query = sql.SQL("SELECT {} {} GROUP BY GROUPING SETS ({})").format(
        sql.SQL(", ").join([*expressions, grouping, sql.SQL("count(*)")]), source, sql.SQL(", ").join(map(listed, sets))
    )
    rows = conn.execute(query, params).fetchall()
    for name, how in together.items():
        # GROUPING's bit is set for each column the row's set does not group by, the first column highest
        mask = sum(1 << (len(columns) - 1 - i) for i, field in enumerate(columns) if field not in how.fields)
        found[name] = [
            ({field: row[columns.index(field)] for field in how.fields}, None, row[-1])
            for row in rows
            if row[-2] == mask
        ]
    return found


def lead_rows(
    conn: Connection, workspace_id: UUID, group_ids: list[UUID], *, lead_ids: list[UUID] | None = None, limit: int
) -> list[dict[str, Any]]:
    """Eligible leads of the groups (these ones, when given), in id order."""
    rows = conn.execute(
        "SELECT id, " + ", ".join(ROW_FIELDS) + " FROM (" + _LEADS + ") l"
        " WHERE %(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s) ORDER BY id LIMIT %(limit)s",
        {"ws": workspace_id, "groups": group_ids, "ids": lead_ids, "limit": limit},
    ).fetchall()
    return [{"id": r[0], **dict(zip(ROW_FIELDS, r[1:], strict=True))} for r in rows]


def _field(name: str) -> str:
    if name not in LEAD_FIELDS:
        raise ValueError(f"not a lead field: {name}")
    return name
