"""A local LinkedIn provider for demos and tests: the contract of docs/linkedin-provider.md, in memory.

It takes any account id with any non-empty bearer key, records the invitations and messages it
gets, and answers as a provider would: idempotency keys honoured, messages refused before the
invite is accepted. Control endpoints under `/_sandbox/` play the other side: accept an invite or
reply (each POSTs a signed webhook to Plera), make the next calls fail, read or reset the state.

`SandboxServer` runs it on a thread (tests, the demo); `serve` runs it in the foreground (the CLI).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from plera.channels.signatures import signed_headers

log = logging.getLogger(__name__)

NOTE_LIMIT = 300  # characters, as LinkedIn allows a premium account
MESSAGE_LIMIT = 8000
WEBHOOK_TIMEOUT = 10.0


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: str, detail: str, **headers: str) -> Answer:
    return Answer(status, {"error": code, "detail": detail}, headers)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class Sandbox:
    """The provider's state and rules. Thread-safe; webhooks go out with no lock held."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
        self._lock = threading.Lock()
        self.configure_webhook(webhook_url, webhook_secret)
        self.reset()

    def configure_webhook(self, url: str | None, secret: str | None) -> None:
        if url and not secret:
            raise ValueError("a webhook URL needs a webhook secret to sign with")
        with self._lock:
            self.webhook_url, self.webhook_secret = url or None, secret or None

    def reset(self) -> None:
        with self._lock:
            self.invitations: list[dict[str, Any]] = []
            self.messages: list[dict[str, Any]] = []
            self.webhooks: list[dict[str, Any]] = []
            self.rejected: list[dict[str, Any]] = []
            self.failures: list[dict[str, Any]] = []
            self._accepted: dict[str, dict[str, Any]] = {}  # invitation id → its invite_accepted event
            self.accounts: dict[str, str] = {}  # account id → "restricted" or "unknown"; any other is active

    def state(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(
                json.dumps(
                    {
                        "invitations": self.invitations,
                        "messages": self.messages,
                        "webhooks": self.webhooks,
                        "rejected": self.rejected,
                        "failures": self.failures,
                        "accounts": self.accounts,
                        "webhook_url": self.webhook_url,
                    }
                )
            )

    # -- the provider API --------------------------------------------------------------------------

    def account(self, account_id: str) -> Answer:
        with self._lock:
            if (failed := self._injected_failure(account_id, None, "account")) is not None:
                return failed
            return self._account_refusal(account_id) or Answer(200, {"id": account_id, "status": "active"})

    def _account_refusal(self, account_id: str) -> Answer | None:
        """What the provider answers for an account that cannot act: unknown, or restricted by LinkedIn."""
        state = self.accounts.get(account_id)
        if state == "unknown":
            return error(404, "account_not_found", f"no account {account_id} at this provider")
        if state == "restricted":
            return error(403, "account_restricted", f"LinkedIn restricted the account {account_id}")
        return None

    def invite(self, account_id: str, body: dict[str, Any]) -> Answer:
        profile, key, note = body.get("recipient_profile_url"), body.get("idempotency_key"), body.get("note")
        if not isinstance(key, str) or not key or not isinstance(profile, str) or not isinstance(note, str | None):
            return error(
                400, "invalid_request", "recipient_profile_url and idempotency_key are strings; note a string or null"
            )
        with self._lock:
            if (failed := self._injected_failure(account_id, profile, "invitations")) is not None:
                return failed
            if (refused := self._account_refusal(account_id)) is not None:
                return refused
            for invitation in self.invitations:
                if invitation["account_id"] == account_id and invitation["idempotency_key"] == key:
                    return Answer(200, {"id": invitation["id"], "status": invitation["status"]})
            if not profile.startswith(("https://", "http://")):
                return error(422, "invalid_profile_url", f"not a profile URL: {profile!r}")
            if note is not None and len(note) > NOTE_LIMIT:
                return error(422, "note_too_long", f"the note has {len(note)} characters; the limit is {NOTE_LIMIT}")
            if self._invitation(account_id, profile) is not None:
                return error(409, "already_invited", f"{account_id} has already invited {profile}")
            invitation = {
                "id": _new_id("inv"),
                "account_id": account_id,
                "recipient_profile_url": profile,
                "note": note,
                "idempotency_key": key,
                "status": "pending",
                "created_at": _now(),
                "accepted_at": None,
            }
            self.invitations.append(invitation)
            return Answer(201, {"id": invitation["id"], "status": "pending"})

    def message(self, account_id: str, body: dict[str, Any]) -> Answer:
        profile, key, text = body.get("recipient_profile_url"), body.get("idempotency_key"), body.get("text")
        if not (isinstance(profile, str) and isinstance(key, str) and isinstance(text, str) and key):
            return error(400, "invalid_request", "recipient_profile_url, text and idempotency_key are strings")
        with self._lock:
            if (failed := self._injected_failure(account_id, profile, "messages")) is not None:
                return failed
            if (refused := self._account_refusal(account_id)) is not None:
                return refused
            for message in self.messages:
                if message["account_id"] == account_id and message["idempotency_key"] == key:
                    return Answer(200, {"id": message["id"]})
            if not profile.startswith(("https://", "http://")):
                return error(422, "invalid_profile_url", f"not a profile URL: {profile!r}")
            if not text.strip():
                return error(422, "message_empty", "the text is empty")
            if len(text) > MESSAGE_LIMIT:
                return error(
                    422, "message_too_long", f"the text has {len(text)} characters; the limit is {MESSAGE_LIMIT}"
                )
            invitation = self._invitation(account_id, profile)
            if invitation is None or invitation["status"] != "accepted":
                return error(409, "not_connected", f"{profile} is not a connection of {account_id}")
            message = {
                "id": _new_id("msg"),
                "account_id": account_id,
                "recipient_profile_url": profile,
                "text": text,
                "idempotency_key": key,
                "created_at": _now(),
            }
            self.messages.append(message)
            return Answer(201, {"id": message["id"]})

    def _invitation(self, account_id: str, profile: str) -> dict[str, Any] | None:
        return next(
            (i for i in self.invitations if i["account_id"] == account_id and i["recipient_profile_url"] == profile),
            None,
        )

    def _injected_failure(self, account_id: str, profile: str | None, resource: str) -> Answer | None:
        for rule in self.failures:
            if rule["account_id"] not in (None, account_id) or rule["profile_url"] not in (None, profile):
                continue
            rule["times"] -= 1
            if rule["times"] <= 0:
                self.failures.remove(rule)
            headers = {"Retry-After": str(rule["retry_after"])} if rule["retry_after"] is not None else {}
            self.rejected.append(
                {"account_id": account_id, "resource": resource, "status": rule["status"], "error": rule["error"]}
            )
            return error(rule["status"], rule["error"], rule["detail"], **headers)
        return None

    # -- the other side: control -------------------------------------------------------------------

    def set_account(self, body: dict[str, Any]) -> Answer:
        account_id, state = body.get("account_id"), body.get("status")
        if not isinstance(account_id, str) or not account_id or state not in ("active", "restricted", "unknown"):
            return error(
                400, "invalid_request", "account_id is a non-empty string; status active, restricted or unknown"
            )
        with self._lock:
            if state == "active":
                self.accounts.pop(account_id, None)
            else:
                self.accounts[account_id] = state
        return Answer(200, {"account_id": account_id, "status": state})

    def fail(self, body: dict[str, Any]) -> Answer:
        status, code, times = body.get("status"), body.get("error"), body.get("times", 1)
        retry_after = body.get("retry_after")
        if not isinstance(status, int) or not 400 <= status <= 599 or not isinstance(code, str) or not code:
            return error(400, "invalid_request", "status is a 4xx or 5xx and error a non-empty code")
        if not isinstance(times, int) or times < 1:
            return error(400, "invalid_request", "times is a positive integer")
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            return error(400, "invalid_request", "retry_after is whole seconds")
        rule = {
            "status": status,
            "error": code,
            "detail": str(body.get("detail") or ""),
            "times": times,
            "retry_after": retry_after,
            "account_id": body.get("account_id"),
            "profile_url": body.get("profile_url"),
        }
        with self._lock:
            self.failures.append(rule)
        return Answer(200, {"failure": rule})

    def accept(self, body: dict[str, Any]) -> Answer:
        """Accepts the invite; accepting it again redelivers the same event, as a provider's retry would."""
        account_id, profile = body.get("account_id"), body.get("profile_url")
        with self._lock:
            invitation = self._invitation(str(account_id), str(profile))
            if invitation is None:
                return error(404, "invitation_not_found", f"{account_id} has not invited {profile}")
            if invitation["status"] != "accepted":
                invitation["status"], invitation["accepted_at"] = "accepted", _now()
                self._accepted[invitation["id"]] = {
                    "type": "invite_accepted",
                    "event_id": _new_id("evt"),
                    "account_id": invitation["account_id"],
                    "profile_url": invitation["recipient_profile_url"],
                    "invitation_id": invitation["id"],
                    "occurred_at": body.get("occurred_at") or invitation["accepted_at"],
                }
            snapshot, event = dict(invitation), self._accepted[invitation["id"]]
        return self._with_webhook({"invitation": snapshot}, event)

    def reply(self, body: dict[str, Any]) -> Answer:
        account_id, profile, text = body.get("account_id"), body.get("profile_url"), body.get("text")
        if not all(isinstance(v, str) and v for v in (account_id, profile, text)):
            return error(400, "invalid_request", "account_id, profile_url and text are non-empty strings")
        event = {
            "type": "message_received",
            "event_id": _new_id("evt"),
            "account_id": account_id,
            "profile_url": profile,
            "message_id": _new_id("msg"),
            "text": text,
            "occurred_at": body.get("occurred_at") or _now(),
        }
        return self._with_webhook({}, event)

    def _with_webhook(self, answer: dict[str, Any], event: dict[str, Any]) -> Answer:
        """Delivers the event now, so that when the control call returns Plera has answered it."""
        with self._lock:
            url, secret = self.webhook_url, self.webhook_secret
        if url is None or secret is None:
            return Answer(200, {**answer, "event": event, "webhook": None})
        payload = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **signed_headers(secret, int(time.time()), payload)}
        delivery: dict[str, Any] = {"url": url, "event_id": event["event_id"], "status": None, "error": None}
        try:
            delivery["status"] = httpx.post(url, content=payload, headers=headers, timeout=WEBHOOK_TIMEOUT).status_code
        except httpx.HTTPError as e:
            delivery["error"] = f"{type(e).__name__}: {e}"
        with self._lock:
            self.webhooks.append({**delivery, "event": event})
        delivered = delivery["status"] is not None and 200 <= delivery["status"] < 300
        if not delivered:
            detail = delivery["error"] or f"{url} answered {delivery['status']}"
            return Answer(
                502, {"error": "webhook_failed", "detail": detail, **answer, "event": event, "webhook": delivery}
            )
        return Answer(200, {**answer, "event": event, "webhook": delivery})

    def set_webhook(self, body: dict[str, Any]) -> Answer:
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str | None) or not isinstance(secret, str | None) or (url and not secret):
            return error(400, "invalid_request", "url and secret are strings (or both null)")
        self.configure_webhook(url, secret)
        return Answer(200, {"webhook_url": url or None})


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
        if parts == ["_sandbox", "state"]:
            self._answer(Answer(200, self.server.sandbox.state()))
        elif len(parts) == 2 and parts[0] == "accounts":
            if not self._authorized():
                return self._answer(error(401, "invalid_api_key", "a bearer API key is required"))
            self._answer(self.server.sandbox.account(parts[1]))
        else:
            self._answer(error(404, "not_found", f"no such path: {self.path}"))

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
        body = self._json_body()
        if body is None:
            return self._answer(error(400, "invalid_request", "the body is not a JSON object"))
        if len(parts) == 3 and parts[0] == "accounts" and parts[2] in ("invitations", "messages"):
            if not self._authorized():
                return self._answer(error(401, "invalid_api_key", "a bearer API key is required"))
            operation = sandbox.invite if parts[2] == "invitations" else sandbox.message
            return self._answer(operation(parts[1], body))
        control = {
            "accept": sandbox.accept,
            "reply": sandbox.reply,
            "fail": sandbox.fail,
            "webhook": sandbox.set_webhook,
            "account": sandbox.set_account,
        }
        if len(parts) == 2 and parts[0] == "_sandbox" and parts[1] == "reset":
            sandbox.reset()
            return self._answer(Answer(200, {"reset": True}))
        if len(parts) == 2 and parts[0] == "_sandbox" and parts[1] in control:
            return self._answer(control[parts[1]](body))
        self._answer(error(404, "not_found", f"no such path: {self.path}"))

    def _authorized(self) -> bool:
        scheme, _, key = self.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip())

    def _json_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _answer(self, answer: Answer) -> None:
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class SandboxServer:
    """The sandbox on a thread of its own: `start()` (port 0 picks a free one), `.base_url`, `stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.sandbox = Sandbox(webhook_url, webhook_secret)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.server_address[1]}"

    def start(self) -> SandboxServer:
        self._server = _Server((self.host, self.port), self.sandbox)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="linkedin-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(host: str, port: int, *, webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
    """Runs the sandbox in the foreground until interrupted (`plera linkedin-sandbox`)."""
    server = _Server((host, port), Sandbox(webhook_url, webhook_secret))
    shown = f"[{host}]" if ":" in host else host
    print(f"LinkedIn sandbox listening on http://{shown}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
