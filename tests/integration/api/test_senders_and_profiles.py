from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from plera.channels.linkedin_sandbox import SandboxServer
from tests.fakes.smtp_server import FakeSmtp
from tests.integration.api.conftest import assert_problem

PASSWORD = "hunter2-Very-Secret-Smtp-Password"
API_KEY = "sk-provider-Very-Secret-Key-123"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def _mailbox(server: FakeSmtp, **changes):
    smtp = {"host": server.host, "port": server.port, "username": "ada", "password": PASSWORD, "starttls": False}
    return {
        "channel": "email",
        "name": "Ada",
        "address": "ada@plera.test",
        "daily_limit": 40,
        "smtp": smtp,
    } | changes


def _profile(sandbox: SandboxServer, account_id: str = "acc-1", **changes):
    provider = {"base_url": sandbox.base_url, "api_key": API_KEY, "account_id": account_id}
    return {
        "channel": "linkedin",
        "name": "Ada LI",
        "address": "https://linkedin.com/in/ada",
        "daily_limit": 20,
        "provider": provider,
    } | changes


def ready_sequence(api, catch_up) -> str:
    """A draft with one email step to Lena, its message approved and a sender on the shared sink chosen."""
    run = api.run()
    group = api.group(run)
    api.import_leads(group, [{"email": "lena@acme.example", "first_name": "Lena"}])
    api.enrich(group)
    catch_up()
    sequence = api.sequence(run, [group], steps=[{"channel": "email", "delay_days": 0, "condition": "always"}])
    api.make_ready(sequence)
    return sequence


def test_secrets_go_in_and_never_come_out(api, services, catch_up, smtp_server, sandbox):
    mailbox = api.post("/v1/sender-accounts", json=_mailbox(smtp_server))
    created = api.ok(mailbox, 201)
    assert created["status"] == "active" and created["channel"] == "email" and created["verified_at"]
    assert smtp_server.logins == ["ada"]  # checked with a login, and nothing sent
    assert smtp_server.messages == []
    assert created["connection"] == {
        "kind": "smtp",
        "host": smtp_server.host,
        "port": smtp_server.port,
        "username": "ada",
        "starttls": False,
        "base_url": None,
        "account_id": None,
    }
    linkedin = api.post("/v1/sender-accounts", json=_profile(sandbox))
    assert api.ok(linkedin, 201)["weekly_invite_limit"] == 100
    catch_up()
    listed = api.get("/v1/sender-accounts")
    shown = api.get(f"/v1/sender-accounts/{created['id']}")
    changed = api.patch(f"/v1/sender-accounts/{created['id']}", json={"name": "Ada L."})
    paused = api.post(f"/v1/sender-accounts/{created['id']}/pause", json={"reason": "warming up"})
    bad = api.post("/v1/sender-accounts", json=_mailbox(smtp_server, daily_limit=0))

    for response in (mailbox, linkedin, listed, shown, changed, paused, bad):
        assert PASSWORD not in response.text and API_KEY not in response.text
        assert "secret_id" not in response.text
    assert len(api.ok(listed)["items"]) == 2
    with services.db.pool.connection() as conn:  # nor are they in the events, which do hold the account
        found = [
            conn.execute(
                "SELECT count(*) FROM plera_events WHERE position(%s in state) > 0", (text.encode(),)
            ).fetchone()[0]
            for text in (PASSWORD, API_KEY, "acc-1")
        ]
    assert found[:2] == [0, 0] and found[2] > 0


def test_a_sender_pauses_and_resumes(api, catch_up, smtp_server):
    sender = api.ok(api.post("/v1/sender-accounts", json=_mailbox(smtp_server)), 201)["id"]
    paused = api.ok(api.post(f"/v1/sender-accounts/{sender}/pause", json={"reason": "bounces"}))
    assert (paused["status"], paused["paused_reason"]) == ("paused", "bounces")
    assert api.ok(api.post(f"/v1/sender-accounts/{sender}/pause"))["paused_reason"] == "bounces"  # a no-op
    catch_up()
    assert api.ok(api.get("/v1/sender-accounts"))["items"][0]["status"] == "paused"
    resumed = api.ok(api.post(f"/v1/sender-accounts/{sender}/resume"))
    assert (resumed["status"], resumed["paused_reason"]) == ("active", None)
    without_reason = api.ok(api.post(f"/v1/sender-accounts/{sender}/pause"))
    assert without_reason["paused_reason"] == "manual"


