from tests.integration.api.conftest import assert_problem

PASSWORD = "hunter2-Very-Secret-Smtp-Password"
API_KEY = "sk-provider-Very-Secret-Key-123"


def _mailbox(**changes):
    return {
        "channel": "email",
        "name": "Ada",
        "address": "ada@plera.test",
        "daily_limit": 40,
        "smtp": {"host": "smtp.plera.test", "port": 587, "username": "ada", "password": PASSWORD},
    } | changes


def test_secrets_go_in_and_never_come_out(api, services, catch_up):
    mailbox = api.post("/v1/sender-accounts", json=_mailbox())
    created = api.ok(mailbox, 201)
    assert created["status"] == "active" and created["channel"] == "email"
    assert created["connection"] == {
        "kind": "smtp",
        "host": "smtp.plera.test",
        "port": 587,
        "username": "ada",
        "starttls": True,
        "base_url": None,
        "account_id": None,
    }
    profile = {
        "channel": "linkedin",
        "name": "Ada LI",
        "address": "https://linkedin.com/in/ada",
        "daily_limit": 20,
        "provider": {"base_url": "http://127.0.0.1:9000", "api_key": API_KEY, "account_id": "acc-1"},
    }
    linkedin = api.post("/v1/sender-accounts", json=profile)
    assert api.ok(linkedin, 201)["weekly_invite_limit"] == 100
    catch_up()
    listed = api.get("/v1/sender-accounts")
    paused = api.post(f"/v1/sender-accounts/{created['id']}/pause", json={"reason": "warming up"})
    bad = api.post("/v1/sender-accounts", json=_mailbox(daily_limit=0))

    for response in (mailbox, linkedin, listed, paused, bad):
        assert PASSWORD not in response.text and API_KEY not in response.text
        assert "secret_id" not in response.text
    assert len(api.ok(listed)["items"]) == 2
    with services.db.pool.connection() as conn:  # nor are they in the events, which do hold the host
        found = [
            conn.execute(
                "SELECT count(*) FROM plera_events WHERE position(%s in state) > 0", (text.encode(),)
            ).fetchone()[0]
            for text in (PASSWORD, API_KEY, "smtp.plera.test")
        ]
    assert found[:2] == [0, 0] and found[2] > 0


def test_a_sender_pauses_and_resumes(api, catch_up):
    sender = api.ok(api.post("/v1/sender-accounts", json=_mailbox()), 201)["id"]
    paused = api.ok(api.post(f"/v1/sender-accounts/{sender}/pause", json={"reason": "bounces"}))
    assert (paused["status"], paused["paused_reason"]) == ("paused", "bounces")
    assert api.ok(api.post(f"/v1/sender-accounts/{sender}/pause"))["paused_reason"] == "bounces"  # a no-op
    catch_up()
    assert api.ok(api.get("/v1/sender-accounts"))["items"][0]["status"] == "paused"
    resumed = api.ok(api.post(f"/v1/sender-accounts/{sender}/resume"))
    assert (resumed["status"], resumed["paused_reason"]) == ("active", None)
    without_reason = api.ok(api.post(f"/v1/sender-accounts/{sender}/pause"))
    assert without_reason["paused_reason"] == "manual"


def test_bad_sender_settings_are_refused(api):
    assert_problem(api.post("/v1/sender-accounts", json=_mailbox(channel="pigeon")), 422, "invalid_request")
    assert_problem(api.post("/v1/sender-accounts", json=_mailbox(daily_limit=-5)), 422, "invalid_request")
    assert_problem(api.post("/v1/sender-accounts", json=_mailbox(weekly_invite_limit=5)), 422, "invalid_request")
    linkedin_with_smtp = _mailbox(channel="linkedin")
    assert_problem(api.post("/v1/sender-accounts", json=linkedin_with_smtp), 422, "invalid_request")
    port = _mailbox(smtp={"host": "h", "port": 70000, "password": PASSWORD})
    body = assert_problem(api.post("/v1/sender-accounts", json=port), 422, "invalid_request")
    assert PASSWORD not in str(body)


def test_strategy_profiles_are_created_and_listed(api, catch_up):
    body = {"name": "Founders", "offer": "faster audits", "tone": "plain", "avoid_words": ["synergy"]}
    created = api.ok(api.post("/v1/strategy-profiles", json=body), 201)
    assert created["name"] == "Founders" and created["language"] == "en" and created["avoid_words"] == ["synergy"]
    catch_up()
    items = api.ok(api.get("/v1/strategy-profiles"))["items"]
    assert [(p["id"], p["offer"]) for p in items] == [(created["id"], "faster audits")]
    assert_problem(api.post("/v1/strategy-profiles", json={"name": "x", "voice": "loud"}), 422, "invalid_request")
