"""A fake OpenAI chat-completions service: real HTTP on 127.0.0.1, scripted answers, recorded requests.

Tests script what the service does next (answer, answer late, refuse with 429) and read back the
request bodies the real openai client sent.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest


@dataclass(frozen=True)
class Behaviour:
    kind: Literal["reply", "rate_limited"]
    content: str = ""
    delay: float = 0.0
    retry_after: str | None = None


def reply(content: str | dict[str, Any]) -> Behaviour:
    """Answer with this assistant content; a dict is sent as its JSON text."""
    return Behaviour("reply", content if isinstance(content, str) else json.dumps(content))


def reply_invalid(content: str = '{"drafts": [{"step": 1, "subject": "Hi", "body": ') -> Behaviour:
    """Answer with content that is not the JSON asked for (by default, JSON cut off midway)."""
    return Behaviour("reply", content)


def sleep(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Wait before answering, as a slow model does; then answer as `then` (an empty object by default)."""
    return Behaviour("reply", then.content if then else "{}", delay=seconds)


def rate_limited(retry_after: str | None = "7") -> Behaviour:
    """Answer 429 with an OpenAI error body and, if given, a Retry-After header."""
    return Behaviour("rate_limited", retry_after=retry_after)


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True  # a handler still sleeping must not hold up teardown
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue what the next requests get, one behaviour each, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)  # the default half second would slow every teardown

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _take(self, body: dict[str, Any]) -> tuple[Behaviour | None, int]:
        with self._lock:
            self.requests.append(body)
            return (self._script.popleft() if self._script else None), next(self._ids)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, _error("no such route", "invalid_request_error", "not_found"))
            return
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        behaviour, number = fake._take(body)
        if behaviour is None:
            self._send(500, _error("the fake's script is empty", "server_error", None))
        elif behaviour.kind == "rate_limited":
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after is not None else {}
            self._send(429, _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"), headers)
        else:
            if fake._stopping.wait(behaviour.delay):
                return
            self._send(200, _completion(number, str(body.get("model", "")), behaviour.content))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as a timed-out client does

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _completion(number: int, model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake{number}",
        "object": "chat.completion",
        "created": 1_741_000_000 + number,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()
