"""LinkedIn through the provider contract, over real HTTP on 127.0.0.1: the client against the sandbox.

The sandbox plays the provider (and, through its control endpoints, the lead on LinkedIn); a small
receiver in the test plays Plera's webhook endpoint.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from plera.channels import email
from plera.channels.errors import SendFailed
from plera.channels.linkedin import (
    LinkedInAccount,
    NotConnected,
    RateLimited,
    account_status,
    send_invite,
    send_message,
)
from plera.channels.linkedin_sandbox import SandboxServer
from plera.channels.signatures import sign, verify

LENA = "https://www.linkedin.com/in/lena-sandbox"
SECRET = "whsec-test"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def account(sandbox: SandboxServer) -> LinkedInAccount:
    return account_at(sandbox)


def account_at(server: SandboxServer) -> LinkedInAccount:
    return LinkedInAccount(base_url=server.base_url, account_id="acc-alex", api_key="key-1")


def state(sandbox: SandboxServer) -> dict[str, Any]:
    return httpx.get(f"{sandbox.base_url}/_sandbox/state").raise_for_status().json()


def control(sandbox: SandboxServer, action: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{sandbox.base_url}/_sandbox/{action}", json=body, timeout=15)


def failure_of(call: Any) -> SendFailed:
    with pytest.raises(SendFailed) as caught:
        call()
    return caught.value


# ---- the account ----------------------------------------------------------------------------------


def test_the_account_endpoint_answers_for_a_known_account_and_acts_on_nothing(sandbox, account):
    assert account_status(account) == {"id": "acc-alex", "status": "active"}
    assert state(sandbox)["invitations"] == [] and state(sandbox)["messages"] == []


def test_an_unknown_or_restricted_account_is_the_senders_fault_for_the_check_and_for_sends(sandbox, account):
    control(sandbox, "account", account_id="acc-alex", status="unknown").raise_for_status()
    unknown = failure_of(lambda: account_status(account))
    assert (unknown.fault, unknown.reason.split(":")[0]) == ("sender", "404 account_not_found")

    control(sandbox, "account", account_id="acc-alex", status="restricted").raise_for_status()
    restricted = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="k1"))
    assert (restricted.fault, restricted.reason.split(":")[0]) == ("sender", "403 account_restricted")
    assert state(sandbox)["invitations"] == []

    control(sandbox, "account", account_id="acc-alex", status="active").raise_for_status()
    assert account_status(account)["status"] == "active"


def test_the_account_endpoint_wants_a_key(sandbox):
    no_key = httpx.get(f"{sandbox.base_url}/accounts/acc-alex")
    assert (no_key.status_code, no_key.json()["error"]) == (401, "invalid_api_key")
    blank = LinkedInAccount(base_url=sandbox.base_url, account_id="acc-alex", api_key=" ")
    assert failure_of(lambda: account_status(blank)).fault == "sender"


# ---- invitations ----------------------------------------------------------------------------------


def test_an_invite_goes_out_with_its_note(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    invitation_id = send_invite(account, profile_url=LENA, note="Hi Lena, glad to connect.", idempotency_key="m-1")

    [invitation] = state(sandbox)["invitations"]
    assert invitation["id"] == invitation_id
    assert invitation["account_id"] == "acc-alex"
    assert invitation["recipient_profile_url"] == LENA
    assert invitation["note"] == "Hi Lena, glad to connect."
    assert invitation["idempotency_key"] == "m-1"
    assert invitation["status"] == "pending"


def test_an_invite_goes_out_without_a_note(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")

    [invitation] = state(sandbox)["invitations"]
    assert invitation["note"] is None


def test_the_same_idempotency_key_twice_makes_one_invite(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    first = send_invite(account, profile_url=LENA, note="Hi", idempotency_key="m-1")
    again = send_invite(account, profile_url=LENA, note="Hi", idempotency_key="m-1")

    assert again == first
    assert len(state(sandbox)["invitations"]) == 1


def test_a_second_invite_to_the_same_person_is_refused_for_the_lead(account: LinkedInAccount) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")

    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="m-2"))

    assert failed.fault == "recipient"
    assert "already_invited" in failed.reason


def test_a_note_over_the_limit_is_the_recipients_fault(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note="x" * 301, idempotency_key="m-1"))

    assert failed.fault == "recipient"
    assert failed.reason.startswith("422 note_too_long")
    assert state(sandbox)["invitations"] == []


# ---- messages -------------------------------------------------------------------------------------


def test_a_message_before_the_invite_is_accepted_is_refused_as_not_connected(
    sandbox: SandboxServer, account: LinkedInAccount
) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")

    failed = failure_of(lambda: send_message(account, profile_url=LENA, text="Thanks!", idempotency_key="m-2"))

    assert isinstance(failed, NotConnected)
    assert failed.fault == "recipient" and not failed.retryable
    assert failed.reason.startswith("409 not_connected")
    assert state(sandbox)["messages"] == []


def test_a_message_after_acceptance_is_delivered_once(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")
    assert control(sandbox, "accept", account_id="acc-alex", profile_url=LENA).status_code == 200

    message_id = send_message(account, profile_url=LENA, text="Thanks for connecting.", idempotency_key="m-2")
    again = send_message(account, profile_url=LENA, text="Thanks for connecting.", idempotency_key="m-2")

    assert again == message_id
    [message] = state(sandbox)["messages"]
    assert message["id"] == message_id
    assert message["text"] == "Thanks for connecting."
    assert message["recipient_profile_url"] == LENA
    assert message["idempotency_key"] == "m-2"


@pytest.mark.parametrize("text", ["", "  \n"])
def test_an_empty_message_is_the_recipients_fault(sandbox: SandboxServer, account: LinkedInAccount, text: str) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")
    control(sandbox, "accept", account_id="acc-alex", profile_url=LENA)

    failed = failure_of(lambda: send_message(account, profile_url=LENA, text=text, idempotency_key="m-2"))

    assert failed.fault == "recipient"
    assert failed.reason.startswith("422 message_empty")


# ---- failures, as the send protocol classifies them -----------------------------------------------


def test_rate_limited_is_transient_with_the_retry_after(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=429, error="rate_limited", detail="slow down", retry_after=60)

    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert isinstance(failed, RateLimited)
    assert failed.fault == "transient" and failed.retryable
    assert failed.retry_after == 60
    assert failed.reason == "429 rate_limited: slow down (retry after 60s)"
    # the failure was for one call: the retry with the same key goes through
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")
    assert len(state(sandbox)["invitations"]) == 1


def test_a_restricted_account_is_the_senders_fault(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=403, error="account_restricted", detail="LinkedIn restricted this account")

    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "sender"
    assert failed.reason == "403 account_restricted: LinkedIn restricted this account"


def test_an_unknown_profile_is_the_recipients_fault(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=404, error="profile_not_found", detail="no such profile", profile_url=LENA)

    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "recipient"
    assert failed.reason.startswith("404 profile_not_found")


def test_a_failure_aimed_at_one_profile_spares_the_others(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=404, error="profile_not_found", profile_url=LENA)

    send_invite(account, profile_url="https://www.linkedin.com/in/someone-else", note=None, idempotency_key="m-9")

    assert [f["profile_url"] for f in state(sandbox)["failures"]] == [LENA]


def test_a_refused_api_key_is_the_senders_fault(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=401, error="invalid_api_key", detail="unknown key")

    failed = failure_of(lambda: send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "sender"
    assert failed.reason == "401 invalid_api_key: unknown key"


@pytest.mark.parametrize("api_key", ["", "  ", "key-with-a\nline-break"])
def test_a_missing_or_broken_api_key_is_the_senders_fault_and_never_shown(sandbox: SandboxServer, api_key: str) -> None:
    broken = LinkedInAccount(base_url=sandbox.base_url, account_id="acc-alex", api_key=api_key)

    failed = failure_of(lambda: send_invite(broken, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "sender"
    assert "line-break" not in failed.reason
    assert state(sandbox)["invitations"] == []


def test_a_provider_error_is_transient(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    control(sandbox, "fail", status=503, error="unavailable", times=2)

    for key in ("m-1", "m-1"):
        failed = failure_of(lambda key=key: send_invite(account, profile_url=LENA, note=None, idempotency_key=key))
        assert failed.fault == "transient"
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")
    assert len(state(sandbox)["rejected"]) == 2


def test_a_wrong_base_url_is_the_senders_fault(sandbox: SandboxServer) -> None:
    misplaced = LinkedInAccount(base_url=sandbox.base_url + "/api/v9", account_id="acc-alex", api_key="key-1")

    failed = failure_of(lambda: send_invite(misplaced, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "sender"
    assert failed.reason.startswith("404 not_found")


def test_an_unreachable_provider_is_the_senders_fault() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = LinkedInAccount(base_url=f"http://127.0.0.1:{port}", account_id="acc-alex", api_key="key-1")

    failed = failure_of(lambda: send_invite(gone, profile_url=LENA, note=None, idempotency_key="m-1"))

    assert failed.fault == "sender"
    assert failed.reason.startswith(f"cannot reach the provider at http://127.0.0.1:{port}")


def test_linkedin_failures_are_the_same_exception_as_emails() -> None:
    assert email.SendFailed is SendFailed
    assert issubclass(NotConnected, email.SendFailed)


# ---- webhooks to Plera ----------------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str = SECRET) -> bool:
        return verify(
            secret, self.headers.get("X-Plera-Timestamp"), self.headers.get("X-Plera-Signature"), self.body, time.time()
        )


class Receiver(ThreadingHTTPServer):
    """Plera's side of the webhook: records each POST and answers `status` (202, as Plera does)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 202
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/webhooks/ws-1/linkedin"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def wired(receiver: Receiver) -> Iterator[SandboxServer]:
    with SandboxServer(webhook_url=receiver.url, webhook_secret=SECRET) as server:
        yield server


