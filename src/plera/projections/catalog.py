"""The catalog: runs, source groups, sender accounts, strategy profiles and sequences, for lists.

One row per aggregate, updated only `WHERE version < :v`, so redelivery changes nothing.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor
from psycopg.types.json import Jsonb

from plera.envelope import Envelope
from plera.projections.registry import Projection

catalog = Projection(
    name="catalog",
    ddl=[
        "CREATE TABLE IF NOT EXISTS catalog ("
        " id uuid PRIMARY KEY, workspace_id uuid NOT NULL, kind text NOT NULL, parent_id uuid,"
        " name text NOT NULL, status text NOT NULL, data jsonb NOT NULL DEFAULT '{}',"
        " created_at timestamptz NOT NULL, version int NOT NULL)",
        "CREATE INDEX IF NOT EXISTS catalog_list_idx ON catalog (workspace_id, kind, created_at, id)",
    ],
)


def _insert(cur: Cursor, e: Envelope, *, kind: str, name: str, status: str, parent: Any, data: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO catalog (id, workspace_id, kind, parent_id, name, status, data, created_at, version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (e.aggregate_id, e.workspace_id, kind, parent, name, status, Jsonb(data), e.occurred_at, e.aggregate_version),
    )


def _update(
    cur: Cursor, e: Envelope, *, status: str | None = None, name: str | None = None, data: dict[str, Any] | None = None
) -> None:
    cur.execute(
        "UPDATE catalog SET status = coalesce(%s, status), name = coalesce(%s, name),"
        " data = data || %s, version = %s WHERE id = %s AND version < %s",
        (status, name, Jsonb(data or {}), e.aggregate_version, e.aggregate_id, e.aggregate_version),
    )


@catalog.handles("run", "RunCreated")
def _run_created(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    _insert(cur, e, kind="run", name=p["name"], status="active", parent=None, data={"play_id": p["play_id"]})


@catalog.handles("run", "RunArchived")
def _run_archived(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, status="archived")


@catalog.handles("source_group", "SourceGroupCreated")
def _group_created(cur: Cursor, e: Envelope) -> None:
    data = {"run_id": e.payload["run_id"], "enriched": False, "lead_count": 0}
    _insert(cur, e, kind="source_group", name=e.payload["name"], status="new", parent=e.payload["run_id"], data=data)


@catalog.handles("source_group", "SourceGroupEnriched")
def _group_enriched(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, status="enriched", data={"enriched": True})


@catalog.handles("source_group", "LeadsAdded")
def _group_leads(cur: Cursor, e: Envelope) -> None:
    cur.execute(
        "UPDATE catalog SET data = jsonb_set(data, '{lead_count}', to_jsonb((data->>'lead_count')::int + %s)),"
        " version = %s WHERE id = %s AND version < %s",
        (len(e.payload["lead_ids"]), e.aggregate_version, e.aggregate_id, e.aggregate_version),
    )


@catalog.handles("source_group", "SequenceAttached")
def _group_attached(cur: Cursor, e: Envelope) -> None:
    _update(cur, e)


@catalog.handles("sender_account", "SenderAccountAdded")
def _sender_added(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    data = {
        "channel": p["channel"],
        "address": p["address"],
        "signature": p["signature"],
        "daily_limit": p["daily_limit"],
        "weekly_invite_limit": p["weekly_invite_limit"],
        "premium": p["premium"],
        "paused_reason": None,
        "last_error": None,
        "verified_at": None,
        "account_id": (p.get("connection") or {}).get("account_id"),  # a LinkedIn provider's, for its webhooks
    }
    _insert(cur, e, kind="sender_account", name=p["name"], status="active", parent=None, data=data)


@catalog.handles("sender_account", "SenderPaused")
def _sender_paused(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, status="paused", data={"paused_reason": e.payload["reason"]})


@catalog.handles("sender_account", "SenderResumed")
def _sender_resumed(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, status="active", data={"paused_reason": None})


@catalog.handles("sender_account", "SenderVerified")
def _sender_verified(cur: Cursor, e: Envelope) -> None:
    # an unverified sender becomes active; a paused one stays paused (SenderAccount.verified)
    cur.execute(
        "UPDATE catalog SET status = CASE status WHEN 'unverified' THEN 'active' ELSE status END,"
        " data = data || %s, version = %s WHERE id = %s AND version < %s",
        (
            Jsonb({"last_error": None, "verified_at": e.occurred_at.isoformat()}),
            e.aggregate_version,
            e.aggregate_id,
            e.aggregate_version,
        ),
    )


@catalog.handles("sender_account", "SenderVerificationFailed")
def _sender_unverified(cur: Cursor, e: Envelope) -> None:
    data = {"last_error": e.payload["error"], "verified_at": e.occurred_at.isoformat(), "paused_reason": None}
    _update(cur, e, status="unverified", data=data)


_SENDER_FIELDS = ("address", "signature", "daily_limit", "weekly_invite_limit", "premium")


@catalog.handles("sender_account", "SenderAccountChanged")
def _sender_changed(cur: Cursor, e: Envelope) -> None:
    changes = e.payload["changes"]
    data = {k: v for k, v in changes.items() if k in _SENDER_FIELDS}
    if "connection" in changes:
        data["account_id"] = changes["connection"].get("account_id")
    _update(cur, e, name=changes.get("name"), data=data)


@catalog.handles("sender_account", "SenderAccountRemoved")
def _sender_removed(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, status="removed")  # the row stays, so a late redelivery of its creation adds nothing


@catalog.handles("strategy_profile", "StrategyProfileCreated")
def _profile_created(cur: Cursor, e: Envelope) -> None:
    data = {k: v for k, v in e.payload.items() if k != "name"}
    _insert(cur, e, kind="strategy_profile", name=e.payload["name"], status="active", parent=None, data=data)


@catalog.handles("sequence", "SequenceCreated")
def _sequence_created(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    data = {
        "run_id": p["run_id"],
        "strategy_profile_id": p["strategy_profile_id"],
        "source_group_ids": p["source_group_ids"],
        "steps": p["steps"],
        "settings": p["settings"],
    }
    _insert(cur, e, kind="sequence", name=p["name"], status="draft", parent=p["run_id"], data=data)


@catalog.handles("sequence", "SequenceRenamed")
def _sequence_renamed(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, name=e.payload["name"])


@catalog.handles("sequence", "SequenceSettingsChanged")
def _sequence_settings(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, data={"settings": e.payload["settings"]})


@catalog.handles("sequence", "StepsReplaced")
def _sequence_steps(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, data={"steps": e.payload["steps"]})


@catalog.handles("sequence", "SourceGroupsChanged")
def _sequence_groups(cur: Cursor, e: Envelope) -> None:
    _update(cur, e, data={"source_group_ids": e.payload["source_group_ids"]})


_SEQUENCE_STATUS = {
    "SequenceLaunched": "active",
    "SequencePaused": "paused",
    "SequenceResumed": "active",
    "SequenceArchived": "archived",
    "SequenceCompleted": "completed",
}
for _event, _status in _SEQUENCE_STATUS.items():

    def _status_handler(cur: Cursor, e: Envelope, status: str = _status) -> None:
        _update(cur, e, status=status)

    catalog.handles("sequence", _event)(_status_handler)


# ---- queries


def list_items(
    conn: Connection,
    workspace_id: UUID,
    kind: str,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    parent_id: UUID | None = None,
) -> dict[str, Any]:
    """A page of one kind, oldest first, as {items, next_cursor}."""
    after_at, after_id = _decode_cursor(cursor) if cursor else (datetime.min.replace(tzinfo=None), None)
    rows = conn.execute(
        "SELECT id, name, status, parent_id, data, created_at, version FROM read.catalog"
        " WHERE workspace_id = %s AND kind = %s AND status <> 'removed'"
        " AND (%s::text IS NULL OR status = %s) AND (%s::uuid IS NULL OR parent_id = %s)"
        " AND (%s::uuid IS NULL OR (created_at, id) > (%s, %s))"
        " ORDER BY created_at, id LIMIT %s",
        (workspace_id, kind, status, status, parent_id, parent_id, after_id, after_at, after_id, limit + 1),
    ).fetchall()
    items = [
        {"id": str(r[0]), "name": r[1], "status": r[2], **r[4], "created_at": r[5].isoformat(), "version": r[6]}
        for r in rows[:limit]
    ]
    next_cursor = _encode_cursor(rows[limit - 1][5], rows[limit - 1][0]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def open_sequence_ids(conn: Connection, workspace_id: UUID) -> list[UUID]:
    """The workspace's sequences that are not archived."""
    rows = conn.execute(
        "SELECT id FROM read.catalog WHERE workspace_id = %s AND kind = 'sequence' AND status <> 'archived'",
        (workspace_id,),
    ).fetchall()
    return [r[0] for r in rows]


def _encode_cursor(at: datetime, row_id: UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), str(row_id)]).encode()).decode()


class BadCursor(ValueError):
    pass


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), UUID(row_id)
    except (ValueError, TypeError) as e:
        raise BadCursor("the cursor is not one this API gave out") from e
