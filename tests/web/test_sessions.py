"""Sign-in, sessions, CSRF and the browser policy, over HTTP against the served app."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from plera.runtime import Services
from plera.web.sessions import MAX_FAILURES_PER_EMAIL
from tests.web.conftest import Person, csrf_of, signed_in

PAGES = ["/sign-in", "/runs", "/sequences", "/inbox", "/senders", "/settings"]


def test_signed_out_the_app_leads_to_sign_in(base_url: str) -> None:
    answer = httpx.get(base_url + "/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    assert httpx.get(base_url + "/runs", follow_redirects=False).headers["location"].startswith("/sign-in")


def test_every_page_sends_the_browser_policy(base_url: str, person: Callable[..., Person]) -> None:
    client = signed_in(base_url, person())
    for path in [*PAGES, "/no-such-page", "/docs", "/redoc"]:
        answer = client.get(path)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert "referrer-policy" in answer.headers, path


def test_the_session_cookie_is_httponly_and_samesite_lax(base_url: str, person: Callable[..., Person]) -> None:
    who = person()
    client = httpx.Client(base_url=base_url)
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post("/sign-in", data={"email": who.email, "password": who.password, "csrf_token": token})
    cookies = answer.headers.get_list("set-cookie")
    assert cookies
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie, cookie


def test_a_wrong_password_says_nothing_of_whether_the_email_exists(
    base_url: str, person: Callable[..., Person]
) -> None:
    who = person()
    client = httpx.Client(base_url=base_url)
    token = csrf_of(client.get("/sign-in").text)
    wrong = client.post("/sign-in", data={"email": who.email, "password": "not it at all", "csrf_token": token})
    nobody = client.post("/sign-in", data={"email": "no@one.example", "password": "not it", "csrf_token": token})
    assert wrong.status_code == nobody.status_code == 401
    assert "The email or password is not right" in wrong.text
    assert wrong.text.replace(who.email, "X") == nobody.text.replace("no@one.example", "X")


def test_sign_in_is_throttled_after_repeated_failures(base_url: str, person: Callable[..., Person]) -> None:
    who = person()
    client = httpx.Client(base_url=base_url)
    token = csrf_of(client.get("/sign-in").text)
    for _ in range(MAX_FAILURES_PER_EMAIL):
        client.post("/sign-in", data={"email": who.email, "password": "wrong password", "csrf_token": token})
    right = client.post("/sign-in", data={"email": who.email, "password": who.password, "csrf_token": token})
    assert right.status_code == 429
    assert "Too many failed attempts" in right.text


def test_a_post_without_the_csrf_token_is_refused(base_url: str, person: Callable[..., Person]) -> None:
    who = person()
    assert httpx.post(base_url + "/sign-in", data={"email": who.email, "password": who.password}).status_code == 403
    client = signed_in(base_url, who)
    assert client.post("/runs", data={"name": "Forged"}).status_code == 403
    assert client.post("/runs", data={"name": "Forged", "csrf_token": "guessed"}).status_code == 403
    assert client.post("/sign-out").status_code == 403
    token = csrf_of(client.get("/runs").text)
    assert client.post("/runs", data={"name": "Real"}, headers={"X-CSRF-Token": token}).status_code == 303


def test_sign_out_ends_the_session(base_url: str, person: Callable[..., Person]) -> None:
    client = signed_in(base_url, person())
    cookie = client.cookies.get("plera_session")
    token = csrf_of(client.get("/runs").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    again = httpx.get(base_url + "/runs", cookies={"plera_session": cookie or ""}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")


def test_an_idle_session_ends(base_url: str, services: Services, person: Callable[..., Person]) -> None:
    who = person()
    client = signed_in(base_url, who)
    assert client.get("/runs").status_code == 200
    with services.db.pool.connection() as conn:
        conn.execute(
            "UPDATE plera_sessions SET last_seen_at = now() - interval '9 hours' WHERE user_id = %s", (who.user_id,)
        )
    assert client.get("/runs").status_code == 303


def test_a_set_password_link_works_once(base_url: str, services: Services) -> None:
    from plera.commands.users import AddUser, add_user, issue_password_link
    from plera.commands.workspaces import CreateWorkspace, create_workspace

    ws = create_workspace(services, CreateWorkspace(name="Linked"), actor="test").workspace
    user = add_user(services, ws.id, AddUser(email="mulder@example.com", name="Fox Mulder"), actor="test")
    link = issue_password_link(services, user.id, base_url)
    client = httpx.Client(base_url=base_url)
    form = client.get(link)
    assert form.status_code == 200 and "Fox Mulder" in form.text
    token = link.split("token=")[1]
    data = {
        "token": token,
        "password": "trust no one 1013",
        "confirm": "trust no one 1013",
        "csrf_token": csrf_of(form.text),
    }
    assert client.post("/set-password", data=data).status_code == 200
    assert client.get(link).status_code == 410
    assert client.post("/set-password", data=data).status_code == 410
    signed = signed_in(base_url, Person(ws.id, user.id, "mulder@example.com", "Fox Mulder", "trust no one 1013"))
    assert signed.get("/runs").status_code == 200


def test_the_person_is_the_actor_of_what_they_do(
    base_url: str, services: Services, person: Callable[..., Person]
) -> None:
    from plera.aggregates.run import Run

    who = person(name="Walter Skinner")
    client = signed_in(base_url, who)
    token = csrf_of(client.get("/runs").text)
    answer = client.post("/runs", data={"name": "X-Files", "csrf_token": token})
    run_id = answer.headers["location"].rsplit("/", 1)[1]
    from uuid import UUID

    events = services.events.app.repository.get(UUID(run_id), version=1)
    assert isinstance(events, Run)
    with services.db.pool.connection() as conn:
        row = conn.execute("SELECT state FROM plera_events WHERE originator_id = %s", (UUID(run_id),)).fetchone()
    assert row is not None and b"Walter Skinner" in bytes(row[0])


def test_another_workspaces_run_answers_404(base_url: str, person: Callable[..., Person]) -> None:
    mine = signed_in(base_url, person(workspace="Mine"))
    theirs = signed_in(base_url, person(workspace="Theirs"))
    token = csrf_of(mine.get("/runs").text)
    run_path = mine.post("/runs", data={"name": "Secret run", "csrf_token": token}).headers["location"]
    assert mine.get(run_path).status_code == 200
    answer = theirs.get(run_path)
    assert answer.status_code == 404
    assert "Secret run" not in answer.text
    assert theirs.get("/runs/not-a-uuid").status_code == 404
