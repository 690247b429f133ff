"""No lead is stranded on a sender that stopped: after the sequence's sender_failover_hours its due
step goes out through another sender of the sequence, exactly once, in a thread of its own; a
sender taken out of the sequence's senders hands its leads over at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

from plera.aggregates.enrollment import StepStatus
from plera.commands.sender_accounts import set_sender_status
from plera.projections.all import ALL
from plera.projections.dashboard import sequence_dashboard, sequence_problems
from plera.projections.lead_timeline import lead_timeline
from plera.projections.maintenance import verify
from tests.integration.sending.helpers import add_email_sender, due_rows, one_lead_each, send_email_from, sender
from tests.integration.sending.world import ACTOR, World

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
TWO_EMAILS = [
    {"channel": "email", "delay_days": 0, "condition": "no_reply"},
    {"channel": "email", "delay_days": 1, "condition": "no_reply"},
]


def two_senders(
    world: World, steps: list[dict[str, object]], **settings: object
) -> tuple[UUID, UUID, dict[str, str], dict[str, str]]:
    """Bea and Cal send the sequence's email; Ben is Bea's lead, Cleo Cal's."""
    bea = add_email_sender(world, "Bea", daily_limit=100, username="bea", password="bea-secret")
    cal = add_email_sender(world, "Cal", daily_limit=100, username="cal", password="cal-secret")
    world.launch(steps=steps, **settings)
    send_email_from(world, bea, cal)
    ben, cleo = one_lead_each(world, bea, cal)
    world.import_leads({"first_name": "Ben", **ben}, {"first_name": "Cleo", **cleo})
    assert world.enrollment("Cleo").senders["email"] == cal
    return bea, cal, ben, cleo


def fail_over_together(world: World, workers: int = 2) -> int:
    """Each worker runs its fail_over job at the same moment; returns how many steps moved in all."""
    world.catch_up()
    start = threading.Barrier(workers)

    def run(name: str) -> int:
        start.wait(timeout=10)
        return world.worker(name).fail_over()

    with ThreadPoolExecutor(workers) as pool:
        moved = sum(pool.map(run, [f"w{n}" for n in range(workers)]))
    world.catch_up()
    return moved


def summaries(world: World, name: str) -> list[str]:
    with world.sv.db.pool.connection() as conn:
        return [row["summary"] for row in lead_timeline(conn, world.workspace_id, world.leads[name])]


def test_a_lead_on_a_sender_paused_for_a_refused_login_gets_its_step_through_another_after_24_hours_once(world):
    bea, cal, ben, cleo = two_senders(world, ONE_EMAIL)
    world.smtp.require_auth("bea", "bea-secret")  # from now on Cal's login is refused (it passed its check)

    assert world.advance(hours=1) == {"sent": 1, "sender_paused": 1}  # 09:00 in Berlin, Monday
    assert sender(world, cal).status == "paused"
    assert world.emails_to(cleo["email"]) == []

    world.clock.advance(timedelta(hours=23, minutes=59))
    assert fail_over_together(world) == 0  # not yet: Cal may be back within the day
    assert world.dispatch() == {}
    assert world.emails_to(cleo["email"]) == []

    world.clock.advance(timedelta(minutes=1))
    assert fail_over_together(world, workers=3) == 1  # once, however many workers try
    assert world.dispatch() == {"sent": 1}
    assert world.advance(days=1) == {}
    assert fail_over_together(world) == 0

    (to_cleo,) = world.emails_to(cleo["email"])
    assert to_cleo["From"].addresses[0].addr_spec == "bea@plera.example"
    cleo_enrollment = world.enrollment("Cleo")
    assert cleo_enrollment.step_status(1) is StepStatus.SENT
    assert cleo_enrollment.senders["email"] == bea
    assert len(world.smtp.messages) == 2
    assert due_rows(world) == []
    moved = [s for s in summaries(world, "Cleo") if "moved to another email sender" in s]
    assert moved == [
        f"Step 1 (email) moved to another email sender, in a new thread: the sender is paused: "
        f"{sender(world, cal).paused_reason}"
    ]


def test_the_wait_is_the_sequences_sender_failover_hours(world):
    bea, cal, ben, cleo = two_senders(world, ONE_EMAIL, sender_failover_hours=2)
    world.smtp.require_auth("bea", "bea-secret")  # from now on Cal's login is refused (it passed its check)
    world.advance(hours=1)  # Cal's login is refused at 09:00

    world.clock.advance(timedelta(hours=1, minutes=59))
    assert fail_over_together(world) == 0
    world.clock.advance(timedelta(minutes=1))
    assert fail_over_together(world) == 1
    assert world.dispatch() == {"sent": 1}
    assert len(world.emails_to(cleo["email"])) == 1


