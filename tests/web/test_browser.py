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
