"""A sequence's steps and settings as values: validation, and the stable key each step keeps.

A step's key names it across edits: its message and approval belong to the key, so they move
with the step when draft steps are reordered, and a removed step takes its message with it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

from plera.aggregates.channels import Channel, Condition
from plera.aggregates.errors import InvalidValue

DEFAULT_SETTINGS: dict[str, Any] = {
    "company_stop": "off",
    "daily_new_leads": None,
    "invite_without_note": False,
    "sender_failover_hours": 24,
}
COMPANY_STOP = ("off", "stop", "pause")
MAX_FAILOVER_HOURS = 720  # 30 days: a longer wait is a lead stranded in all but name


def sender_failover(settings: dict[str, Any]) -> timedelta:
    """How long a due step waits on a paused or unavailable sender before it moves to another one."""
    return timedelta(hours=settings.get("sender_failover_hours", DEFAULT_SETTINGS["sender_failover_hours"]))


def checked_steps(steps: list[dict[str, Any]], current: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Validates steps and returns them in their stored shape; step numbers are positions from 1.

    A step that names the key of a current step is that step, moved or changed. A step that
    names none is the current step at its position (so editing in place keeps the messages),
    unless that step's key is named elsewhere in the list; else it is new, with a new key.
    """
    if not steps:
        raise InvalidValue("a sequence needs at least one step")
    known_keys = [s["key"] for s in current or []]
    named = {s.get("key") for s in steps} - {None}
    out = []
    seen: set[str] = set()
    for number, step in enumerate(steps, start=1):
        try:
            channel = Channel(str(step.get("channel")))
        except ValueError:
            raise InvalidValue(f"step {number}: channel is one of {', '.join(c.value for c in Channel)}") from None
        try:
            condition = Condition(step.get("condition", Condition.ALWAYS))
        except ValueError:
            raise InvalidValue(f"step {number}: condition is always or no_reply") from None
        delay = step.get("delay_days", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise InvalidValue(f"step {number}: delay_days must be a whole number of days, 0 or more")
        key = step.get("key")
        if key is not None and key not in known_keys:
            raise InvalidValue(f"step {number}: no step has the key {key!r}; leave it out for a new step")
        if key in seen:
            raise InvalidValue(f"step {number}: the key {key!r} is used twice")
        if key is None and number <= len(known_keys) and known_keys[number - 1] not in named:
            key = known_keys[number - 1]
        key = key or uuid4().hex[:12]
        seen.add(key)
        out.append(
            {
                "key": key,
                "name": step.get("name"),
                "channel": channel.value,
                "delay_days": delay,
                "condition": condition.value,
            }
        )
    return out


def checked_settings(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(DEFAULT_SETTINGS)
    if unknown:
        raise InvalidValue(f"unknown settings: {', '.join(sorted(unknown))}")
    merged = DEFAULT_SETTINGS | current | changes  # a sequence created before a setting existed has its default
    if merged["company_stop"] not in COMPANY_STOP:
        raise InvalidValue("company_stop is off, stop or pause")
    limit = merged["daily_new_leads"]
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidValue("daily_new_leads is a positive number, or null for no limit")
    if not isinstance(merged["invite_without_note"], bool):
        raise InvalidValue("invite_without_note is true or false")
    hours = merged["sender_failover_hours"]
    if not isinstance(hours, int) or isinstance(hours, bool) or not 0 <= hours <= MAX_FAILOVER_HOURS:
        raise InvalidValue(f"sender_failover_hours is a whole number of hours from 0 to {MAX_FAILOVER_HOURS}")
    return merged
