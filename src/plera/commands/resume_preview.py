"""Resume preview: what a paused sequence would send when resumed now, when, and through which sender.

The plan follows the dispatcher's rules: each step from its eligible time, moved into the
recipient's window, one sender's sends `min_gap` apart, its daily limit counted in the workspace's
day (starting from what it has already sent today), the rest rolled over in eligible-time order.
Only real sends are listed: a step the lead has no address for is skipped, not sent, and takes no
slot (scheduling skips those before they are queued; a row queued before that rule is left out here).
Planned times leave out the jitter (±20%) and other sequences' use of the same senders.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import missing_address
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands.next_step import reachable, rules_of
from plera.projections.due_queue import queued_steps
from plera.runtime import Services
from plera.scheduling import policy


def resume_preview(sv: Services, workspace_id: UUID, sequence_id: UUID) -> list[dict[str, Any]]:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    rules = rules_of(sv.events.get(workspace_id, Workspace))
    now = sv.clock.now()
    with sv.db.pool.connection() as conn:
        queued = [r for r in queued_steps(conn, workspace_id, sequence_id=sequence.id) if not r["paused"]]
        leads = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT id, timezone, city, country, phone, email, linkedin_url FROM read.leads WHERE id = ANY(%s)",
                ([r["lead_id"] for r in queued],),
            ).fetchall()
        }
        rows = [r for r in queued if _is_a_send(r, leads.get(r["lead_id"]))]
        used = {
            (r[0], r[1]): (r[2], r[3])
            for r in conn.execute(
                "SELECT sender_id, day, sent, next_slot_at FROM plera_sender_days WHERE sender_id = ANY(%s) AND day >= %s",
                ([r["sender_id"] for r in rows if r["sender_id"]], policy.workspace_day(rules, now)),
            ).fetchall()
        }
    senders = {
        i: a
        for i, a in sv.events.load_many({r["sender_id"] for r in rows if r["sender_id"]}).items()
        if isinstance(a, SenderAccount)
    }
    slots: dict[UUID, datetime] = {}
    counts: dict[tuple[UUID, date], int] = {}
    plan = []
    for row in sorted(rows, key=lambda r: (r["eligible_at"], r["enrollment_id"], r["step"])):
        tz, city, country, phone, *_ = leads.get(row["lead_id"], (None,) * 6)
        zone = policy.recipient_zone(
            timezone=tz, city=city, country=country, phone=phone, workspace_zone=rules.timezone
        ).zone
        sender = senders.get(row["sender_id"]) if row["sender_id"] else None
        at = policy.next_opening(rules, zone, max(row["eligible_at"], now))
        if sender is not None:
            at = _slot(rules, zone, sender, at, slots, counts, used)
        plan.append(
            {
                "lead_id": str(row["lead_id"]),
                "step": row["step"],
                "channel": row["channel"],
                "sender_id": str(sender.id) if sender else None,
                "send_at": at.isoformat(),
            }
        )
    plan.sort(key=lambda p: p["send_at"])
    return plan


def _is_a_send(row: dict[str, Any], lead: tuple[Any, ...] | None) -> bool:
    """False for a step the lead has no address for (a lead the read model does not know yet is kept)."""
    if lead is None:
        return True
    *_, email, linkedin_url = lead
    return missing_address(row["channel"], reachable(email=email, linkedin_url=linkedin_url)) is None


def _slot(
    rules: policy.SendingRules,
    zone: str,
    sender: SenderAccount,
    at: datetime,
    slots: dict[UUID, datetime],
    counts: dict[tuple[UUID, date], int],
    used: dict[tuple[UUID, date], tuple[int, datetime | None]],
) -> datetime:
    """The first time from `at` that the sender has a slot and room in its day, within the window."""
    for _ in range(400):
        day = policy.workspace_day(rules, at)
        sent, next_slot = used.get((sender.id, day), (0, None))
        count = counts.setdefault((sender.id, day), sent)
        earliest = max(d for d in (at, slots.get(sender.id), next_slot) if d is not None)
        if count >= sender.daily_limit:
            local = at.astimezone(policy.zone_info(rules.timezone))
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
            at = policy.next_opening(rules, zone, midnight)
            continue
        opened = policy.next_opening(rules, zone, earliest)
        if policy.workspace_day(rules, opened) != day:
            at = opened
            continue
        counts[(sender.id, day)] = count + 1
        slots[sender.id] = opened + policy.min_gap(rules, sender.daily_limit)
        return opened
    return at
