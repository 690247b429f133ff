"""Create sequence, the Messaging Lab and Senders in a real browser (Debian's Chromium): the seed's path from
a run with enriched leads to a launched sequence and its first email in the SMTP sink; bad input beside the
fields; launch refused while readiness blocks; hostile text inert; the builder by keyboard; another
workspace's pages 404; axe-core on each page. PLERA_SCREENSHOTS=docs/screenshots keeps a picture of each."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from plera.channels.linkedin_sandbox import SandboxServer
from plera.clock import FixedClock
from plera.runtime import Services
from plera.scheduling.worker import Worker
from tests.fakes.smtp_server import FakeSmtp, smtp_server  # noqa: F401  (a fixture)
from tests.web.conftest import Person, Tab, csrf_of, signed_in

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def linkedin_sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _run_with_leads(who: Person, base_url: str, *, enriched: bool = True) -> tuple[str, str]:
    api = who.api(base_url)
    run_id = api.post("/runs", json={"name": "EMEA Q2"}).json()["id"]
    group = api.post(f"/runs/{run_id}/source-groups", json={"name": "CTOs Germany"}).json()["id"]
    api.post(f"/runs/{run_id}/source-groups", json={"name": "Raw list"})
    leads = [
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@engines.example",
            "linkedin_url": "https://www.linkedin.com/in/ada",
            "company": "Engines",
        },
        {"first_name": HOSTILE, "email": "x@evil.example", "company": "Evil"},
    ]
    assert api.post(f"/source-groups/{group}/leads", json={"leads": leads}).status_code == 200
    if enriched:
        assert api.post(f"/source-groups/{group}/mark-enriched").status_code == 200
    return run_id, group


def _wait_for_catalog(who: Person, base_url: str, path: str, count: int) -> None:
    """The read models are fed in a thread: wait until the API lists what was just made."""
    api = who.api(base_url)
    for _ in range(100):
        if len(api.get(path).json()["items"]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never listed {count}")


def _dispatch(services: Services, who: Person) -> None:
    """The worker's dispatch job until nothing is due, in a thread of its own (Playwright's loop owns this one)."""

    def run() -> None:
        worker = Worker(services, name="web-test", workspace_id=who.workspace_id)
        for _ in range(20):
            time.sleep(0.3)  # the feed thread catches up
            if worker.dispatch_due() == 0:
                break

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)


def test_the_seed_path_from_leads_to_the_first_email(
    tab: Tab,
    person: Callable[..., Person],
    services: Services,
    clock: FixedClock,
    smtp_server: FakeSmtp,  # noqa: F811
    linkedin_sandbox: SandboxServer,
) -> None:
    who = person(name="Dana Scully")
    run_id, group_id = _run_with_leads(who, tab.base_url)
    _wait_for_catalog(who, tab.base_url, f"/runs/{run_id}/source-groups", 2)
    dialogs: list[str] = []
    page = tab.page
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.sign_in(who)

    # Senders: one mailbox on the SMTP sink, one LinkedIn account on the sandbox
    tab.open("/senders")
    page.get_by_label("Name").fill("Alex Mail")
    page.get_by_label("Address").fill("alex@plera.example")
    page.get_by_label("Daily limit").fill("100")
    page.get_by_label("SMTP host").fill(smtp_server.host)
    page.get_by_label("SMTP port").fill(str(smtp_server.port))
    page.get_by_label("Use STARTTLS").uncheck()
    page.get_by_role("button", name="Add sender").click()
    page.get_by_role("status").get_by_text("Sender added").wait_for()
    page.get_by_label("LinkedIn through a provider").check()
    page.get_by_label("Name").fill("Alex LinkedIn")
    page.get_by_label("Address").fill("https://www.linkedin.com/in/alex")
    page.get_by_label("Daily limit").fill("100")
    page.get_by_label("Provider base URL").fill(linkedin_sandbox.base_url)
    page.get_by_label("API key").fill("sandbox")
    page.get_by_label("Account ID").fill("alex")
    page.get_by_role("button", name="Add sender").click()
    page.get_by_role("row", name=re.compile("Alex LinkedIn")).wait_for()
    assert "Active" in page.get_by_role("row", name=re.compile("Alex Mail")).inner_text()
    tab.check_accessible()
    tab.screenshot("senders")

    # Create sequence: profile made in place, the enriched group, the LinkedIn-first steps
    tab.open(f"/runs/{run_id}")
    page.get_by_role("link", name="Create sequence").first.click()
    page.wait_for_url(re.compile(r".*/sequences/new$"))
    assert page.get_by_role("checkbox", name="Raw list").is_disabled()
    page.get_by_label("Name").fill("LinkedIn first")
    if not page.get_by_label("Profile title").is_visible():
        page.get_by_text("New profile, made here").click()
    page.get_by_label("Profile title").fill("CTO offer")
    page.get_by_label("Offer").fill("Faster engines for data teams")
    page.get_by_role("button", name="Save new profile").click()
    page.get_by_role("status").get_by_text("Strategy profile CTO offer created").wait_for()
    page.get_by_role("checkbox", name="CTOs Germany").check()
    page.get_by_role("button", name="Start from the LinkedIn-first sequence").click()
    page.get_by_role("status").get_by_text("LinkedIn-first steps filled in").wait_for()
    assert page.locator(".step-day").all_inner_texts() == ["Day 0", "Day 3", "Day 5", "Day 7"]
    assert page.get_by_label("Name").input_value() == "LinkedIn first"  # kept across the re-render
    assert page.get_by_label("Strategy profile").locator("option:checked").inner_text() == "CTO offer"
    assert page.get_by_role("checkbox", name="CTOs Germany").is_checked()
    channels = page.get_by_label("Channel")
    assert channels.count() == 4
    assert channels.nth(0).locator("option:checked").inner_text() == "LinkedIn invite"
    assert page.get_by_label("Condition").nth(1).locator("option:checked").inner_text() == "No reply"
    tab.check_accessible()
    tab.screenshot("sequence-new")
    page.get_by_role("button", name="Create sequence").click()
    page.wait_for_url(re.compile(r".*/sequences/[0-9a-f-]{36}/lab\?created=1$"))

    # The Messaging Lab: drafts, an edit with a variable, approvals, senders, launch
    page.get_by_role("button", name="Generate previews").click()
    page.get_by_role("status").get_by_text("Drafts written").wait_for()
    assert page.get_by_role("heading", name="Readiness").is_visible()
    assert page.get_by_role("button", name="Launch").is_disabled()
    body = page.get_by_label("Step 2 message")
    body.fill("Hello ")
    page.get_by_label("Insert a variable into step 2").get_by_role("button", name="lead.first_name").click()
    assert body.input_value() == "Hello {{ lead.first_name | default('there') }}"
    body.press("End")
    body.type(",\n\nA short note. <script>alert(2)</script>\n\nUnsubscribe: {{ unsubscribe_url }}")
    page.get_by_role("button", name="Save step 2").click()
    page.get_by_role("status").get_by_text("Step saved").wait_for()
    page.get_by_label("Preview for lead").fill("onerror")
    page.get_by_role("button", name="Find lead").click()
    page.get_by_role("link", name=HOSTILE).click()
    shown = page.locator("#step-2 .preview-body").inner_text()  # the hostile name and the script, as text
    assert f"Hello {HOSTILE}," in shown and "<script>alert(2)</script>" in shown, shown
    page.get_by_label("Preview for lead").fill("Ada")
    page.get_by_role("button", name="Find lead").click()
    page.get_by_role("link", name="Ada Lovelace").click()
    assert "Hello Ada," in page.locator("#step-2 .preview-body").inner_text()
    for step in range(1, 5):
        page.get_by_role("button", name=f"Approve step {step}").click()
        page.get_by_role("status").get_by_text("Step approved").wait_for()
    assert "Version 1 by the offline writer" in page.locator("#step-1").inner_text()  # approved as drafted
    assert "Version 2 by a person" in page.locator("#step-2").inner_text()
    page.get_by_role("checkbox", name="Alex Mail").check()
    page.get_by_role("checkbox", name="Alex LinkedIn").check()
    page.get_by_role("button", name="Save senders").click()
    page.get_by_role("status").get_by_text("Sender accounts saved").wait_for()
    summary = page.locator("#launch-summary").inner_text()
    assert re.search(r"Launch: 2 leads enter; the first messages go out .+ in each lead's time zone", summary), summary
    tab.check_accessible()
    tab.screenshot("lab")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r".*/sequences/[0-9a-f-]{36}\?launched=\d+$"))
    assert page.locator(".title-row .chip").inner_text() == "Active"
    tab.check_accessible()
    tab.screenshot("sequence")

    # The simulated clock moves: the invite goes on day 0, the first email on day 3
    now = clock.now()  # Monday 08:00 UTC unless another test moved it: go to the next Monday, 10:00
    monday = (now + timedelta(days=(7 - now.weekday()) % 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    clock.advance((monday if monday > now else monday + timedelta(days=7)) - now)
    _dispatch(services, who)
    assert [i for i in linkedin_sandbox.sandbox.state()["invitations"]], "the invite goes out on day 0"
    clock.advance(timedelta(days=3))  # Thursday: day 3, the first email's day
    _dispatch(services, who)
    clock.advance(timedelta(hours=1))  # one sender's sends are spread over the window
    _dispatch(services, who)
    to_ada = [m for m in smtp_server.messages if "ada@engines.example" in m.rcpt_tos]
    assert to_ada, [m.rcpt_tos for m in smtp_server.messages]
    assert "Hello Ada," in to_ada[0].message.get_body(("plain",)).get_content()

    # Senders while the sequence runs: removing its only mailbox is refused in words; edit, verify, pause, resume
    tab.open("/senders")
    page.get_by_role("button", name="Remove Alex Mail").click()
    assert "no other active email sender" in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name="Edit Alex Mail").click()
    assert page.get_by_label("SMTP password").input_value() == ""  # secrets are write-only
    page.get_by_label("Daily limit").fill("120")
    tab.check_accessible()
    tab.screenshot("sender-edit")
    page.get_by_role("button", name="Save sender").click()
    page.get_by_role("status").get_by_text("Sender saved and checked").wait_for()
    page.get_by_role("button", name="Verify Alex LinkedIn").click()
    page.get_by_role("status").get_by_text("Sender checked").wait_for()
    page.get_by_role("button", name="Pause Alex LinkedIn").click()
    page.get_by_role("status").get_by_text("Sender paused").wait_for()
    page.get_by_role("button", name="Resume Alex LinkedIn").click()
    page.get_by_role("status").get_by_text("Sender resumed").wait_for()
    assert not dialogs
    weight = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => /\\.(css|js)$/.test(new URL(e.name).pathname))"
        ".reduce((n, e) => n + e.decodedBodySize, 0)"
    )
    assert 0 < weight <= 150_000


def test_bad_input_is_shown_beside_the_fields(tab: Tab, person: Callable[..., Person]) -> None:
    who = person()
    run_id, _ = _run_with_leads(who, tab.base_url, enriched=False)
    tab.sign_in(who)
    tab.open(f"/runs/{run_id}/sequences/new")
    page = tab.page
    assert page.get_by_role("checkbox", name="CTOs Germany").is_disabled()
    assert "not marked enriched" in page.locator("#steps, #groups").first.inner_text()
    page.get_by_label("Delay (days)").fill("soon")
    page.get_by_role("button", name="Create sequence").click()
    summary = page.get_by_role("alert")
    assert summary.get_by_role("link", name="Enter name").is_visible()
    assert summary.get_by_role("link", name="Step 1 delay (days) must be a whole number").is_visible()
    assert page.locator("#name-error").inner_text().endswith("Enter name")
    assert "whole number" in page.locator("#step-0-delay-error").inner_text()
    assert page.get_by_label("Delay (days)").input_value() == "soon"  # what was typed stays
    assert page.locator(".step-day").inner_text() == "Day ?"
    tab.check_accessible()
    tab.screenshot("sequence-new-errors")

    tab.open("/senders")
    page.get_by_label("Daily limit").fill("lots")
    page.get_by_role("button", name="Add sender").click()
    assert page.get_by_role("alert").get_by_role("link", name="Enter name").is_visible()
    assert "Daily limit" in page.locator("#sender-daily-limit-error").inner_text()
    assert page.get_by_role("alert").get_by_role("link", name="Enter SMTP host", exact=True).is_visible()
    tab.check_accessible()
    tab.screenshot("senders-errors")


def test_launch_is_refused_while_readiness_blocks(tab: Tab, person: Callable[..., Person]) -> None:
    who = person()
    run_id, group = _run_with_leads(who, tab.base_url)
    steps = [{"channel": "email", "delay_days": 0, "condition": "always"}]
    body = {"run_id": run_id, "name": "Blocked", "source_group_ids": [group], "steps": steps}
    sequence_id = who.api(tab.base_url).post("/sequences", json=body).json()["id"]
    findings = who.api(tab.base_url).get(f"/sequences/{sequence_id}/readiness").json()["findings"]
    blocking = [f["detail"] for f in findings if f["severity"] == "blocking"]
    assert blocking
    tab.sign_in(who)
    tab.open(f"/sequences/{sequence_id}/lab")
    page = tab.page
    readiness = page.get_by_role("region", name="Readiness")
    for detail in blocking:
        assert detail.lower() in readiness.inner_text().lower()
    launch = page.get_by_role("button", name="Launch")
    assert launch.is_disabled()
    assert blocking[0].lower() in page.locator("#launch-blocked").inner_text().lower()
    tab.check_accessible()
    tab.screenshot("lab-blocked")

    # a request sent anyway (the button disabled only in this page) is refused, in words
    answer = page.request.post(
        f"{tab.base_url}/sequences/{sequence_id}/lab/launch",
        form={"csrf_token": page.locator('meta[name="csrf-token"]').get_attribute("content") or ""},
    )
    assert answer.status == 422
    assert "Launch refused" in answer.text() and blocking[0] in answer.text()  # the finding's own words
    assert who.api(tab.base_url).get(f"/sequences/{sequence_id}").json()["status"] == "draft"


def test_the_builder_works_by_keyboard(tab: Tab, person: Callable[..., Person]) -> None:
    who = person()
    run_id, _ = _run_with_leads(who, tab.base_url)
    tab.sign_in(who)
    tab.open(f"/runs/{run_id}/sequences/new")
    page = tab.page
    page.get_by_role("button", name="Add step").focus()
    page.keyboard.press("Enter")  # a second step; focus lands on its channel
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'step-1-channel'")
    page.keyboard.press("ArrowDown")  # LinkedIn invite
    page.keyboard.press("Tab")
    page.keyboard.type("4")
    assert page.get_by_label("Step 2 delay").input_value() == "4"  # Tab selects the field's text
    page.get_by_role("button", name="Move step 2 up").focus()
    page.keyboard.press("Enter")  # reorder: focus stays with the moved step (its other button at the top)
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'step-0-down'")
    assert page.get_by_label("Step 1 delay").input_value() == "4"
    assert page.locator(".step-day").all_inner_texts() == ["Day 4", "Day 4"]
    page.get_by_role("button", name="Remove step 2").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.step').length === 1")
    assert page.get_by_label("Step 1 channel").locator("option:checked").inner_text() == "LinkedIn invite"
    assert page.evaluate("document.activeElement.id") == "add-step"


def test_another_workspaces_sequence_pages_answer_404(base_url: str, person: Callable[..., Person]) -> None:
    owner, stranger = person(), person(workspace="Other")
    run_id, group = _run_with_leads(owner, base_url)
    steps = [{"channel": "email", "delay_days": 0, "condition": "always"}]
    body = {"run_id": run_id, "name": "Mine", "source_group_ids": [group], "steps": steps}
    sequence_id = owner.api(base_url).post("/sequences", json=body).json()["id"]
    client = signed_in(base_url, stranger)
    token = csrf_of(client.get("/runs").text)
    for path in (f"/sequences/{sequence_id}", f"/sequences/{sequence_id}/lab", f"/runs/{run_id}/sequences/new"):
        assert client.get(path).status_code == 404, path
    for path in ("lab/drafts", "lab/launch", "lab/steps/1", "lab/senders"):
        answer = client.post(f"/sequences/{sequence_id}/{path}", data={"csrf_token": token, "body": "x"})
        assert answer.status_code == 404, path
    assert client.post(f"/runs/{run_id}/sequences/new", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/sequences/{sequence_id}/lab/drafts").status_code == 403  # no CSRF token
    mine = signed_in(base_url, owner)
    assert mine.get(f"/sequences/{sequence_id}/lab").status_code == 200


def test_a_bare_sequence_and_refusals_in_words(base_url: str, person: Callable[..., Person]) -> None:
    """A sequence with no source group and no profile still has a Lab; what the commands refuse is said."""
    who = person()
    run_id, group = _run_with_leads(who, base_url)
    client = signed_in(base_url, who)
    token = csrf_of(client.get(f"/runs/{run_id}/sequences/new").text)
    form = {"csrf_token": token, "name": "Bare", "step_channel": "email", "step_delay": "0", "step_condition": "always"}
    created = client.post(f"/runs/{run_id}/sequences/new", data=form)
    assert created.status_code == 303, created.text
    lab = created.headers["location"].split("?")[0]
    page = client.get(lab)
    assert page.status_code == 200 and "No eligible lead to preview" in page.text
    refused = client.post(f"{lab}/drafts", data={"csrf_token": token})
    assert refused.status_code == 422 and "needs a strategy profile" in refused.text
    refused = client.post(f"{lab}/launch", data={"csrf_token": token})
    assert refused.status_code == 422 and "Launch refused" in refused.text

    steps = [{"channel": "email", "delay_days": 0, "condition": "always"}]
    body = {"run_id": run_id, "name": "With leads", "source_group_ids": [group], "steps": steps}
    sequence_id = who.api(base_url).post("/sequences", json=body).json()["id"]
    lead_id = who.api(base_url).get(f"/sequences/{sequence_id}/previews").json()["items"][0]["lead_id"]
    sent = client.post(
        f"/sequences/{sequence_id}/lab/test-send",
        data={"csrf_token": token, "step": "1", "lead_id": lead_id, "to": "not an address"},
    )
    assert sent.status_code == 422 and 'id="test-to-error"' in sent.text
    saved = client.post(
        f"/sequences/{sequence_id}/lab/steps/1",
        data={"csrf_token": token, "action": "approve", "subject": "Hi", "body": "Hello {{ lead.first_name"},
    )
    assert saved.status_code == 303, saved.text  # saved and approved as the API would; readiness blocks it
    shown = client.get(f"/sequences/{sequence_id}/lab").text
    assert "Blocks launch" in shown and 'class="error-message"' in shown  # the preview says why it cannot render
