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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor

from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands import capacity
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

    def day_of(self, workspace_id: UUID, now: datetime) -> date:
        return policy.workspace_day(self.rules[workspace_id], now)


def claim_due(sv: Services, worker: str, *, limit: int = 50, workspace_id: UUID | None = None) -> list[Claim]:
    """Claims up to `limit` due steps for this worker, earliest first, within their limits (of every
    workspace, or of one: a worker may serve one workspace)."""
    now = sv.clock.now()
    with sv.db.pool.connection() as conn, conn.transaction():
        rows = conn.execute(_CANDIDATES, {"now": now, "limit": limit, "workspace": workspace_id}).fetchall()
        if not rows:
            return []
        ctx = _Context(sv, rows)
        counters = capacity.lock_senders(conn, {(r[7], ctx.day_of(r[2], now)) for r in rows if r[7] is not None})
        started = capacity.lock_sequences(
            conn,
            {
                (r[3], ctx.day_of(r[2], now))
                for r in rows
                if r[1] == 1 and ctx.sequences[r[3]].settings.get("daily_new_leads") is not None
            },
        )
        first = _first_in_line(conn, rows, now)
        claims, later = [], []
        for row in rows:
            if row[7] is not None and not first(row):
                continue  # an earlier step of this sender is another worker's: it goes first
            decision = _decide(ctx, counters, started, row, now)
            if isinstance(decision, Claim):
                claims.append(decision)
            else:
                later.append((decision, row[0], row[1]))
        with conn.cursor() as cur:
            if later:
                cur.executemany(
                    "UPDATE read.due_queue SET not_before = %s WHERE enrollment_id = %s AND step = %s", later
                )
            _take(cur, claims, worker)
            capacity.write(cur, counters, started)
    return claims


def _first_in_line(conn: Connection, rows: list[tuple[Any, ...]], now: datetime) -> Callable[[tuple[Any, ...]], bool]:
    """Whether a row is its sender's earliest due step, once the rows before it in this pass are taken
    or put off. Asked once the senders' counters are locked, so that when two workers hold different
    steps of one sender, the earlier step takes the slot and what does not fit rolls over in
    eligible-time order. One query: each sender's first due steps, as many as the pass holds."""
    ours: dict[UUID, list[tuple[UUID, int]]] = {}
    for row in rows:
        if row[7] is not None:
            ours.setdefault(row[7], []).append((row[0], row[1]))
    found = conn.execute(
        "SELECT s.sender_id, f.enrollment_id, f.step"
        " FROM unnest(%s::uuid[], %s::int[]) AS s(sender_id, n) CROSS JOIN LATERAL ("
        "  SELECT d.enrollment_id, d.step, d.eligible_at FROM read.due_queue d"
        "  JOIN read.catalog q ON q.id = d.sequence_id AND q.status = 'active'"
        "  WHERE d.sender_id = s.sender_id AND NOT d.paused AND coalesce(d.not_before, d.eligible_at) <= %s"
        "  AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())"
        "  ORDER BY d.eligible_at, d.enrollment_id, d.step LIMIT s.n) f"
        " ORDER BY s.sender_id, f.eligible_at, f.enrollment_id, f.step",
        (list(ours), [len(v) for v in ours.values()], now),
    ).fetchall()
    line: dict[UUID, list[tuple[UUID, int]]] = {}
    for sender_id, enrollment_id, step in found:
        line.setdefault(sender_id, []).append((enrollment_id, step))
    first: set[tuple[UUID, int]] = set()
    for sender_id, mine in ours.items():
        theirs = line.get(sender_id, [])
        for n, own in enumerate(mine):
            if n < len(theirs) and theirs[n] != own:
                break  # another worker's step is ahead of this one, and of the pass's later ones
            first.add(own)  # the steps ahead of it are this pass's: taken or put off before it
    return lambda row: (row[0], row[1]) in first


def _decide(
    ctx: _Context,
    counters: dict[capacity.Key, capacity.Counter],
    started: dict[capacity.Key, int],
    row: tuple[Any, ...],
    now: datetime,
) -> Claim | datetime:
    """The claim, or the time to look at the row again."""
    enrollment_id, step, workspace_id, sequence_id, lead_id, channel, _, sender_id, tz, city, country, phone = row
    rules = ctx.rules[workspace_id]
    zone = policy.recipient_zone(timezone=tz, city=city, country=country, phone=phone, workspace_zone=rules.timezone)
    if not policy.is_open(rules, zone.zone, now):
        return policy.next_opening(rules, zone.zone, now)
    day = ctx.day_of(workspace_id, now)
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


def _take(cur: Cursor[Any], claims: list[Claim], worker: str) -> None:
    if not claims:
        return
    cur.executemany(
        "UPDATE read.due_queue SET claimed_by = %s, lease_until = clock_timestamp() + %s, not_before = NULL"
        " WHERE enrollment_id = %s AND step = %s",
        [(worker, LEASE, c.enrollment_id, c.step) for c in claims],
    )
    cur.executemany(
        "INSERT INTO plera_claims (enrollment_id, step, workspace_id, sender_id, day, new_lead, invite, worker,"
        " lease_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp() + %s)"
        " ON CONFLICT (enrollment_id, step) DO UPDATE SET worker = EXCLUDED.worker, lease_until = EXCLUDED.lease_until,"
        " day = EXCLUDED.day, sender_id = EXCLUDED.sender_id",
        [
            (c.enrollment_id, c.step, c.workspace_id, c.sender_id, c.day, c.new_lead, c.invite, worker, LEASE)
            for c in claims
        ],
    )


def release_all(sv: Services, claims: list[tuple[Claim, bool, datetime | None]]) -> None:
    """Gives claims back, each with (refund, not_before). One transaction each: a row given back is
    one the read-model feed may be changing too (a reply, a pause), so no transaction holds two."""
    if not claims:
        return
    with sv.db.pool.connection() as conn:
        for claim, refund, not_before in claims:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    "UPDATE read.due_queue SET claimed_by = NULL, lease_until = NULL, not_before = %s"
                    " WHERE enrollment_id = %s AND step = %s",
                    (not_before, claim.enrollment_id, claim.step),
                )
                _finish(cur, [(claim, refund)])


def finish_all(sv: Services, claims: list[tuple[Claim, bool]]) -> None:
    """Ends claims' bookkeeping, each with its refund (the capacity it took comes back), in one transaction."""
    if claims:
        with sv.db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            _finish(cur, claims)


def finish(conn: Connection, claim: Claim, *, refund: bool) -> None:
    """Ends the claim's bookkeeping; with `refund`, the capacity it took is given back."""
    with conn.cursor() as cur:
        _finish(cur, [(claim, refund)])


def _finish(cur: Cursor[Any], claims: list[tuple[Claim, bool]]) -> None:
    cur.executemany(
        "DELETE FROM plera_claims WHERE enrollment_id = %s AND step = %s",
        [(c.enrollment_id, c.step) for c, _ in claims],
    )
    refunds = [
        capacity.Refund(
            sender=(c.sender_id, c.day) if c.sender_id is not None else None,
            invite=c.invite,
            slot_until=c.slot_until,
            sequence=(c.sequence_id, c.day) if c.new_lead else None,
        )
        for c, refund in claims
        if refund
    ]
    if refunds:
        capacity.give_back(cur, refunds)
