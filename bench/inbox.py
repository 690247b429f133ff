"""The inbox's figures: handler throughput, and the thread list's p50/p99 over 50,000 threads.

Run: python bench/inbox.py [--threads N] [--runs R]
     (PLERA_DATABASE_URL, else the local server; a scratch database is made and dropped)

One workspace with a sequence and two email senders (real commands, so the catalog names them),
then N leads, each with one enrollment whose step 1 went out, as synthetic envelopes applied
through runner.apply_batch (the leads and inbox projections). Of the people, 25% replied, 10%
sent an out-of-office, 3% bounced, the rest said nothing; half of those who wrote were read; a
few more threads are unmatched mail. Messages spread over 30 days. Then each list query (the
default listing, each status filter, a sequence, a sender, a second page) runs R times (default
300): p50 and p99, target p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common import scratch_services

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, create_sequence
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.demo_sinks import SmtpSink
from plera.envelope import Envelope, event_id_of
from plera.projections.all import ALL
from plera.projections.inbox import STATUSES, inbox, thread, threads
from plera.projections.leads import leads
from plera.projections.runner import apply_batch
from plera.runtime import Services

STEPS = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3)]
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Stream:
    """Envelopes of one aggregate, numbered as the aggregate would number them."""

    def __init__(self, aggregate: str, aggregate_id: uuid.UUID, workspace_id: uuid.UUID) -> None:
        self.aggregate, self.id, self.workspace_id, self.version = aggregate, aggregate_id, workspace_id, 0

    def add(self, kind: str, at: datetime, **payload: Any) -> Envelope:
        self.version += 1
        return Envelope(
            event_id=event_id_of(self.id, self.version),
            aggregate=self.aggregate,
            type=kind,
            version=1,
            aggregate_id=self.id,
            aggregate_version=self.version,
            workspace_id=self.workspace_id,
            occurred_at=at,
            actor="bench",
            payload=payload,
        )


def synthetic(workspace_id: uuid.UUID, sequence_id: uuid.UUID, senders: list[uuid.UUID], n: int) -> list[Envelope]:
    rng = random.Random(11)
    out: list[Envelope] = []
    workspace = Stream("workspace", workspace_id, workspace_id)
    workspace.version = 1_000  # after the real workspace's own events
    for i in range(n):
        at = START + timedelta(seconds=rng.randrange(30 * 86_400))
        lead = Stream("lead", uuid.uuid5(workspace_id, f"email:lead{i}@bench.example"), workspace_id)
        details = {"first_name": f"Lead{i}", "email": f"lead{i}@bench.example", "company": f"Company {i % 997}"}
        out.append(lead.add("LeadImported", START, source_group_id=str(uuid.uuid4()), details=details))
        enrollment = Stream("enrollment", LeadEnrollment.create_id(sequence_id, lead.id), workspace_id)
        sender = str(senders[i % len(senders)])
        message_id = message_id_for(enrollment.id, 1, 0)
        out.append(
            enrollment.add(
                "LeadEnrolled",
                START,
                sequence_id=str(sequence_id),
                lead_id=str(lead.id),
                steps=STEPS,
                senders={"email": sender},
            )
        )
        out.append(enrollment.add("StepDispatching", at, step=1, message_id=message_id, sender_id=sender))
        out.append(
            enrollment.add("MessageSent", at + timedelta(seconds=2), step=1, message_id=message_id, channel="email")
        )
        roll = rng.random()
        kind = "reply" if roll < 0.25 else "auto_reply" if roll < 0.35 else "bounce" if roll < 0.38 else None
        if kind == "bounce":
            out.append(
                enrollment.add(
                    "MessageBounced", at + timedelta(minutes=5), step=1, message_id=message_id, hard=True, reason="550"
                )
            )
        if kind is not None:
            reply_at = at + timedelta(hours=rng.randrange(1, 72))
            out.append(
                lead.add(
                    "MessageReceived",
                    reply_at,
                    channel="email",
                    sender_id=sender,
                    message_id=f"<r{i}@bench.example>",
                    subject="Re: A question",
                    text="Thanks for reaching out. " * 8,
                    classification=kind,
                    in_reply_to=message_id,
                )
            )
            if rng.random() < 0.5:
                thread_id = uuid.uuid5(lead.id, f"thread:email:{sender}")
                out.append(lead.add("ThreadRead", reply_at + timedelta(hours=1), thread_id=str(thread_id)))
        if rng.random() < 0.02:
            out.append(
                workspace.add(
                    "UnmatchedMailReceived",
                    at,
                    message_id=f"<u{i}@elsewhere.example>",
                    from_address=f"stranger{i}@elsewhere.example",
                    subject="Hello",
                    text="Who is this?",
                    classification="reply",
                )
            )
    return out


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def setup(sv: Services) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench").workspace
    run = create_run(sv, ws.id, CreateRun(name="bench"), "bench")
    cmd = CreateSequence.model_validate({"run_id": run.id, "name": "bench", "steps": STEPS})
    sequence = create_sequence(sv, ws.id, cmd, "bench")
    with SmtpSink() as sink:  # senders are checked when added
        smtp = {"host": sink.host, "port": sink.port, "starttls": False}
        senders = [
            add_sender_account(
                sv,
                ws.id,
                AddSenderAccount.model_validate(
                    {
                        "channel": "email",
                        "name": f"Sender {k}",
                        "address": f"s{k}@plera.example",
                        "daily_limit": 100,
                        "smtp": smtp,
                    }
                ),
                "bench",
            ).id
            for k in (1, 2)
        ]
    InProcessFeed(sv, ALL).catch_up()
    return ws.id, sequence.id, senders


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    with scratch_services() as sv:
        workspace_id, sequence_id, senders = setup(sv)
        envelopes = synthetic(workspace_id, sequence_id, senders, args.threads)
        t = time.perf_counter()
        with sv.db.pool.connection() as conn:
            for start in range(0, len(envelopes), 2000):
                apply_batch(conn, [leads, inbox], envelopes[start : start + 2000], {}, consumer="bench")
        apply_s = time.perf_counter() - t

        lines = []
        with sv.db.pool.connection() as conn:
            conn.autocommit = True
            conn.execute("ANALYZE")  # as autovacuum would have soon after the load
            total, per_status = conn.execute(
                "SELECT count(*), jsonb_build_object("
                + ", ".join(f"'{s}', count(*) FILTER (WHERE {s})" for s in STATUSES)
                + ") FROM read.inbox_threads WHERE workspace_id = %s",
                (workspace_id,),
            ).fetchone() or (0, {})
            lines.append(f"{total} threads ({', '.join(f'{k} {v}' for k, v in per_status.items())})")
            lines.append("thread list, first page of 50 (target p99 <= 50 ms):")
            cases: list[tuple[str, dict[str, Any]]] = [("default", {})]
            cases += [(f"status={s}", {"status": s}) for s in STATUSES]
            cases += [("sequence_id", {"sequence_id": sequence_id}), ("sender_id", {"sender_id": senders[0]})]
            cases += [("status=unread&sender_id", {"status": "unread", "sender_id": senders[1]})]
            second = threads(conn, workspace_id)["next_cursor"]
            cases += [("default, second page", {"cursor": second})]
            for name, query in cases:
                p50, p99 = timed(lambda q=query: threads(conn, workspace_id, **q), args.runs)
                lines.append(f"  {name:28} p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
            some = threads(conn, workspace_id, status="replied", limit=1)["items"][0]["id"]
            p50, p99 = timed(lambda: thread(conn, workspace_id, uuid.UUID(some)), args.runs)
            lines.append(f"  {'one thread with its messages':28} p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")

    print(f"handlers via apply_batch:   {len(envelopes)} events in {apply_s:.2f} s ({len(envelopes) / apply_s:,.0f}/s)")
    print("\n".join(lines))
    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} {five:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
