"""The web app served for real (uvicorn on a loopback port, the test PostgreSQL, the in-process feed), people
to sign in with, and one Chromium for the whole session (Debian's, never a downloaded one)."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn

from plera.commands.users import AddUser, add_user, set_password
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.runtime import Services
from plera.server import create_server

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(os.environ.get("PLERA_SCREENSHOTS", "")) if os.environ.get("PLERA_SCREENSHOTS") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def base_url(services: Services) -> Iterator[str]:
    """The real app (API and pages) served on a free loopback port, with the read models fed in process."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_server(services), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    feed_thread, feed_stop = InProcessFeed(services, ALL).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    feed_stop.set()
    thread.join(timeout=10)
    feed_thread.join(timeout=10)


@dataclass
class Person:
    workspace_id: UUID
    user_id: UUID
    email: str
    name: str
    password: str = PASSWORD
    api_key: str = ""

    def api(self, base_url: str) -> httpx.Client:
        """The workspace's API, with its key: to set up what the pages show."""
        return httpx.Client(base_url=base_url + "/v1", headers={"Authorization": f"Bearer {self.api_key}"}, timeout=10)


@pytest.fixture
def person(services: Services) -> Callable[..., Person]:
    """A new workspace with one person in it who has a password."""

    def make(name: str = "Dana Scully", workspace: str = "Acme") -> Person:
        new = create_workspace(services, CreateWorkspace(name=workspace), actor="test")
        ws = new.workspace
        email = f"{uuid4().hex[:8]}@example.com"
        user = add_user(services, ws.id, AddUser(email=email, name=name, role="owner"), actor="test")
        set_password(services, user.id, PASSWORD, via="cli", actor="test")
        return Person(workspace_id=ws.id, user_id=user.id, email=email, name=name, api_key=new.api_key)

    return make


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def signed_in(base_url: str, who: Person) -> httpx.Client:
    """An HTTP client with a live session of this person."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post("/sign-in", data={"email": who.email, "password": who.password, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client


# ---- the browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (infra/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with every request it made recorded."""

    page: Any
    base_url: str
    requested: list[str]

    def open(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def sign_in(self, who: Person) -> None:
        self.open("/sign-in")
        self.page.get_by_label("Email").fill(who.email)
        self.page.get_by_label("Password").fill(who.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r".*/runs$"))

    def check_accessible(self) -> None:
        """axe-core, vendored into the tests, finds no serious or critical violation on the page."""
        result = self.page.evaluate("async () => await axe.run(document)")
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, json.dumps([{k: v[k] for k in ("id", "impact", "help")} for v in bad], indent=2)

    def screenshot(self, name: str) -> None:
        if SCREENSHOTS is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(chromium: Any, base_url: str) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    # Through the DevTools protocol, so the pages' policy (no inline script) does not block it.
    context.add_init_script(path=str(HERE / "vendor" / "axe.min.js"))
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    yield Tab(page=page, base_url=base_url, requested=requested)
    context.close()