def test_a_later_email_through_the_new_sender_starts_a_new_thread_with_its_own_subject(world):
    bea, cal, ben, cleo = two_senders(world, TWO_EMAILS)
    world.advance(hours=1)  # step 1 goes out through each lead's sender; no login is checked yet
    (first,) = world.emails_to(cleo["email"])
    assert first["From"].addresses[0].addr_spec == "cal@plera.example"

    world.smtp.require_auth("bea", "bea-secret")  # from now on Cal's login is refused
    assert world.advance(days=1) == {"sent": 1, "sender_paused": 1}  # Ben's "Re:" through Bea; Cleo's refused
    world.clock.advance(timedelta(hours=24))
    assert fail_over_together(world) == 1
    assert world.dispatch() == {"sent": 1}

    first_to_cleo, second_to_cleo = world.emails_to(cleo["email"])
    assert second_to_cleo["From"].addresses[0].addr_spec == "bea@plera.example"
    assert second_to_cleo["Subject"] == first["Subject"]  # its own subject, not "Re: …" of Cal's mail
    assert second_to_cleo["In-Reply-To"] is None and second_to_cleo["References"] is None
    _, second_to_ben = world.emails_to(ben["email"])
    assert second_to_ben["Subject"] == "Re: " + first["Subject"]  # Ben's thread stays with Bea
    assert any("Step 2 (email) moved to another email sender" in s for s in summaries(world, "Cleo"))
    assert verify(world.sv, ALL) == []  # the due queue and the timeline rebuild to the same rows


def test_a_sender_taken_out_of_the_sequences_senders_hands_its_leads_over_at_once(world):
    bea, cal, ben, cleo = two_senders(world, ONE_EMAIL)
    send_email_from(world, bea)  # a person takes Cal out of the sequence

    assert world.advance(hours=1) == {"sent": 1, "moved": 1}  # 09:00 in Berlin: Ben's, and Cleo moves to Bea
    assert world.advance(minutes=10) == {"sent": 1}  # Cleo's, in Bea's next slot: the new sender's limits apply

    (to_cleo,) = world.emails_to(cleo["email"])
    assert to_cleo["From"].addresses[0].addr_spec == "bea@plera.example"
    assert len(world.smtp.messages) == 2
    assert world.enrollment("Cleo").senders["email"] == bea
    assert sender(world, cal).status == "active"  # nothing wrong with Cal: it just no longer sends this sequence
    assert any("the sender was taken out of the sequence's senders" in s for s in summaries(world, "Cleo"))


def test_a_lead_stays_on_its_paused_sender_when_no_other_sender_of_the_channel_is_active(world):
    bea, cal, ben, cleo = two_senders(world, ONE_EMAIL)
    world.smtp.require_auth("bea", "bea-secret")  # from now on Cal's login is refused (it passed its check)
    world.advance(hours=1)
    set_sender_status(world.sv, world.workspace_id, bea, paused=True, reason="holiday", actor=ACTOR)
    world.clock.advance(timedelta(days=2))
    assert fail_over_together(world) == 0
    assert world.enrollment("Cleo").senders["email"] == cal
    assert len(world.emails_to(cleo["email"])) == 0


def test_the_dashboard_counts_a_lead_waiting_on_a_paused_sender_as_failed_and_names_the_sender(world):
    bea, cal, ben, cleo = two_senders(world, ONE_EMAIL)
    world.smtp.require_auth("bea", "bea-secret")  # from now on Cal's login is refused (it passed its check)
    assert world.sequence_id is not None
    with world.sv.db.pool.connection() as conn:
        assert sequence_problems(conn, world.sequence_id, [bea, cal]) == []

    world.advance(hours=1)
    reason = sender(world, cal).paused_reason
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id, [bea, cal])
        alone = sequence_problems(conn, world.sequence_id, [bea, cal])
    assert board is not None
    (step,) = board["steps"]
    assert (step["sent"], step["failed"], step["scheduled"]) == (1, 1, 1)
    assert (
        board["problems"]
        == alone
        == [
            {
                "code": "sender_paused",
                "detail": f"Cal is paused ({reason}): 1 lead wait on it",
                "sender_id": cal,
                "sender_name": "Cal",
                "reason": reason,
                "leads_waiting": 1,
                "steps": [1],
            }
        ]
    )

    world.clock.advance(timedelta(hours=24))
    fail_over_together(world)
    world.dispatch()
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id, [bea, cal])
    assert board is not None
    (step,) = board["steps"]
    assert (step["sent"], step["failed"]) == (2, 0)  # Cleo's went out through Bea
    (problem,) = board["problems"]
    assert (problem["code"], problem["leads_waiting"], problem["steps"]) == ("sender_paused", 0, [])
