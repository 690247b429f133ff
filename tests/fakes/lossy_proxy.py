"""An HTTP proxy on 127.0.0.1 that can lose answers: it passes each request on to its target and
returns the answer, except that it can be told to drop the next answers (`drop_next_answers(1)`):
the target has taken the request, and the caller sees the connection close with no answer, as
after a timeout or a network fault on the way back.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: LossyProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _pass_on(self) -> None:
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        answer = httpx.request(self.command, proxy.target + self.path, content=body, headers=headers, timeout=10)
        if proxy.take_drop():
            self.close_connection = True  # taken by the target; the caller hears nothing back
            return
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _pass_on


class LossyProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self._lock = threading.Lock()
        self._drops = 0
        self.dropped = 0
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="lossy-proxy", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def drop_next_answers(self, count: int = 1) -> None:
        with self._lock:
            self._drops += count

    def take_drop(self) -> bool:
        with self._lock:
            if self._drops == 0:
                return False
            self._drops -= 1
            self.dropped += 1
            return True

    def start(self) -> LossyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
