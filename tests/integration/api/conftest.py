"""The HTTP API over real services: a TestClient, workspaces with their keys, and a few shortcuts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from plera.api import create_app
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.demo import PLAIN_MESSAGES
from plera.projections.all import ALL
from plera.runtime import Services
from tests.fakes.smtp_server import smtp_server  # noqa: F401  (a fixture, for the tests of this folder)
from tests.sinks import sink_settings

PROBLEM = "application/problem+json"

TWO_STEPS = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 3, "condition": "no_reply"},
]


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


@dataclass
class Api:
    """One workspace's view of the API: its key on every request, and the usual steps in one call each."""

    client: TestClient
    workspace_id: UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.patch(path, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.delete(path, headers=self.headers, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.put(path, headers=self.headers, **kw)

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    def run(self, name: str = "Q1") -> str:
        return str(self.ok(self.post("/v1/runs", json={"name": name}), 201)["id"])

    def group(self, run_id: str, name: str = "List A") -> str:
        return str(self.ok(self.post(f"/v1/runs/{run_id}/source-groups", json={"name": name}), 201)["id"])

    def import_leads(self, group_id: str, leads: list[dict[str, Any]]) -> dict[str, Any]:
        return self.ok(self.post(f"/v1/source-groups/{group_id}/leads", json={"leads": leads}))

    def enrich(self, group_id: str) -> dict[str, Any]:
        return self.ok(self.post(f"/v1/source-groups/{group_id}/mark-enriched"))

    def sequence(self, run_id: str, group_ids: list[str], steps: list[dict[str, Any]] | None = None) -> str:
        body = {"run_id": run_id, "name": "Intro", "source_group_ids": group_ids, "steps": steps or TWO_STEPS}
        return str(self.ok(self.post("/v1/sequences", json=body), 201)["id"])

    def make_ready(self, sequence_id: str) -> None:
        """The Messaging Lab's part, through the API: a message for every step, senders, approvals."""
        steps = self.ok(self.get(f"/v1/sequences/{sequence_id}"))["steps"]
        senders: dict[str, list[str]] = {"email": [], "linkedin": []}
        for step in steps:
            subject, body = PLAIN_MESSAGES[step["channel"]]
            self.ok(
                self.put(
                    f"/v1/sequences/{sequence_id}/steps/{step['step']}/message", json={"subject": subject, "body": body}
                )
            )
            family = "email" if step["channel"] == "email" else "linkedin"
            if not senders[family]:
                senders[family].append(self.sender(family))
        self.ok(self.put(f"/v1/sequences/{sequence_id}/senders", json=senders))
        for step in steps:
            self.ok(self.post(f"/v1/sequences/{sequence_id}/steps/{step['step']}/approve"))

    def sender(self, channel: str, **fields: Any) -> str:
        address = "sender@example.com" if channel == "email" else "https://www.linkedin.com/in/sender"
        body = {"channel": channel, "name": f"Test {channel}", "address": address, "daily_limit": 100}
        body |= sink_settings(channel) | fields
        return str(self.ok(self.post("/v1/sender-accounts", json=body), 201)["id"])

    def launch(self, sequence_id: str) -> dict[str, Any]:
        self.make_ready(sequence_id)
        return self.ok(self.post(f"/v1/sequences/{sequence_id}/launch"))

    def enrollments_of(self, lead_id: str) -> list[dict[str, Any]]:
        state: list[dict[str, Any]] = self.ok(self.get(f"/v1/leads/{lead_id}/history"))["state"]
        return state


@pytest.fixture
def new_workspace(services: Services, client: TestClient) -> Callable[..., Api]:
    def make(name: str = "Acme") -> Api:
        new = create_workspace(services, CreateWorkspace(name=name), actor="test")
        return Api(client=client, workspace_id=new.workspace.id, api_key=new.api_key)

    return make


@pytest.fixture
def api(new_workspace: Callable[..., Api]) -> Api:
    return new_workspace()


@pytest.fixture
def catch_up(services: Services) -> Callable[[], int]:
    """Lists read read models: apply what the commands recorded before asking for one."""
    return InProcessFeed(services, ALL).catch_up


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body
