"""The body limit: 10 MB, checked on Content-Length up front and on the bytes as they stream in.

Counting the stream matters for chunked bodies, which declare no length: reading stops at the
first chunk past the limit, so no more than the limit and one chunk is ever held in memory.

One route takes more: a CSV of leads may be up to 100 MB (200,000 rows are 20 to 30 MB). Its route
streams a large file into an import job a megabyte at a time and holds no more than that; what it
reads whole (JSON, a small CSV, a dry run) stays within the 10 MB.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plera.api.problems import PayloadTooLarge, problem

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_IMPORT_BYTES = 100 * 1024 * 1024
# (method, path) → the larger limit of that route
LARGER_BODIES = ((re.compile(r"POST /v1/source-groups/[^/]+/leads"), MAX_IMPORT_BYTES),)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.default_max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = _limit_of(scope, self.default_max_bytes)
        declared = _content_length(scope)
        if declared == -1:
            await problem(400, "bad_request", "the Content-Length header is not a number")(scope, receive, send)
            return
        if declared is not None and declared > max_bytes:
            await _too_large(max_bytes, scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except PayloadTooLarge:
            # The app's handlers answer this themselves; this is for a read outside their reach.
            if started:
                raise
            await _too_large(max_bytes, scope, receive, send)


async def _too_large(max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
    detail = f"the request body is larger than {max_bytes} bytes"
    await problem(413, "payload_too_large", detail, headers={"Connection": "close"})(scope, receive, send)


def _limit_of(scope: Scope, default: int) -> int:
    route = f"{scope['method']} {scope['path']}"
    return next((limit for pattern, limit in LARGER_BODIES if pattern.fullmatch(route)), default)


def _content_length(scope: Scope) -> int | None:
    """The declared length, None when there is none, -1 when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None
