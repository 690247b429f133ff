"""What the API and pages show of leads: a group's leads, and one lead with what applies to it.

Read from the read models (moments behind the commands), except the suppression, which is read
where the send protocol reads it (the event store, decision 0008), so the lead's page never says
"not suppressed" about a person the dispatcher would skip.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.workspace import Workspace
from plera.commands.suppressions import suppression_for
from plera.projections.leads import enrollments_of_lead, get_lead, group_leads, groups_of_lead
from plera.runtime import Services
from plera.scheduling.policy import recipient_zone


def list_group_leads(
    sv: Services, workspace_id: UUID, group_id: UUID, *, q: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of the group's leads ({items, next_cursor}); NotFound for a group of another workspace."""
    with sv.db.pool.connection() as conn:
        page = group_leads(conn, workspace_id, group_id, q=q, limit=limit, cursor=cursor)
    if page is None:
        sv.events.get(group_id, SourceGroup, workspace_id)  # another workspace's, or none: NotFound
        return {"items": [], "next_cursor": None}  # created a moment ago: the read model has not caught up
    return page


def lead_detail(sv: Services, workspace_id: UUID, lead_id: UUID) -> dict[str, Any]:
    """The lead's fields, the zone its messages are timed in and why, its source groups, its
    enrollments and the suppression that applies to it. NotFound for a lead of another workspace."""
    with sv.db.pool.connection() as conn:
        lead = get_lead(conn, workspace_id, lead_id)
        groups = groups_of_lead(conn, workspace_id, lead_id)
        enrollments = enrollments_of_lead(conn, workspace_id, lead_id)
    if lead is None:  # imported a moment ago, or not the workspace's (NotFound)
        details = sv.events.get(lead_id, Lead, workspace_id).as_dict()
        lead = {**details, "name": " ".join(p for p in (details["first_name"], details["last_name"]) if p) or None}
    workspace = sv.events.get(workspace_id, Workspace)
    zone = recipient_zone(
        timezone=lead["timezone"],
        city=lead["city"],
        country=lead["country"],
        phone=lead["phone"],
        workspace_zone=workspace.timezone,
    )
    suppression = suppression_for(sv, workspace_id, email=lead["email"], linkedin_url=lead["linkedin_url"])
    return {
        **lead,
        "zone": zone.zone,
        "zone_source": zone.source,
        "source_groups": groups,
        "enrollments": enrollments,
        "suppression": suppression,
    }