def test_bad_sender_settings_are_refused(api, smtp_server):
    assert_problem(
        api.post("/v1/sender-accounts", json=_mailbox(smtp_server, channel="pigeon")), 422, "invalid_request"
    )
    assert_problem(api.post("/v1/sender-accounts", json=_mailbox(smtp_server, daily_limit=-5)), 422, "invalid_request")
    assert_problem(
        api.post("/v1/sender-accounts", json=_mailbox(smtp_server, weekly_invite_limit=5)), 422, "invalid_request"
    )
    linkedin_with_smtp = _mailbox(smtp_server, channel="linkedin")
    assert_problem(api.post("/v1/sender-accounts", json=linkedin_with_smtp), 422, "invalid_request")
    port = _mailbox(smtp_server, smtp={"host": "h", "port": 70000, "password": PASSWORD})
    body = assert_problem(api.post("/v1/sender-accounts", json=port), 422, "invalid_request")
    assert PASSWORD not in str(body)
    no_password = _mailbox(smtp_server, smtp={"host": smtp_server.host, "port": smtp_server.port, "username": "ada"})
    assert_problem(api.post("/v1/sender-accounts", json=no_password), 422, "invalid_request")


def test_an_email_sender_without_smtp_settings_is_refused(api, smtp_server):
    without = {k: v for k, v in _mailbox(smtp_server).items() if k != "smtp"}
    body = assert_problem(api.post("/v1/sender-accounts", json=without), 422, "invalid_request")
    assert "smtp" in body["detail"] + str(body.get("errors"))
    assert_problem(api.post("/v1/sender-accounts", json=without | {"smtp": None}), 422, "invalid_request")


def test_a_sender_whose_server_refuses_the_login_is_unverified_and_blocks_readiness(api, catch_up, smtp_server):
    smtp_server.require_auth("ada", "the-real-password")
    created = api.ok(api.post("/v1/sender-accounts", json=_mailbox(smtp_server)), 201)
    assert created["status"] == "unverified" and created["verified_at"]
    assert created["last_error"].startswith("login refused: 535")
    assert PASSWORD not in created["last_error"]

    sequence = ready_sequence(api, catch_up)
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [created["id"]]}))
    readiness = api.ok(api.get(f"/v1/sequences/{sequence}/readiness"))
    (finding,) = [f for f in readiness["findings"] if f["code"] == "sender_unavailable"]
    assert readiness["ready"] is False and finding["severity"] == "blocking"
    assert finding["sender_id"] == created["id"] and "login refused" in finding["detail"]
    launch = assert_problem(api.post(f"/v1/sequences/{sequence}/launch"), 409, "launch_blocked")
    assert "sender_unavailable" in {f["code"] for f in launch["findings"]}

    smtp_server.require_auth("ada", PASSWORD)  # the server's password changed back: resuming checks again
    resumed = api.ok(api.post(f"/v1/sender-accounts/{created['id']}/resume"))
    assert (resumed["status"], resumed["last_error"]) == ("active", None)
    assert api.ok(api.get(f"/v1/sequences/{sequence}/readiness"))["ready"] is True


def test_a_paused_sender_blocks_readiness_with_its_reason(api, catch_up):
    sequence = ready_sequence(api, catch_up)
    email = api.ok(api.get(f"/v1/sequences/{sequence}"))["senders"]["email"][0]
    api.ok(api.post(f"/v1/sender-accounts/{email}/pause", json={"reason": "warming up"}))

    found = api.ok(api.get(f"/v1/sequences/{sequence}/readiness"))
    codes = {f["code"]: f for f in found["findings"]}
    assert found["ready"] is False
    assert "paused: warming up" in codes["sender_unavailable"]["detail"]


def test_a_linkedin_sender_is_checked_with_the_providers_account_endpoint(api, sandbox):
    verified = api.ok(api.post("/v1/sender-accounts", json=_profile(sandbox, "known")), 201)
    assert (verified["status"], verified["last_error"]) == ("active", None) and verified["verified_at"]

    httpx.post(f"{sandbox.base_url}/_sandbox/account", json={"account_id": "gone", "status": "unknown"})
    httpx.post(f"{sandbox.base_url}/_sandbox/account", json={"account_id": "banned", "status": "restricted"})
    unknown = api.ok(api.post("/v1/sender-accounts", json=_profile(sandbox, "gone")), 201)
    restricted = api.ok(api.post("/v1/sender-accounts", json=_profile(sandbox, "banned")), 201)
    assert (unknown["status"], restricted["status"]) == ("unverified", "unverified")
    assert unknown["last_error"].startswith("404 account_not_found")
    assert restricted["last_error"].startswith("403 account_restricted")

    fixed = api.patch(
        f"/v1/sender-accounts/{unknown['id']}",
        json={"provider": {"base_url": sandbox.base_url, "account_id": "known"}},  # the stored key is kept
    )
    assert (api.ok(fixed)["status"], api.ok(fixed)["connection"]["account_id"]) == ("active", "known")
    assert API_KEY not in fixed.text


