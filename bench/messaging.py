"""The Messaging Lab at scale: previews and readiness of a 4-step sequence over 10,000 leads.

Run: python bench/messaging.py [--leads N] [--runs R]
     (PLERA_DATABASE_URL's server, else the local one; a scratch database is made and dropped)

Setup, through the real commands: a workspace, a strategy profile, a source group of N leads
(default 10,000, imported 1,000 at a time; varied: blank first names and companies, missing
cities, LinkedIn-only leads), marked enriched; a sequence linkedin_invite, email, email, linkedin_message drafted by the offline
writer, with an email and a LinkedIn sender on local sinks chosen, every step approved; the in-process
feed caught up, so the read models hold the leads.

Prints
  (a) previews: every step for every lead, `previewer_for(...).preview(row)` over
      `lead_rows(..., limit=N)`, the lead query included (target <= 5 s), then the rendering alone;
      the median of R runs, and the first (cold) run apart;
  (b) readiness: `readiness(sv, workspace, sequence)`, median and max of 5 runs (target <= 2 s);
      then again once the invite note has template logic (`{% if %}`), whose length readiness knows by
      rendering it once per group of leads that read the same (bench/readiness.py compares the ways).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections import Counter
from typing import Any

from common import make_ready_on_sinks, scratch_services

from plera.aggregates.sequence import Sequence
from plera.commands.lead_import import parse_json_rows
from plera.commands.messaging import (
    MessageIn,
    approve_message,
    edit_message,
    previewer_for,
    readiness,
)
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.lead_data import lead_rows
from plera.runtime import Services

ACTOR = "bench"
IMPORT_BATCH = 1_000
STEPS = [
    {"name": "Connect", "channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"name": "First email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Follow-up", "channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"name": "Thanks", "channel": "linkedin_message", "delay_days": 2, "condition": "no_reply"},
]
FIRST_NAMES = ["Lena", "Jonas", "Amélie", "Sofia", "Mateo", "Priya", "Kenji", "Zoë", "Oluwaseun", "Bartholomew"]
LAST_NAMES = ["Berg", "Müller", "Okafor", "García", "Nakamura", "Smith", "O'Brien", "Novak"]
COMPANIES = ["Northwind", "Contoso Ltd", "Initech", "Umbrella Analytics", "Globex & Sons", "Hooli", "Acme GmbH"]
TITLES = ["Head of Sales", "VP Revenue", "Sales Director", "Founder", "CRO", "Account Executive"]
PLACES = [
    ("Berlin", "DE", "Europe/Berlin"),
    ("Paris", "FR", "Europe/Paris"),
    ("Austin", "US", "America/Chicago"),
    ("Tokyo", "JP", "Asia/Tokyo"),
    ("Lagos", "NG", "Africa/Lagos"),
    ("São Paulo", "BR", "America/Sao_Paulo"),
]
NOTE_WITH_LOGIC = (
    "Hi {{ lead.first_name | default('there') }}, {% if lead.company %}I follow {{ lead.company }}'s work"
    "{% else %}I follow your work{% endif %} and would be glad to connect."
)


def lead_row(i: int, rng: random.Random) -> dict[str, str]:
    """One varied lead: about 15% without a first name, 10% without a company, 20% without a city,
    10% reachable on LinkedIn only and 25% by email only."""
    city, country, tz = rng.choice(PLACES)
    reach = rng.random()
    row = {
        "first_name": "" if rng.random() < 0.15 else rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "company": "  " if rng.random() < 0.10 else rng.choice(COMPANIES),
        "title": rng.choice(TITLES),
        "city": "" if rng.random() < 0.20 else city,
        "country": country,
        "timezone": tz,
        "email": "" if reach < 0.10 else f"lead{i}@bench{i % 97}.example",
        "linkedin_url": "" if 0.10 <= reach < 0.35 else f"https://www.linkedin.com/in/bench-lead-{i}",
    }
    return row


def build(sv: Services, n: int) -> tuple[Any, Any, list[Any]]:
    """The workspace and its ready sequence over n leads, the read models caught up."""
    ws = create_workspace(sv, CreateWorkspace(name="bench messaging"), ACTOR).workspace
    run = create_run(sv, ws.id, CreateRun(name="Q1"), ACTOR)
    profile = create_strategy_profile(
        sv,
        ws.id,
        CreateStrategyProfile(
            name="Revenue leaders",
            offer="pipeline reviews that find stalled deals in a week",
            persona="heads of sales at B2B software companies",
            tone="plain and friendly",
            call_to_action="a 20-minute call next week",
            signature="Alex from Plera",
            avoid_words=["synergy"],
        ),
        ACTOR,
    )
    group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="10k"), ACTOR)
    rng = random.Random(7)
    rows = [lead_row(i, rng) for i in range(n)]
    # In imports of 1,000, as uploads come: one save of 10,000 events now and then hangs in psycopg's
    # pipeline sync (the server waits in ClientRead for the rest of the statement; see the report).
    for start in range(0, n, IMPORT_BATCH):
        imported = import_leads(sv, ws.id, group.id, parse_json_rows(rows[start : start + IMPORT_BATCH]), ACTOR)
        assert not imported.rejected, imported.rejected[:3]
    mark_enriched(sv, ws.id, group.id, ACTOR)
    sequence = create_sequence(
        sv,
        ws.id,
        CreateSequence.model_validate(
            {
                "run_id": run.id,
                "name": "LinkedIn first",
                "strategy_profile_id": profile.id,
                "source_group_ids": [group.id],
                "steps": STEPS,
            }
        ),
        ACTOR,
    )
    InProcessFeed(sv, ALL).catch_up()  # draft_messages reads sample leads from the read models
    # Drafts, a sender a channel on local sinks (senders are checked when added), every step approved
    make_ready_on_sinks(sv, ws.id, sequence.id)
    InProcessFeed(sv, ALL).catch_up()
    return ws, sequence, [group.id]


def previews_once(sv: Services, ws: Any, sequence: Any, groups: list[Any], n: int) -> tuple[float, float, Counter]:
    """One pass over every lead: (seconds in all, seconds rendering, what came out)."""
    started = time.perf_counter()
    with sv.db.pool.connection() as conn:
        rows = lead_rows(conn, ws.id, groups, limit=n)
    previewer = previewer_for(sv, sv.events.get(sequence.id, Sequence, ws.id))
    rendering = time.perf_counter()
    out: Counter = Counter()
    for row in rows:
        for item in previewer.preview(row):
            out["items"] += 1
            out["errors"] += item.error is not None
            out["fallbacks"] += bool(item.fallbacks_used)
    done = time.perf_counter()
    out["leads"] = len(rows)
    return done - started, done - rendering, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="preview passes (the median is printed)")
    args = parser.parse_args()
    n = args.leads
    with scratch_services(openai_api_key=None) as sv:  # the offline writer, whatever the environment says
        t = time.perf_counter()
        ws, sequence, groups = build(sv, n)
        setup_s = time.perf_counter() - t

        passes = [previews_once(sv, ws, sequence, groups, n) for _ in range(max(1, args.runs))]
        total_s = statistics.median(p[0] for p in passes)
        render_s = statistics.median(p[1] for p in passes)
        cold_total, cold_render, out = passes[0]
        assert out["leads"] == n, f"{out['leads']} of {n} leads are eligible"

        samples, report = timed_readiness(sv, ws, sequence)
        # A LinkedIn text with template logic, whose length only rendering tells (once per group of leads).
        edit_message(sv, ws.id, sequence.id, 1, MessageIn(body=NOTE_WITH_LOGIC), ACTOR, lead_id=None)
        approve_message(sv, ws.id, sequence.id, 1, ACTOR, lead_id=None)
        logic_samples, logic_report = timed_readiness(sv, ws, sequence)

    items, steps = out["items"], len(STEPS)
    one, five, _ = os.getloadavg()
    print(f"machine:    load average {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores")
    print(f"setup:      {n:,} leads imported, enriched, drafted, senders chosen, approved in {setup_s:.1f} s")
    print(
        f"previews: {items:,} ({n:,} leads x {steps} steps) in {total_s:.2f} s (target <= 5 s)"
        f"  [median of {len(passes)}; lead query included]"
    )
    print(f"  rendering alone: {render_s:.2f} s ({items / render_s:,.0f} previews/s)")
    print(f"  first pass (cold template cache): {cold_total:.2f} s, rendering {cold_render:.2f} s")
    print(f"  {out['errors']} with an error, {out['fallbacks']:,} using a fallback")
    print(
        f"readiness: median {statistics.median(samples):.3f} s, max {max(samples):.3f} s over 5 runs"
        f" on {n:,} leads (target <= 2 s)"
    )
    print(f"  ready: {report['ready']}; findings: {summary(report)}")
    print(
        f"readiness, invite note with {{% if %}} (rendered per group): median {statistics.median(logic_samples):.3f} s,"
        f" max {max(logic_samples):.3f} s over 5 runs"
    )
    print(f"  ready: {logic_report['ready']}; findings: {summary(logic_report)}")


def timed_readiness(sv: Services, ws: Any, sequence: Any, runs: int = 5) -> tuple[list[float], dict[str, Any]]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        report = readiness(sv, ws.id, sequence.id)
        samples.append(time.perf_counter() - t)
    return samples, report


def summary(report: dict[str, Any]) -> str:
    found = Counter(f"{f['code']} ({f['severity']})" for f in report["findings"])
    return ", ".join(f"{code} x{count}" if count > 1 else code for code, count in found.items()) or "none"


if __name__ == "__main__":
    main()