def test_an_accepted_invite_is_posted_to_plera_signed(wired: SandboxServer, receiver: Receiver) -> None:
    invitation_id = send_invite(account_at(wired), profile_url=LENA, note=None, idempotency_key="m-1")

    answer = control(wired, "accept", account_id="acc-alex", profile_url=LENA)

    assert answer.status_code == 200
    [delivery] = receiver.deliveries  # delivered before the control call returned
    assert delivery.path == "/v1/webhooks/ws-1/linkedin"
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.verified()
    event = json.loads(delivery.body)
    assert event == {
        "type": "invite_accepted",
        "event_id": event["event_id"],
        "account_id": "acc-alex",
        "profile_url": LENA,
        "invitation_id": invitation_id,
        "occurred_at": event["occurred_at"],
    }
    assert event["event_id"].startswith("evt_") and event["occurred_at"].endswith("Z")
    assert answer.json()["webhook"]["status"] == 202
    assert state(wired)["invitations"][0]["status"] == "accepted"


def test_accepting_again_redelivers_the_same_event(wired: SandboxServer, receiver: Receiver) -> None:
    send_invite(account_at(wired), profile_url=LENA, note=None, idempotency_key="m-1")

    control(wired, "accept", account_id="acc-alex", profile_url=LENA)
    control(wired, "accept", account_id="acc-alex", profile_url=LENA)

    first, second = (json.loads(d.body) for d in receiver.deliveries)
    assert first == second


