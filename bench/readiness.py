"""Readiness at scale: a 4-step sequence over 225,000 leads, with simple LinkedIn texts and with logic.

Run: python bench/readiness.py [--leads N] [--runs R] [--keep | --reuse DATABASE]
     (PLERA_DATABASE_URL's server, else the local one)

Setup, through the real commands (bench/messaging.py's `build`): N varied leads (default 225,000)
imported 1,000 at a time, enriched, a sequence linkedin_invite, email, email, linkedin_message drafted,
senders chosen, every step approved. Building takes long on a busy machine: `--keep` keeps the
scratch database and prints its name, `--reuse` measures on it again (it is never dropped then).

The read models are ANALYZEd first, as autovacuum would after the bulk load. Prints the median and
max of R readiness runs (default 5):
  (a) the offline writer's simple templates (lengths in SQL from the template's segments);
  (b) a LinkedIn note with filters and `{% if %}`, and a LinkedIn message with a `{% for %}` loop,
      counted the way readiness does it (leads grouped by what the templates read, one render a group)
      and, side by side, by rendering every lead (`render_each_lead=True`, the path before).
The findings of both ways are compared, and must be equal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from common import machine_load, scratch_services
from messaging import ACTOR, build, summary
from psycopg.conninfo import conninfo_to_dict

from plera.aggregates.sequence import Sequence
from plera.commands.messaging import MessageIn, approve_message, edit_message, readiness
from plera.runtime import Services

NOTE_WITH_LOGIC = (
    "Hi {{ lead.first_name | default('there') | title }}, {% if lead.company %}I follow"
    " {{ lead.company | trim }}'s work{% else %}I follow your work{% endif %} and would be glad to connect."
)
MESSAGE_WITH_LOOP = (
    "Thanks for connecting, {{ lead.first_name | default('there') }}!"
    "{% for topic in ['pipeline', 'forecasts', 'handoffs'] %}\n- {{ topic | capitalize }} at"
    " {{ lead.company | default('your team') | upper }}{% endfor %}\n{{ sender.name }}"
)


def _state_file(database: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{database}.readiness-bench.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=225_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and print its name")
    parser.add_argument("--reuse", help="a database kept by an earlier --keep run")
    args = parser.parse_args()
    with scratch_services(openai_api_key=None, keep=args.keep, reuse=args.reuse) as sv:
        database = str(conninfo_to_dict(sv.db.url)["dbname"])
        print(f"database:  {database}", flush=True)
        if args.reuse:
            state = json.loads(_state_file(args.reuse).read_text())
            ws, sequence, n, setup = UUID(state["ws"]), UUID(state["sequence"]), state["leads"], state["setup_s"]
        else:
            t = time.perf_counter()
            built_ws, built_sequence, _ = build(sv, args.leads)
            ws, sequence, n, setup = built_ws.id, built_sequence.id, args.leads, time.perf_counter() - t
            drafted = sv.events.get(sequence, Sequence, ws)
            simple_texts = {s: drafted.messages[drafted.steps[s - 1]["key"]]["body"] for s in (1, 4)}
            state = {"ws": str(ws), "sequence": str(sequence), "leads": n, "setup_s": setup, "simple": simple_texts}
            _state_file(database).write_text(json.dumps(state))
        # The offline writer's simple texts, also when an earlier run left the texts with logic in place
        put_linkedin_texts(sv, ws, sequence, {int(k): v for k, v in state["simple"].items()})
        print(f"setup:     {n:,} leads imported, enriched, drafted, approved in {setup:.0f} s (database {database})")
        with sv.db.pool.connection() as conn:  # the statistics autovacuum gathers after a bulk load, now
            conn.execute("ANALYZE read.leads, read.lead_groups, read.catalog")
        print(f"machine:   {machine_load()} (before the measurements)")

        simple, report = timed(sv, ws, sequence, args.runs)
        print(f"simple templates:          {figures(simple)}")
        print(f"  findings: {summary(report)}")

        put_linkedin_texts(sv, ws, sequence, {1: NOTE_WITH_LOGIC, 4: MESSAGE_WITH_LOOP})
        grouped, report = timed(sv, ws, sequence, args.runs)
        each, per_lead = timed(sv, ws, sequence, args.runs, render_each_lead=True)
        print(f"filter + if + for, grouped: {figures(grouped)}")
        print(f"  the same, each lead rendered (before): {figures(each)}")
        print(f"  findings: {summary(report)}")
        assert report == per_lead, (report, per_lead)
        print("  the findings of both ways are equal")
        print(f"machine:   {machine_load()} (after)")
        if args.keep:
            print(f"kept: rerun with --reuse {database}")


def put_linkedin_texts(sv: Services, ws: UUID, sequence: UUID, bodies: dict[int, str]) -> None:
    for step, body in bodies.items():
        edit_message(sv, ws, sequence, step, MessageIn(body=body), ACTOR, lead_id=None)
        approve_message(sv, ws, sequence, step, ACTOR, lead_id=None)


def timed(sv: Services, ws: UUID, sequence: UUID, runs: int, **how: Any) -> tuple[list[float], dict[str, Any]]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        report = readiness(sv, ws, sequence, **how)
        samples.append(time.perf_counter() - t)
    return samples, report


def figures(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.3f} s, max {max(samples):.3f} s over {len(samples)} runs"


if __name__ == "__main__":
    main()
