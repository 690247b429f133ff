"""Small helpers for the sending stories: more sender accounts, the due queue as the dispatcher sees
it, and times in Berlin (the world's workspace zone)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from plera.aggregates.lead import lead_id_for
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sender_assignment import Candidate, assign
from plera.commands.messaging import ChooseSenders, choose_senders
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.scheduling.worker import Worker
from tests.integration.sending.world import ACTOR, World

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """That local time in Berlin, as the UTC instant the clock is set to."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def add_email_sender(
    world: World, name: str, *, daily_limit: int, username: str | None = None, password: str | None = None
) -> UUID:
    """A mailbox on the world's fake SMTP server."""
    smtp: dict[str, Any] = {"host": world.smtp.host, "port": world.smtp.port, "starttls": False}
    if username is not None:
        smtp |= {"username": username, "password": password}
    cmd = AddSenderAccount.model_validate(
        {
            "channel": "email",
            "name": name,
            "address": f"{name.lower()}@plera.example",
            "daily_limit": daily_limit,
            "smtp": smtp,
        }
    )
    return add_sender_account(world.sv, world.workspace_id, cmd, ACTOR).id


def send_email_from(world: World, *sender_ids: UUID) -> None:
    """The launched sequence's email goes out from these accounts (leads that arrive later are spread over them)."""
    assert world.sequence_id is not None
    chosen = ChooseSenders(email=list(sender_ids), linkedin=[world.senders["linkedin"]])
    choose_senders(world.sv, world.workspace_id, world.sequence_id, chosen, ACTOR)
    world.catch_up()


def one_lead_each(world: World, first: UUID, second: UUID) -> tuple[dict[str, str], dict[str, str]]:
    """A lead that the spread gives to `first` and one it gives to `second` (equal limits)."""
    candidates = [Candidate(first, 100), Candidate(second, 100)]
    found: dict[UUID, dict[str, str]] = {}
    for n in range(200):
        email = f"lead{n}@acme.example"
        chosen = assign(lead_id_for(world.workspace_id, email=email, linkedin_url=None), candidates)
        assert chosen is not None
        found.setdefault(chosen, {"email": email, "timezone": "Europe/Berlin"})
        if len(found) == 2:
            break
    return found[first], found[second]


def sender(world: World, sender_id: UUID) -> SenderAccount:
    return world.sv.events.get(sender_id, SenderAccount)


@dataclass(frozen=True)
class DueRow:
    enrollment_id: UUID
    step: int
    eligible_at: datetime
    not_before: datetime | None
    paused: bool
    claimed_by: str | None


def due_rows(world: World) -> list[DueRow]:
    """The world's rows in the due queue, earliest first."""
    world.catch_up()
    with world.sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT enrollment_id, step, eligible_at, not_before, paused, claimed_by FROM read.due_queue"
            " WHERE workspace_id = %s ORDER BY eligible_at, enrollment_id, step",
            (world.workspace_id,),
        ).fetchall()
    return [DueRow(*r) for r in rows]


def sent_per_day(world: World, sender_id: UUID) -> dict[date, int]:
    """The sender's day counters (in the workspace's zone), the days it sent on."""
    with world.sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT day, sent FROM plera_sender_days WHERE sender_id = %s AND sent > 0 ORDER BY day", (sender_id,)
        ).fetchall()
    return {day: sent for day, sent in rows}


def sent_at(message: Any) -> datetime:
    """An email's Date header (the simulated clock when it went out), in UTC."""
    return message["Date"].datetime.astimezone(UTC)


def dispatch_together(world: World, workers: list[Worker], pool: ThreadPoolExecutor) -> None:
    """Each worker runs its dispatch job at the same moment, on a thread of its own; twice, with the
    read models caught up between, as a running service's ticks would."""

    def tick(worker: Worker, start: threading.Barrier) -> int:
        start.wait(timeout=10)  # all claim at once: SKIP LOCKED and the counter's row lock decide
        return worker.dispatch_due()

    for _ in range(2):
        world.catch_up()
        start = threading.Barrier(len(workers))
        for done in [pool.submit(tick, w, start) for w in workers]:
            done.result()  # a worker's error fails the test
    world.catch_up()
