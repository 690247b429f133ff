"""What the leads do in the demo, and the other side that does it: the leads, their mail servers and mail
clients, and the LinkedIn provider, all reaching Plera through its public API as they would in production.

- accept: the lead accepts the invite in the LinkedIn sandbox, which posts its signed webhook;
- reply, out_of_office, bounce: mail answering the message the SMTP sink received for the step,
  posted to the signed inbound-mail webhook (the bounce is the sending side's DSN returning it);
- unsubscribe: the lead's mail client makes the RFC 8058 one-click POST to that message's
  List-Unsubscribe URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead, normalise_linkedin_url
from plera.channels.linkedin_sandbox import SandboxServer
from plera.channels.signatures import signed_headers
from plera.demo import lead_mail
from plera.demo_sinks import SmtpSink, SunkEmail

Kind = Literal["accept", "reply", "out_of_office", "bounce", "unsubscribe"]

WHAT: dict[Kind, str] = {
    "accept": "accepted the LinkedIn invite",
    "reply": "replied",
    "out_of_office": "out-of-office auto-reply",
    "bounce": "email bounced (5.1.1 user unknown)",
    "unsubscribe": "clicked the one-click unsubscribe",
}

REPLY_TEXT = "Hi Alex,\n\nGood timing: our pipeline reviews are overdue. Could we talk on Tuesday at 10?\n\nMarco"


@dataclass
class Reaction:
    """What a lead does some time after one of their steps went out: the demo plays the lead."""

    first_name: str
    after_step: int
    delay: timedelta
    kind: Kind
    at: datetime | None = None  # planned once the step went out
    happened_at: datetime | None = None
    answer: str = ""  # what Plera's API answered
    never: bool = False  # the step did not go out, so there was nothing to react to


def reactions() -> list[Reaction]:
    return [
        Reaction("Sarah", after_step=1, delay=timedelta(hours=26), kind="accept"),  # the next morning, her time
        Reaction("Aisha", after_step=2, delay=timedelta(minutes=1), kind="bounce"),  # her server refuses at once
        Reaction("Kenji", after_step=2, delay=timedelta(minutes=2), kind="out_of_office"),  # back next Monday
        Reaction("Marco", after_step=2, delay=timedelta(hours=5), kind="reply"),  # the same afternoon
        Reaction("Priya", after_step=3, delay=timedelta(hours=2), kind="unsubscribe"),  # the follow-up was one too many
    ]


def back_on(at: datetime, zone: str) -> datetime:
    """The Monday after `at`, where the lead is: the return date of the out-of-office."""
    day = at.astimezone(ZoneInfo(zone))
    return day + timedelta(days=7 - day.weekday())


class OtherSide:
    """The leads and the services between them and Plera."""

    def __init__(
        self, api_url: str, workspace_id: UUID, webhook_secret: str, smtp: SmtpSink, sandbox: SandboxServer
    ) -> None:
        self.workspace_id, self.webhook_secret = workspace_id, webhook_secret
        self.smtp, self.sandbox = smtp, sandbox
        self.http = httpx.Client(base_url=api_url, timeout=30)
        # The provider tells Plera of acceptances through its signed webhook, as a real one would.
        sandbox.sandbox.configure_webhook(f"{api_url}/v1/webhooks/{workspace_id}/linkedin", webhook_secret)

    def close(self) -> None:
        self.http.close()

    def react(self, reaction: Reaction, lead: Lead, enrollment: LeadEnrollment, zone: str, now: datetime) -> str:
        """Does what the lead does; returns Plera's answer, as "202 reply" or "200"."""
        if reaction.kind == "accept":
            return self._accept_invite(lead)
        sent = self._sent(enrollment, reaction.after_step)
        if reaction.kind == "unsubscribe":
            return self._click_unsubscribe(sent)
        if reaction.kind == "reply":
            raw = lead_mail.reply(sent, text=REPLY_TEXT, at=now)
        elif reaction.kind == "out_of_office":
            raw = lead_mail.auto_reply(sent, back_on=back_on(now, zone).date(), signature=lead.name, at=now)
        else:
            raw = lead_mail.hard_bounce(sent, at=now)
        return self._deliver_mail(raw)

    def _sent(self, enrollment: LeadEnrollment, step: int) -> SunkEmail:
        message_id = enrollment.steps[step - 1]["message_id"]
        sent = self.smtp.by_message_id(message_id)
        if sent is None:
            raise RuntimeError(f"the SMTP sink has no message {message_id}")
        return sent

    def _deliver_mail(self, raw: bytes) -> str:
        """The workspace's mail provider forwards the message to the signed inbound webhook."""
        headers = signed_headers(self.webhook_secret, int(time.time()), raw)  # real time: it guards replays
        answer = self.http.post(
            f"/v1/webhooks/{self.workspace_id}/email/inbound",
            content=raw,
            headers={**headers, "Content-Type": "message/rfc822"},
        )
        answer.raise_for_status()
        return f"{answer.status_code} {answer.json()['classification']}"

    def _click_unsubscribe(self, sent: SunkEmail) -> str:
        """RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the header's URL."""
        if not sent.list_unsubscribe:
            raise RuntimeError(f"message {sent.message_id} has no List-Unsubscribe link")
        answer = self.http.post(
            sent.list_unsubscribe,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        answer.raise_for_status()
        return str(answer.status_code)

    def _accept_invite(self, lead: Lead) -> str:
        wanted = normalise_linkedin_url(lead.details["linkedin_url"])
        invitation = next(
            i
            for i in self.sandbox.sandbox.state()["invitations"]
            if normalise_linkedin_url(i["recipient_profile_url"]) == wanted
        )
        answer = self.sandbox.sandbox.accept(
            {"account_id": invitation["account_id"], "profile_url": invitation["recipient_profile_url"]}
        )
        if answer.status != 200:
            raise RuntimeError(f"the sandbox could not deliver its webhook: {answer.body}")
        return str(answer.body["webhook"]["status"])
