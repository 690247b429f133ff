"""Claims: the send protocol's first step. Due steps are taken from the due queue with a lease, and
each takes its sender's capacity in the same transaction.

Several workers may claim at once: candidate rows are locked `FOR UPDATE SKIP LOCKED`, so no two
workers take one step, and the counter rows (plera_sender_days, plera_sequence_days) are locked in
a fixed order before any is changed, so workers queue on a sender's limit without deadlocking.
A step that cannot go now is not dropped: its row gets `not_before` (the recipient's next window,
the sender's next slot, or the next day's window when a limit is reached) and comes back then, in
eligible-time order. Every decision reads plera.clock; only the lease counts real time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection

from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.runtime import Services
from plera.scheduling import policy

LEASE = timedelta(minutes=5)  # of real time: how long a claim is a worker's before recovery may act

_CANDIDATES = """
SELECT d.enrollment_id, d.step, d.workspace_id, d.sequence_id, d.lead_id, d.channel, d.eligible_at, d.sender_id,
       l.timezone, l.city, l.country, l.phone
FROM read.due_queue d
JOIN read.catalog s ON s.id = d.sequence_id AND s.status = 'active'
LEFT JOIN read.catalog a ON a.id = d.sender_id
LEFT JOIN read.leads l ON l.id = d.lead_id
WHERE NOT d.paused AND coalesce(d.not_before, d.eligible_at) <= %(now)s
  AND (%(workspace)s::uuid IS NULL OR d.workspace_id = %(workspace)s)
  AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())
  AND (a.status IS NULL OR a.status = 'active')