def test_a_reply_is_posted_to_plera_signed(wired: SandboxServer, receiver: Receiver) -> None:
    answer = control(wired, "reply", account_id="acc-alex", profile_url=LENA, text="Sounds good, let's talk.")

    assert answer.status_code == 200
    [delivery] = receiver.deliveries
    assert delivery.verified()
    event = json.loads(delivery.body)
    assert event == {
        "type": "message_received",
        "event_id": event["event_id"],
        "account_id": "acc-alex",
        "profile_url": LENA,
        "message_id": event["message_id"],
        "text": "Sounds good, let's talk.",
        "occurred_at": event["occurred_at"],
    }
    assert [w["event"] for w in state(wired)["webhooks"]] == [event]


def test_a_webhook_plera_refuses_is_reported_by_the_control_call(wired: SandboxServer, receiver: Receiver) -> None:
    receiver.status = 401

    answer = control(wired, "reply", account_id="acc-alex", profile_url=LENA, text="Hello?")

    assert answer.status_code == 502
    assert answer.json()["error"] == "webhook_failed"
    assert answer.json()["webhook"]["status"] == 401


def test_accepting_an_invite_that_was_never_sent_is_404(sandbox: SandboxServer) -> None:
    answer = control(sandbox, "accept", account_id="acc-alex", profile_url=LENA)

    assert answer.status_code == 404
    assert answer.json()["error"] == "invitation_not_found"


def test_reset_forgets_everything(sandbox: SandboxServer, account: LinkedInAccount) -> None:
    send_invite(account, profile_url=LENA, note=None, idempotency_key="m-1")
    control(sandbox, "fail", status=500, error="boom")

    control(sandbox, "reset")

    assert state(sandbox)["invitations"] == [] and state(sandbox)["failures"] == []


# ---- the signature ---------------------------------------------------------------------------------

BODY = b'{"type":"message_received","text":"hi"}'
NOW = 1_772_438_400


def test_a_signature_under_the_secret_verifies() -> None:
    assert verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now_unix=NOW + 299)


def test_a_signature_under_another_secret_is_refused() -> None:
    assert not verify(SECRET, str(NOW), sign("another", NOW, BODY), BODY, now_unix=NOW)


def test_a_tampered_body_is_refused() -> None:
    assert not verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY.replace(b"hi", b"ho"), now_unix=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_a_timestamp_more_than_five_minutes_off_is_refused(skew: int) -> None:
    assert not verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now_unix=NOW + skew)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, "ab"), (str(NOW), None), ("", "ab"), ("12.5", "ab"), ("-1", "ab"), (str(NOW), "zz-not-hex-é")],
)
def test_missing_or_malformed_headers_are_refused(timestamp: str | None, signature: str | None) -> None:
    assert not verify(SECRET, timestamp, signature, BODY, now_unix=NOW)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == expected
