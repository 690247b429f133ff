"""Inbound processing throughput: messages per second from the signed webhook to the committed classification.

Run: python bench/inbound.py [--leads N] [--threads T] [--processes P]

N leads (default 1,000) are enrolled in a launched 3-step email sequence and fed in process. The
API then runs in its own process (uvicorn, as deployed, on the same database), and one message per
lead goes to `POST /v1/webhooks/{workspace}/email/inbound` over HTTP, signature checked: a third
are human replies (each stops the lead's no_reply steps), a third out-of-office auto-replies (each
pauses the lead), a third replies from strangers (kept unmatched). Each request answers 202 only
after everything is committed. T client threads post at once (default 4), as a mail provider's
webhook deliveries would arrive, to P API processes (default 1). Target: >= 200/s. Also printed:
the API processes' CPU per message.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import httpx
from common import api_server, cpu_seconds, machine_load, make_ready_on_sinks, scratch_services

from plera.aggregates.workspace import Workspace
from plera.channels.signatures import signed_headers
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL

STEPS = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 2, 2)]


def message(i: int) -> bytes:
    m = EmailMessage()
    kind = i % 3
    m["From"] = f"lead{i}@bench.example" if kind != 2 else f"stranger{i}@else.example"
    m["To"] = "alex@plera.example"
    m["Message-ID"] = f"<in-{i}@bench.example>"
    if kind == 1:
        m["Subject"] = "Automatic reply: your note"
        m["Auto-Submitted"] = "auto-replied"
        m.set_content("I am out of the office until March 20 with limited access to email.")
    else:
        m["Subject"] = "Re: your note"
        m.set_content("Thanks, let's talk next week.\n\nOn Mon, Alex wrote:\n> Hi there")
    return m.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1, help="API processes (uvicorn workers)")
    args = parser.parse_args()
    with scratch_services() as sv:
        ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench").workspace
        run = create_run(sv, ws.id, CreateRun(name="bench"), "bench")
        group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="bench"), "bench")
        rows = [{"email": f"lead{i}@bench.example", "first_name": f"L{i}"} for i in range(args.leads)]
        import_leads(sv, ws.id, group.id, parse_json_rows(rows), "bench")
        mark_enriched(sv, ws.id, group.id, "bench")
        cmd = CreateSequence.model_validate(
            {"run_id": run.id, "name": "b", "source_group_ids": [group.id], "steps": STEPS}
        )
        sequence = create_sequence(sv, ws.id, cmd, "bench")
        feed = InProcessFeed(sv, ALL)
        feed.catch_up()
        make_ready_on_sinks(sv, ws.id, sequence.id)
        launch_sequence(sv, ws.id, sequence.id, "bench")
        feed.catch_up()
        secret = sv.vault.get(sv.events.get(ws.id, Workspace).webhook_secret_id)
        bodies = [message(i) for i in range(args.leads)]
        outcomes: dict[str, int] = {}
        with api_server(sv, args.processes) as (url, pid), httpx.Client(base_url=url, timeout=60) as client:

            def post(body: bytes) -> Any:
                headers = signed_headers(secret, int(time.time()), body) | {"Content-Type": "message/rfc822"}
                answer = client.post(f"/v1/webhooks/{ws.id}/email/inbound", content=body, headers=headers)
                assert answer.status_code == 202, answer.text
                return answer.json()

            post(message(-3))  # a stranger's: warms the server's connections and caches
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                for answer in pool.map(post, bodies):
                    key = f"{answer['status']}/{answer['classification']}"
                    outcomes[key] = outcomes.get(key, 0) + 1
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
    print(
        f"inbound: {len(bodies)} messages in {seconds:.2f} s = {len(bodies) / seconds:,.0f} messages/s (target >= 200/s)"
    )
    print(f"  with {args.threads} client threads and {args.processes} API process(es); outcomes: {outcomes}")
    print(f"  API process CPU: {cpu / len(bodies) * 1000:.2f} ms a message")
    print(f"  {machine_load()}")


if __name__ == "__main__":
    main()
