"""The real HTTP API of the demo's services, on a local port of its own, on a thread of its own.

What comes back in the demo comes in as it would in production: the leads' mail through the signed
inbound-mail webhook, the LinkedIn sandbox's events through the signed provider webhook, and a click
on an email's List-Unsubscribe link as an RFC 8058 one-click POST to that very URL.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from plera.api.app import create_app
from plera.runtime import Services

STARTUP_SECONDS = 10.0


class ApiServer:
    """The port is taken when made, so `base_url` is known before the services are: the demo makes it
    their PLERA_PUBLIC_URL, and the links in the emails it sends lead here. Then `start(sv)`, `stop()`."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))
        self.base_url = f"http://{self.host}:{self._socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, sv: Services) -> ApiServer:
        config = uvicorn.Config(create_app(sv), log_level="warning", access_log=False, lifespan="on")
        server = self._server = uvicorn.Server(config)
        # Off the main thread uvicorn leaves the process's signal handlers alone.
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, name="demo-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo's API server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()
