"""The pages in a real browser (Debian's Chromium): sign-in, the keyboard path, the Runs pages, axe-core,
no request to another host. PLERA_SCREENSHOTS=docs/screenshots keeps a picture of each page."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from tests.web.conftest import Person, Tab


def _only_this_host(tab: Tab) -> None:
    mine = urlsplit(tab.base_url).netloc
    others = [u for u in tab.requested if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != mine]
    assert not others, others


def test_a_person_signs_in_and_creates_a_run(tab: Tab, person: Callable[..., Person]) -> None:
    who = person(name="Dana Scully")
    tab.open("/")
    assert tab.page.url.endswith("/sign-in")
    tab.check_accessible()
    tab.screenshot("sign-in")
    tab.sign_in(who)
    page = tab.page
    for name in ("Runs", "Sequences", "Inbox", "Senders", "Settings"):
        assert page.get_by_role("navigation", name="Main").get_by_role("link", name=name).is_visible()
    assert page.get_by_text("Dana Scully").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()
    tab.check_accessible()
    tab.screenshot("runs-empty")

    page.get_by_label("Name").fill("Q1 Outbound <script>alert(1)</script>")
    page.get_by_role("button", name="Create run").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}$"))
    assert page.get_by_role("heading", name="Sequences").is_visible()
    assert page.get_by_role("link", name="Create sequence").first.is_visible()
    tab.check_accessible()
    tab.screenshot("run")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    page.get_by_role("link", name="Q1 Outbound <script>alert(1)</script>").wait_for()
    tab.check_accessible()
    tab.screenshot("runs")
    for path in ("/inbox", "/senders", "/settings", "/sequences"):
        tab.open(path)
        tab.check_accessible()
    _only_this_host(tab)


def test_a_run_without_a_name_is_refused_beside_the_field(tab: Tab, person: Callable[..., Person]) -> None:
    tab.sign_in(person())
    tab.page.get_by_role("button", name="Create run").click()
    assert tab.page.get_by_role("alert").is_visible()
    assert tab.page.locator(".error-message").is_visible()
    tab.check_accessible()
    tab.screenshot("runs-error")


def test_a_wrong_password_is_told_beside_the_form(tab: Tab, person: Callable[..., Person]) -> None:
    who = person()
    tab.open("/sign-in")
    tab.page.get_by_label("Email").fill(who.email)
    tab.page.get_by_label("Password").fill("not the password")
    tab.page.get_by_role("button", name="Sign in").click()
    assert tab.page.get_by_role("alert").get_by_text("The email or password is not right").is_visible()
    assert tab.page.url.endswith("/sign-in")
    tab.check_accessible()
    tab.screenshot("sign-in-error")


def test_the_sign_in_form_and_the_navigation_work_by_keyboard(tab: Tab, person: Callable[..., Person]) -> None:
    who = person()
    tab.open("/sign-in")
    page = tab.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(who.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(who.password)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/runs$"))
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand
    seen = []
    for _ in range(5):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent"))
    assert seen == ["Runs", "Sequences", "Inbox", "Senders", "Settings"]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/settings$"))


def test_the_api_docs_load_nothing_from_another_host(tab: Tab) -> None:
    tab.open("/docs")
    tab.page.get_by_text("Plera Sequences").first.wait_for()
    tab.open("/redoc")
    tab.page.get_by_text("Plera Sequences").first.wait_for()
    _only_this_host(tab)


def test_a_runs_page_shows_its_sequences_and_source_groups(tab: Tab, person: Callable[..., Person]) -> None:
    who = person(name="Fox Mulder")
    api = who.api(tab.base_url)
    run_id = api.post("/runs", json={"name": "EMEA Q2"}).json()["id"]
    enriched = api.post(f"/runs/{run_id}/source-groups", json={"name": "CTOs Germany"}).json()["id"]
    api.post(f"/runs/{run_id}/source-groups", json={"name": "Raw list"})
    leads = [
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example", "company": "Engines"},
        {"first_name": "<img src=x onerror=alert(1)>", "email": "x@evil.example", "company": "Evil"},
    ]
    assert api.post(f"/source-groups/{enriched}/leads", json={"leads": leads}).status_code == 200
    assert api.post(f"/source-groups/{enriched}/mark-enriched").status_code == 200
    steps = [
        {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
        {"channel": "email", "delay_days": 3, "condition": "no_reply"},
    ]
    body = {"run_id": run_id, "name": "LinkedIn first", "source_group_ids": [enriched], "steps": steps}
    assert api.post("/sequences", json=body).status_code == 201, api.post("/sequences", json=body).text
    dialogs: list[str] = []
    tab.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    tab.sign_in(who)
    tab.open(f"/runs/{run_id}")
    page = tab.page
    row = page.get_by_role("row", name=re.compile("LinkedIn first"))
    row.wait_for()
    assert "Draft" in row.inner_text() and "2" in row.inner_text()
    groups = page.get_by_role("row", name=re.compile("CTOs Germany"))
    page.wait_for_function("document.body.innerText.includes('Eligible')")
    assert "Eligible" in groups.inner_text()
    assert "Not enriched" in page.get_by_role("row", name=re.compile("Raw list")).inner_text()
    tab.check_accessible()
    tab.screenshot("run-with-sequences")

    page.get_by_role("link", name="Leads of CTOs Germany").click()
    page.get_by_role("cell", name="<img src=x onerror=alert(1)>").first.wait_for()  # shown as text, inert
    page.get_by_role("cell", name="Ada Lovelace").wait_for()
    tab.check_accessible()
    tab.screenshot("leads")

    tab.open(f"/runs/{run_id}")
    page.get_by_role("button", name="Archive run").click()  # htmx: the X-CSRF-Token header from the meta tag
    page.get_by_role("status").get_by_text("Run archived.").wait_for()
    assert page.locator("#run-status .chip").inner_text() == "Archived"
    assert not dialogs
    weight = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => /\\.(css|js)$/.test(new URL(e.name).pathname))"
        ".reduce((n, e) => n + e.decodedBodySize, 0)"
    )
    assert 0 < weight <= 150_000
    _only_this_host(tab)
