"""After a step is done (sent, skipped, failed, unknown) or a lead may go on again: schedule what comes next.

The rule is the enrollment's (LeadEnrollment.schedule_next), given the facts it needs: the workspace's
sending rules, the recipient's zone and the channels the lead has an address on. A later step is
eligible at the window start on the recipient's calendar day `delay_days` after the previous step
went out or was skipped; a step the lead has no address for is skipped when it comes up.
"""

from __future__ import annotations

from datetime import datetime

from plera.aggregates.channels import Channel
from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.scheduling import policy


def rules_of(workspace: Workspace) -> policy.SendingRules:
    return policy.SendingRules.from_workspace(
        workspace.timezone,
        workspace.window_start,
        workspace.window_end,
        workspace.sending_days,
        workspace.holiday_countries,
    )


def zone_of(lead: Lead, rules: policy.SendingRules) -> policy.RecipientZone:
    d = lead.details
    return policy.recipient_zone(
        timezone=d.get("timezone"),
        city=d.get("city"),
        country=d.get("country"),
        phone=d.get("phone"),
        workspace_zone=rules.timezone,
    )


def reachable_on(lead: Lead) -> frozenset[str]:
    """The account channels ("email", "linkedin") the lead has an address on."""
    return reachable(email=lead.address_for(Channel.EMAIL), linkedin_url=lead.address_for(Channel.LINKEDIN_INVITE))


def reachable(*, email: str | None, linkedin_url: str | None) -> frozenset[str]:
    """The account channels a lead with these addresses (blank: none) can be reached on."""
    return frozenset(family for family, address in (("email", email), ("linkedin", linkedin_url)) if address)


def schedule_next(
    enrollment: LeadEnrollment, sequence: Sequence, rules: policy.SendingRules, lead: Lead, *, at: datetime, actor: str
) -> bool:
    """Schedules the lead's next step if it waits (skipping, right away, the steps it has no address
    for), completes the lead when none is left. False when it must wait (the sequence or the lead is
    paused, or the lead is closed)."""
    return enrollment.schedule_next(
        rules=rules,
        zone=zone_of(lead, rules).zone,
        reachable=reachable_on(lead),
        sequence_running=sequence.is_running,
        at=at,
        actor=actor,
    )