ORDER BY d.eligible_at, d.enrollment_id, d.step
LIMIT %(limit)s
FOR UPDATE OF d SKIP LOCKED
"""


@dataclass(frozen=True)
class Claim:
    enrollment_id: UUID
    step: int
    workspace_id: UUID
    sequence_id: UUID
    lead_id: UUID
    channel: str
    sender_id: UUID | None
    zone: str
    day: date  # the workspace's day the capacity was taken from
    new_lead: bool  # step 1: counts toward the sequence's daily_new_leads
    invite: bool  # a LinkedIn invite: counts toward the sender's rolling 7-day limit
    slot_until: datetime | None = None  # the sender's next slot this claim set


@dataclass
class _Counter:
    sent: int
    invites_week: int
    next_slot_at: datetime | None
    invites_taken: int = 0  # by this pass


class _Context:
    """What one claim pass knows: rules, sequences and senders, loaded once for all its rows."""

    def __init__(self, sv: Services, rows: list[tuple[Any, ...]]) -> None:
        self.sv = sv
        workspaces = sv.events.load_many({r[2] for r in rows})
        self.rules = {
            wid: policy.SendingRules.from_workspace(
                ws.timezone, ws.window_start, ws.window_end, ws.sending_days, ws.holiday_countries
            )
            for wid, ws in workspaces.items()
            if isinstance(ws, Workspace)
        }
        self.sequences = {sid: sv.events.get(sid, Sequence) for sid in {r[3] for r in rows}}
        senders = sv.events.load_many({r[7] for r in rows if r[7] is not None})
        self.senders = {i: a for i, a in senders.items() if isinstance(a, SenderAccount)}


def claim_due(sv: Services, worker: str, *, limit: int = 50, workspace_id: UUID | None = None) -> list[Claim]:
    """Claims up to `limit` due steps for this worker, earliest first, within their limits (of every
    workspace, or of one: a worker may serve one workspace)."""
    now = sv.clock.now()
    with sv.db.pool.connection() as conn, conn.transaction():
        rows = conn.execute(_CANDIDATES, {"now": now, "limit": limit, "workspace": workspace_id}).fetchall()
        if not rows:
            return []
        ctx = _Context(sv, rows)
        counters = _lock_counters(conn, ctx, rows, now)
        started = _lock_started(conn, ctx, rows, now)
        claims = []
        for row in rows:
            if row[7] is not None and not _first_in_line(conn, row, now, workspace_id):
                continue  # an earlier step of this sender is another worker's: it goes first
            decision = _decide(ctx, counters, started, row, now)
            if isinstance(decision, Claim):
                _take(conn, decision, worker)
                claims.append(decision)
            else:
                conn.execute(
                    "UPDATE read.due_queue SET not_before = %s WHERE enrollment_id = %s AND step = %s",
                    (decision, row[0], row[1]),
                )
        _write_counters(conn, counters, started)
    return claims


def _first_in_line(conn: Connection, row: tuple[Any, ...], now: datetime, workspace_id: UUID | None) -> bool:
    """Whether the row is its sender's earliest due step. Asked once the sender's counter is locked,
    so that when two workers hold different steps of one sender, the earlier step takes the slot
    and what does not fit rolls over in eligible-time order."""
    first = conn.execute(
        "SELECT d.enrollment_id, d.step FROM read.due_queue d"
        " JOIN read.catalog s ON s.id = d.sequence_id AND s.status = 'active'"
        " WHERE d.sender_id = %s AND NOT d.paused AND coalesce(d.not_before, d.eligible_at) <= %s"
        " AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())"
        " ORDER BY d.eligible_at, d.enrollment_id, d.step LIMIT 1",
        (row[7], now),
    ).fetchone()
    return first is None or (first[0], first[1]) == (row[0], row[1])


def _day_of(ctx: _Context, workspace_id: UUID, now: datetime) -> date:
    return policy.workspace_day(ctx.rules[workspace_id], now)


def _lock_counters(
    conn: Connection, ctx: _Context, rows: list[tuple[Any, ...]], now: datetime
) -> dict[tuple[UUID, date], _Counter]:
    keys = sorted({(r[7], _day_of(ctx, r[2], now)) for r in rows if r[7] is not None})
    counters = {}
    for sender_id, day in keys:  # in key order: two workers never wait on each other crosswise
        conn.execute(
            "INSERT INTO plera_sender_days (sender_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING", (sender_id, day)
        )
        found = conn.execute(
            "SELECT sent, next_slot_at FROM plera_sender_days WHERE sender_id = %s AND day = %s FOR UPDATE",
            (sender_id, day),
        ).fetchone()
        week = conn.execute(
            "SELECT coalesce(sum(invites), 0) FROM plera_sender_days WHERE sender_id = %s AND day > %s AND day <= %s",
            (sender_id, day - timedelta(days=7), day),
        ).fetchone()
        assert found is not None and week is not None
        counters[(sender_id, day)] = _Counter(found[0], int(week[0]), found[1])
    return counters


def _lock_started(
    conn: Connection, ctx: _Context, rows: list[tuple[Any, ...]], now: datetime
) -> dict[tuple[UUID, date], int]:
    keys = sorted(
        {
            (r[3], _day_of(ctx, r[2], now))
            for r in rows
            if r[1] == 1 and ctx.sequences[r[3]].settings.get("daily_new_leads") is not None
        }
    )
    started = {}
    for sequence_id, day in keys:
        conn.execute(
            "INSERT INTO plera_sequence_days (sequence_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (sequence_id, day),
        )
        found = conn.execute(
            "SELECT started FROM plera_sequence_days WHERE sequence_id = %s AND day = %s FOR UPDATE",
            (sequence_id, day),
        ).fetchone()
        assert found is not None
        started[(sequence_id, day)] = found[0]
    return started


def _decide(
    ctx: _Context,
    counters: dict[tuple[UUID, date], _Counter],
    started: dict[tuple[UUID, date], int],
    row: tuple[Any, ...],
    now: datetime,
) -> Claim | datetime:
    """The claim, or the time to look at the row again."""
    enrollment_id, step, workspace_id, sequence_id, lead_id, channel, _, sender_id, tz, city, country, phone = row
    rules = ctx.rules[workspace_id]
    zone = policy.recipient_zone(timezone=tz, city=city, country=country, phone=phone, workspace_zone=rules.timezone)
    if not policy.is_open(rules, zone.zone, now):
        return policy.next_opening(rules, zone.zone, now)
    day = policy.workspace_day(rules, now)
    tomorrow = _next_day_opening(rules, zone.zone, now)
    invite = channel == "linkedin_invite"
    new_lead = step == 1
    limit = ctx.sequences[sequence_id].settings.get("daily_new_leads")
    if new_lead and limit is not None and started[(sequence_id, day)] >= limit:
        return tomorrow
    sender = ctx.senders.get(sender_id) if sender_id is not None else None
    if sender is not None:
        counter = counters[(sender.id, day)]
        if counter.sent >= sender.daily_limit:
            return tomorrow
        if invite and sender.weekly_invite_limit is not None and counter.invites_week >= sender.weekly_invite_limit:
            return tomorrow
        if counter.next_slot_at is not None and counter.next_slot_at > now:
            return counter.next_slot_at
        counter.sent += 1
        counter.invites_week += invite
        counter.invites_taken += invite
        gap = policy.jittered(policy.min_gap(rules, sender.daily_limit), _unit(enrollment_id, step))
        counter.next_slot_at = now + gap
    if new_lead and limit is not None:
        started[(sequence_id, day)] += 1
    return Claim(
        enrollment_id, step, workspace_id, sequence_id, lead_id, channel, sender_id, zone.zone, day, new_lead, invite
    )


def _next_day_opening(rules: policy.SendingRules, zone: str, now: datetime) -> datetime:
    """The recipient's first window after the workspace's day ends: when a day's limit is free again."""
    local = now.astimezone(policy.zone_info(rules.timezone))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return policy.next_opening(rules, zone, midnight)


