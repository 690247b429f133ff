"""Sender accounts as the worker meets them: blank credentials send through a relay without a login,
and a sender whose check failed sends nothing until a check passes."""

from __future__ import annotations

from plera.aggregates.enrollment import StepStatus
from plera.aggregates.sender_account import SenderAccount
from plera.commands.sender_accounts import (
    AddSenderAccount,
    ChangeSenderAccount,
    SmtpSettings,
    add_sender_account,
    change_sender_account,
)
from tests.integration.sending.helpers import sender
from tests.integration.sending.world import ACTOR

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "always"}]
KIM = {"first_name": "Kim", "email": "kim@acme.example", "timezone": "Europe/Berlin"}


def test_a_sender_with_blank_credentials_sends_through_a_relay_without_auth(world, smtp_relay):
    blank = {"host": smtp_relay.host, "port": smtp_relay.port, "username": "", "password": "", "starttls": False}
    cmd = AddSenderAccount.model_validate(
        {"channel": "email", "name": "Relay", "address": "relay@plera.example", "daily_limit": 100, "smtp": blank}
    )
    added = add_sender_account(world.sv, world.workspace_id, cmd, ACTOR)
    assert (added.status, added.connection["username"], added.connection["password_secret_id"]) == (
        "active",
        None,
        None,
    )
    world.senders["email"] = added.id
    world.import_leads(KIM)
    world.launch(steps=ONE_EMAIL)

    assert world.advance(hours=1) == {"sent": 1}  # Monday 09:00 in Berlin

    assert [m.rcpt_tos for m in smtp_relay.messages] == [["kim@acme.example"]]
    assert smtp_relay.logins == []
    assert sender(world, added.id).status == "active"


def test_a_sender_kept_with_a_blank_username_before_that_rule_still_sends_without_a_login(world, smtp_relay):
    connection = {"kind": "smtp", "host": smtp_relay.host, "port": smtp_relay.port, "username": "", "starttls": False}
    kept = SenderAccount.add(
        workspace_id=world.workspace_id,
        channel="email",
        name="Old",
        address="old@plera.example",
        daily_limit=100,
        connection=connection | {"password_secret_id": None},
        at=world.clock.now(),
        actor=ACTOR,
    )
    world.sv.events.save(kept)  # as stored by an older release: never checked, active
    world.senders["email"] = kept.id
    world.import_leads(KIM)
    world.launch(steps=ONE_EMAIL)

    assert world.advance(hours=1) == {"sent": 1}
    assert len(smtp_relay.messages) == 1 and sender(world, kept.id).status == "active"


def test_an_unverified_sender_sends_nothing_until_its_settings_check_out(world):
    world.import_leads(KIM)
    world.launch(steps=ONE_EMAIL)
    email = world.senders["email"]
    good = SmtpSettings(host=world.smtp.host, port=world.smtp.port, starttls=False)
    dead = good.model_copy(update={"port": 1})  # nothing listens there
    broken = change_sender_account(world.sv, world.workspace_id, email, ChangeSenderAccount(smtp=dead), ACTOR)
    assert broken.status == "unverified" and "cannot reach" in (broken.last_error or "")
    world.catch_up()

    world.advance(hours=1)  # Monday 09:00 in Berlin: the step is due, its sender cannot send
    assert world.smtp.messages == []
    assert world.enrollment("Kim").step_status(1) is StepStatus.SCHEDULED

    fixed = change_sender_account(world.sv, world.workspace_id, email, ChangeSenderAccount(smtp=good), ACTOR)
    assert fixed.status == "active"
    world.catch_up()
    world.advance(minutes=10)
    assert [m.rcpt_tos for m in world.smtp.messages] == [["kim@acme.example"]]
