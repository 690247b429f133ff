"""A workspace with one of everything, made through the API, so that the fuzzer's path ids are real."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from plera.channels.signatures import signed_headers
from plera.demo import PLAIN_MESSAGES


@dataclass(frozen=True)
class Seeded:
    workspace_id: str
    webhook_secret: str
    path_ids: dict[str, str]  # path parameter name -> a real value


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def seed(base: str, api_key: str, smtp: tuple[str, int], linkedin_base_url: str) -> Seeded:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    ws = _ok(api.get("/v1/workspace"))
    run = _ok(api.post("/v1/runs", json={"name": "Fuzz"}), 201)["id"]
    group = _ok(api.post(f"/v1/runs/{run}/source-groups", json={"name": "List A"}), 201)["id"]
    leads = [
        {
            "first_name": name,
            "last_name": "Lead",
            "email": f"{name.lower()}@lead.example.com",
            "linkedin_url": f"https://www.linkedin.com/in/{name.lower()}",
            "company": f"{name} Co",
            "country": "US",
        }
        for name in ("Ada", "Bob", "Cy")
    ]
    lead_ids = _ok(api.post(f"/v1/source-groups/{group}/leads", json={"leads": leads}))["lead_ids"]
    _ok(api.post(f"/v1/source-groups/{group}/mark-enriched"))
    profile = _ok(
        api.post("/v1/strategy-profiles", json={"name": "Plain", "offer": "a tool", "persona": "ops leads"}), 201
    )["id"]
    email_sender = _ok(
        api.post(
            "/v1/sender-accounts",
            json={
                "channel": "email",
                "name": "Mail",
                "address": "sender@example.com",
                "daily_limit": 100,
                "smtp": {"host": smtp[0], "port": smtp[1], "starttls": False},
            },
        ),
        201,
    )["id"]
    linkedin_sender = _ok(
        api.post(
            "/v1/sender-accounts",
            json={
                "channel": "linkedin",
                "name": "LinkedIn",
                "address": "https://www.linkedin.com/in/sender",
                "daily_limit": 100,
                "provider": {"base_url": linkedin_base_url, "api_key": "test-key", "account_id": "fuzz-account"},
            },
        ),
        201,
    )["id"]

    def sequence(name: str, steps: list[dict[str, Any]]) -> str:
        body = {
            "run_id": run,
            "name": name,
            "strategy_profile_id": profile,
            "source_group_ids": [group],
            "steps": steps,
        }
        sequence_id: str = _ok(api.post("/v1/sequences", json=body), 201)["id"]
        for number, step in enumerate(steps, start=1):
            subject, text = PLAIN_MESSAGES[step["channel"]]
            message = {"subject": subject, "body": text} if subject else {"body": text}
            _ok(api.put(f"/v1/sequences/{sequence_id}/steps/{number}/message", json=message))
        _ok(
            api.put(
                f"/v1/sequences/{sequence_id}/senders", json={"email": [email_sender], "linkedin": [linkedin_sender]}
            )
        )
        return sequence_id

    # The draft one is the fuzzer's: the Messaging Lab's operations work on drafts.
    draft = sequence(
        "Draft",
        [
            {"channel": "email", "delay_days": 0, "condition": "always"},
            {"channel": "linkedin_invite", "delay_days": 1, "condition": "no_reply"},
            {"channel": "linkedin_message", "delay_days": 2, "condition": "no_reply"},
        ],
    )
    # The launched one gives the leads enrollments.
    launched = sequence("Launched", [{"channel": "email", "delay_days": 0, "condition": "always"}])
    _ok(api.post(f"/v1/sequences/{launched}/steps/1/approve"))
    _ok(api.post(f"/v1/sequences/{launched}/launch"))
    state = _ok(api.get(f"/v1/leads/{lead_ids[0]}/history"))["state"]
    enrollment = state[0]["enrollment_id"] if "enrollment_id" in state[0] else state[0]["id"]

    suppression = _ok(
        api.post("/v1/suppressions", json={"kind": "domain", "value": "suppressed.example.com", "reason": "fuzz"}), 201
    )["id"]

    # A message from a stranger makes an (unmatched) inbox thread.
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "stranger@else.example.com", "sender@example.com", "Hello"
    mail["Message-ID"] = "<fuzz-seed@else.example.com>"
    mail.set_content("Who are you?")
    raw = mail.as_bytes()
    headers = {"Content-Type": "message/rfc822", **signed_headers(ws["webhook_secret"], int(time.time()), raw)}
    answer = httpx.post(f"{base}/v1/webhooks/{ws['id']}/email/inbound", content=raw, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    thread = None
    for _ in range(100):  # the inbox is a read model: it follows within moments
        items = _ok(api.get("/v1/inbox/threads"))["items"]
        if items:
            thread = items[0]["id"]
            break
        time.sleep(0.2)
    assert thread is not None, "no inbox thread appeared"

    return Seeded(
        workspace_id=ws["id"],
        webhook_secret=ws["webhook_secret"],
        path_ids={
            "workspace_id": ws["id"],
            "run_id": run,
            "group_id": group,
            "sender_id": email_sender,
            "sequence_id": draft,
            "lead_id": lead_ids[0],
            "enrollment_id": enrollment,
            "suppression_id": suppression,
            "thread_id": thread,
        },
    )
