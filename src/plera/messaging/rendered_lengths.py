"""How many leads a LinkedIn text with logic leaves longer than its limit, from groups of leads.

Pure. A text with logic (a filter, `if`, `for`) has no segments to sum in SQL, so it is rendered, but
not for every lead: its rendered text depends only on the lead fields it reads and on the sender the
lead gets. The database groups the leads by those fields with how many leads each group holds; the
groups merge here by the fields' shapes where only the shape counts (template_shapes), and each is
rendered once for all its leads. The count is exactly the one rendering every lead gives (`each lead`, the reference the
tests compare it with): the same leads are skipped (no LinkedIn URL), and a lead with a message of
its own is rendered with it, one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from plera.messaging.previews import Previewer
from plera.messaging.readiness import Lab
from plera.messaging.template_shapes import shape_of, shaped_fields
from plera.messaging.templates import LEAD_FIELDS, analyse, context_of, render

Group = tuple[Mapping[str, str | None], UUID | None, int]
"""A group of leads: the values of the fields asked, the lead's id when grouped by lead, how many leads."""


@dataclass(frozen=True)
class Grouping:
    """How to group the leads for a step's text."""

    fields: tuple[str, ...]  # the lead fields the text reads
    shaped: frozenset[str]  # of them, those it reads only by their shape
    by_lead: bool  # the text reads a sender field that differs between the senders a lead may get


def grouping(lab: Lab, previewer: Previewer, step: int) -> Grouping:
    source, channel = _source(lab, step), lab.steps[step - 1]["channel"]
    read = analyse(source, channel=channel).variables
    fields = tuple(f for f in LEAD_FIELDS if f"lead.{f}" in read)
    sender_read = sorted(v.removeprefix("sender.") for v in read if v.startswith("sender."))
    senders = {tuple(previewer.sender_fields(s)[f] for f in sender_read) for s in _possible_senders(lab, step)}
    return Grouping(fields, shaped_fields(source) & set(fields), len(senders) > 1)


def count_longer(lab: Lab, previewer: Previewer, step: int, limit: int, groups: Iterable[Group]) -> int:
    """The leads of the groups whose text for the step renders longer than `limit` characters."""
    source, channel = _source(lab, step), lab.steps[step - 1]["channel"]
    alone = next(iter(_possible_senders(lab, step)))
    weights: Counter[tuple[tuple[tuple[str, str | None], ...], tuple[tuple[str, str | None], ...]]] = Counter()
    shaped = shaped_fields(source)
    for values, lead_id, leads in groups:
        sender = previewer.sender_of(lead_id, channel) if lead_id is not None else alone
        lead = tuple((f, shape_of(v) if f in shaped and v is not None else v) for f, v in values.items())
        weights[lead, tuple(previewer.sender_fields(sender).items())] += leads
    longer = 0
    for (lead, sender), leads in weights.items():
        text = render(source, context_of(dict(lead), dict(sender)), channel=channel).text
        longer += leads if len(text) > limit else 0
    return longer


def count_longer_each(
    previewer: Previewer, rows: Iterable[Mapping[str, Any]], limits: Mapping[str, tuple[int, int]]
) -> dict[str, int]:
    """The same counts (name → (step, limit)), rendering each lead's steps as its preview shows them."""
    longer = dict.fromkeys(limits, 0)
    for row in rows:
        items = previewer.preview(row)
        for name, (step, limit) in limits.items():
            longer[name] += len(items[step - 1].body) > limit
    return longer


def own_messages(lab: Lab, step: int) -> list[UUID]:
    """The leads with a message of their own for the step."""
    key = lab.steps[step - 1]["key"]
    return [UUID(str(o["lead_id"])) for o in lab.overrides if o["step_key"] == key]


def _source(lab: Lab, step: int) -> str:
    return str(lab.messages[lab.steps[step - 1]["key"]]["body"])


def _possible_senders(lab: Lab, step: int) -> list[Any]:
    """The senders a lead of the step may get (sender_assignment skips those without capacity), or None."""
    family = lab.family(lab.steps[step - 1])
    return [s for s in lab.senders.get(family) or [] if s.status == "active" and s.daily_limit > 0] or [None]