def test_a_sender_is_changed_and_its_new_settings_are_checked_again(api, catch_up, smtp_server):
    sender = api.ok(api.post("/v1/sender-accounts", json=_mailbox(smtp_server)), 201)["id"]
    renamed = api.ok(
        api.patch(f"/v1/sender-accounts/{sender}", json={"name": "Ada L.", "daily_limit": 60, "signature": "Ada"})
    )
    assert (renamed["name"], renamed["daily_limit"], renamed["signature"]) == ("Ada L.", 60, "Ada")
    assert smtp_server.logins == ["ada"]  # a change of name is not checked again

    smtp_server.require_auth("ada", PASSWORD)
    moved = {"host": smtp_server.host, "port": smtp_server.port, "username": "ada", "starttls": False}
    kept = api.ok(api.patch(f"/v1/sender-accounts/{sender}", json={"smtp": moved}))  # no password: the stored one
    assert kept["status"] == "active" and smtp_server.logins == ["ada", "ada"]

    wrong = api.ok(api.patch(f"/v1/sender-accounts/{sender}", json={"smtp": moved | {"password": "nope"}}))
    assert wrong["status"] == "unverified" and "535" in wrong["last_error"]
    catch_up()
    (listed,) = api.ok(api.get("/v1/sender-accounts"))["items"]
    assert (listed["name"], listed["status"], listed["daily_limit"]) == ("Ada L.", "unverified", 60)
    assert listed["last_error"] == wrong["last_error"] and listed["verified_at"]

    assert api.ok(api.get(f"/v1/sender-accounts/{sender}")) == wrong
    assert_problem(api.patch(f"/v1/sender-accounts/{sender}", json={"name": None}), 422, "invalid_request")
    assert_problem(api.patch(f"/v1/sender-accounts/{sender}", json={"weekly_invite_limit": 5}), 422, "invalid_value")
    linkedin_settings = {"provider": {"base_url": "http://x", "api_key": "k", "account_id": "a"}}
    assert_problem(api.patch(f"/v1/sender-accounts/{sender}", json=linkedin_settings), 422, "invalid_value")


def test_a_sender_a_running_sequence_still_needs_cannot_be_removed(api, catch_up, smtp_server):
    sequence = ready_sequence(api, catch_up)
    api.ok(api.post(f"/v1/sequences/{sequence}/launch"))
    only = api.ok(api.get(f"/v1/sequences/{sequence}"))["senders"]["email"][0]
    catch_up()

    refused = assert_problem(api.delete(f"/v1/sender-accounts/{only}"), 409, "sender_in_use")
    assert "Intro" in refused["detail"]
    api.ok(api.post(f"/v1/sequences/{sequence}/pause"))
    assert_problem(api.delete(f"/v1/sender-accounts/{only}"), 409, "sender_in_use")  # paused still runs

    other = api.ok(api.post("/v1/sender-accounts", json=_mailbox(smtp_server, name="Bea")), 201)["id"]
    api.ok(api.post(f"/v1/sender-accounts/{other}/pause"))
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [only, other]}))
    assert_problem(api.delete(f"/v1/sender-accounts/{only}"), 409, "sender_in_use")  # a paused one cannot take them
    api.ok(api.post(f"/v1/sender-accounts/{other}/resume"))
    draft = ready_sequence(api, catch_up)
    api.ok(api.put(f"/v1/sequences/{draft}/senders", json={"email": [only]}))
    catch_up()
    removed = api.delete(f"/v1/sender-accounts/{only}")
    assert removed.status_code == 204, removed.text

    assert api.ok(api.get(f"/v1/sequences/{sequence}"))["senders"]["email"] == [other]
    assert api.ok(api.get(f"/v1/sequences/{draft}"))["senders"]["email"] == []  # a draft needs none to go on
    assert_problem(api.get(f"/v1/sender-accounts/{only}"), 404, "not_found")
    assert_problem(api.delete(f"/v1/sender-accounts/{only}"), 404, "not_found")
    catch_up()
    assert only not in [s["id"] for s in api.ok(api.get("/v1/sender-accounts"))["items"]]


def test_strategy_profiles_are_created_and_listed(api, catch_up):
    body = {"name": "Founders", "offer": "faster audits", "tone": "plain", "avoid_words": ["synergy"]}
    created = api.ok(api.post("/v1/strategy-profiles", json=body), 201)
    assert created["name"] == "Founders" and created["language"] == "en" and created["avoid_words"] == ["synergy"]
    catch_up()
    items = api.ok(api.get("/v1/strategy-profiles"))["items"]
    assert [(p["id"], p["offer"]) for p in items] == [(created["id"], "faster audits")]
    assert_problem(api.post("/v1/strategy-profiles", json={"name": "x", "voice": "loud"}), 422, "invalid_request")


def test_a_provider_key_no_header_can_carry_leaves_the_sender_unverified(api, sandbox):
    """Found by the fuzz test: a key with a character outside ASCII could not go into the Authorization
    header, and adding the sender answered 500."""
    body = _profile(sandbox, "known")
    body["provider"]["api_key"] = "clé-½"
    added = api.ok(api.post("/v1/sender-accounts", json=body), 201)
    assert added["status"] == "unverified"
    assert "API key" in added["last_error"] and "clé" not in added["last_error"]