def _unit(enrollment_id: UUID, step: int) -> float:
    """A number in [0, 1) from the step, for jitter that a rerun reproduces."""
    digest = hashlib.blake2b(enrollment_id.bytes + step.to_bytes(2, "big"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _take(conn: Connection, claim: Claim, worker: str) -> None:
    conn.execute(
        "UPDATE read.due_queue SET claimed_by = %s, lease_until = clock_timestamp() + %s, not_before = NULL"
        " WHERE enrollment_id = %s AND step = %s",
        (worker, LEASE, claim.enrollment_id, claim.step),
    )
    conn.execute(
        "INSERT INTO plera_claims (enrollment_id, step, workspace_id, sender_id, day, new_lead, invite, worker,"
        " lease_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp() + %s)"
        " ON CONFLICT (enrollment_id, step) DO UPDATE SET worker = EXCLUDED.worker, lease_until = EXCLUDED.lease_until,"
        " day = EXCLUDED.day, sender_id = EXCLUDED.sender_id",
        (
            claim.enrollment_id,
            claim.step,
            claim.workspace_id,
            claim.sender_id,
            claim.day,
            claim.new_lead,
            claim.invite,
            worker,
            LEASE,
        ),
    )


def _write_counters(
    conn: Connection, counters: dict[tuple[UUID, date], _Counter], started: dict[tuple[UUID, date], int]
) -> None:
    for (sender_id, day), counter in counters.items():
        conn.execute(
            "UPDATE plera_sender_days SET sent = %s, next_slot_at = %s,"
            " invites = invites + %s WHERE sender_id = %s AND day = %s",
            (counter.sent, counter.next_slot_at, counter.invites_taken, sender_id, day),
        )
    for (sequence_id, day), count in started.items():
        conn.execute(
            "UPDATE plera_sequence_days SET started = %s WHERE sequence_id = %s AND day = %s", (count, sequence_id, day)
        )


def release(sv: Services, claim: Claim, *, refund: bool, not_before: datetime | None = None) -> None:
    """Gives a claim back: the row is free again (from `not_before`), and unused capacity returns."""
    with sv.db.pool.connection() as conn, conn.transaction():
        conn.execute(
            "UPDATE read.due_queue SET claimed_by = NULL, lease_until = NULL, not_before = %s"
            " WHERE enrollment_id = %s AND step = %s",
            (not_before, claim.enrollment_id, claim.step),
        )
        finish(conn, claim, refund=refund)


def finish(conn: Connection, claim: Claim, *, refund: bool) -> None:
    """Ends the claim's bookkeeping; with `refund`, the capacity it took is given back."""
    conn.execute("DELETE FROM plera_claims WHERE enrollment_id = %s AND step = %s", (claim.enrollment_id, claim.step))
    if refund and claim.sender_id is not None:
        # Nothing went out: the day's count comes back, and so does the slot, unless a later claim
        # has taken the next one since (the slot only moves forward).
        conn.execute(
            "UPDATE plera_sender_days SET sent = greatest(sent - 1, 0), invites = greatest(invites - %s, 0),"
            " next_slot_at = CASE WHEN next_slot_at = %s THEN NULL ELSE next_slot_at END"
            " WHERE sender_id = %s AND day = %s",
            (int(claim.invite), claim.slot_until, claim.sender_id, claim.day),
        )
    if refund and claim.new_lead:
        conn.execute(
            "UPDATE plera_sequence_days SET started = greatest(started - 1, 0) WHERE sequence_id = %s AND day = %s",
            (claim.sequence_id, claim.day),
        )
