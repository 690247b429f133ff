"""Capacity: a sender's counter for its workspace's day (plera_sender_days: sent, invites, next slot)
and a sequence's (plera_sequence_days: leads started, for daily_new_leads).

A claim pass locks every counter row it needs before it changes any, and always in key order: the
missing rows are inserted in key order, then all are locked in key order. So two workers that need
the same senders queue on them, one behind the other, and never wait on each other crosswise.
What gives capacity back (`give_back`) changes rows in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor

Key = tuple[UUID, date]  # (sender or sequence, the workspace's day)


@dataclass
class Counter:
    sent: int
    invites_week: int
    next_slot_at: datetime | None
    invites_taken: int = 0  # by this pass


@dataclass(frozen=True)
class Refund:
    """Capacity a claim took and gives back: one send (an invite or not), and one new lead."""

    sender: Key | None
    invite: bool
    slot_until: datetime | None
    sequence: Key | None  # when the claim started a lead


def lock_senders(conn: Connection, keys: set[Key]) -> dict[Key, Counter]:
    if not keys:
        return {}
    ids, days = _columns(keys)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO plera_sender_days (sender_id, day) SELECT * FROM unnest(%s::uuid[], %s::date[])"
            " ORDER BY 1, 2 ON CONFLICT DO NOTHING",
            (ids, days),
        )
        locked = cur.execute(
            "SELECT d.sender_id, d.day, d.sent, d.next_slot_at FROM plera_sender_days d"
            " JOIN unnest(%s::uuid[], %s::date[]) AS k(sender_id, day) USING (sender_id, day)"
            " ORDER BY d.sender_id, d.day FOR UPDATE OF d",
            (ids, days),
        ).fetchall()
        weeks = cur.execute(  # a LinkedIn sender's invites over the rolling 7 days up to the day
            "SELECT k.sender_id, k.day, coalesce(sum(d.invites), 0) FROM unnest(%s::uuid[], %s::date[]) AS k(sender_id, day)"
            " LEFT JOIN plera_sender_days d ON d.sender_id = k.sender_id AND d.day > k.day - 7 AND d.day <= k.day"
            " GROUP BY k.sender_id, k.day",
            (ids, days),
        ).fetchall()
    week = {(s, d): int(n) for s, d, n in weeks}
    return {(s, d): Counter(sent, week[(s, d)], slot) for s, d, sent, slot in locked}


def lock_sequences(conn: Connection, keys: set[Key]) -> dict[Key, int]:
    if not keys:
        return {}
    ids, days = _columns(keys)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO plera_sequence_days (sequence_id, day) SELECT * FROM unnest(%s::uuid[], %s::date[])"
            " ORDER BY 1, 2 ON CONFLICT DO NOTHING",
            (ids, days),
        )
        locked = cur.execute(
            "SELECT d.sequence_id, d.day, d.started FROM plera_sequence_days d"
            " JOIN unnest(%s::uuid[], %s::date[]) AS k(sequence_id, day) USING (sequence_id, day)"
            " ORDER BY d.sequence_id, d.day FOR UPDATE OF d",
            (ids, days),
        ).fetchall()
    return {(s, d): started for s, d, started in locked}


def write(cur: Cursor[Any], counters: dict[Key, Counter], started: dict[Key, int]) -> None:
    """Stores what a pass took (the rows are locked by the pass)."""
    cur.executemany(
        "UPDATE plera_sender_days SET sent = %s, next_slot_at = %s, invites = invites + %s"
        " WHERE sender_id = %s AND day = %s",
        [(c.sent, c.next_slot_at, c.invites_taken, s, d) for (s, d), c in sorted(counters.items())],
    )
    cur.executemany(
        "UPDATE plera_sequence_days SET started = %s WHERE sequence_id = %s AND day = %s",
        [(n, s, d) for (s, d), n in sorted(started.items())],
    )


def give_back(cur: Cursor[Any], refunds: list[Refund]) -> None:
    """Nothing went out: the day's count comes back, and so does the slot, unless a later claim has
    taken the next one since (the slot only moves forward)."""
    # In key order, as counters are locked (the sender's key ends each row: sorting whole rows could
    # compare a slot with None).
    senders = sorted(
        ((int(r.invite), r.slot_until, *r.sender) for r in refunds if r.sender is not None),
        key=lambda p: p[2:],
    )
    cur.executemany(
        "UPDATE plera_sender_days SET sent = greatest(sent - 1, 0), invites = greatest(invites - %s, 0),"
        " next_slot_at = CASE WHEN next_slot_at = %s THEN NULL ELSE next_slot_at END"
        " WHERE sender_id = %s AND day = %s",
        senders,
    )
    cur.executemany(
        "UPDATE plera_sequence_days SET started = greatest(started - 1, 0) WHERE sequence_id = %s AND day = %s",
        sorted(r.sequence for r in refunds if r.sequence is not None),
    )


def _columns(keys: set[Key]) -> tuple[list[UUID], list[date]]:
    ordered = sorted(keys)
    return [k[0] for k in ordered], [k[1] for k in ordered]
