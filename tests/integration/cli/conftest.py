"""The `plera` console script run as a user runs it: a real process, settings from the environment only."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PLERA = Path(sys.executable).with_name("plera")
TIMEOUT = 60  # seconds for one short command; the embedded server's first start (initdb) is given more

KEY_LINE = re.compile(r"Workspace 'default' API key: (plera_[0-9a-f]{32}_[0-9a-f]{8}_[A-Za-z0-9_-]+)\s*$", re.MULTILINE)
STARTUP = 30  # seconds for `plera up` to answer /healthz


def wait_until_healthy(process: subprocess.Popen[str], base: str, log: Path, timeout: float = STARTUP) -> None:
    """Polls GET /healthz until 200; fails at once if the process exits, and after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"plera up exited with {process.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/healthz did not answer 200 within {timeout}s:\n{log.read_text()}")


@dataclass
class Cli:
    """Runs `plera ARGS` with a fixed environment: PLERA_* comes only from `env`, nothing from the caller's shell."""

    env: dict[str, str]
    data_dir: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = TIMEOUT, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PLERA), *args],
            env={**self.env, **extra},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,  # on expiry the child is killed and TimeoutExpired fails the test
        )

    def start(self, *args: str, stdout: Path, stderr: Path) -> subprocess.Popen[str]:
        """A long-running command with its output in files; `stop_all` (the fixture's teardown) ends it."""
        with stdout.open("w") as out, stderr.open("w") as err:
            process = subprocess.Popen(
                [str(PLERA), *args], env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


def stop(process: subprocess.Popen[str], timeout: float = 20) -> int:
    """SIGTERM, as a service manager stops it; SIGKILL if it has not exited within `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def cli_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLERA_")}
    env["PLERA_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["PLERA_DATABASE_URL"] = database_url
    return env


@pytest.fixture(scope="session", autouse=True)
def _console_script() -> None:
    assert PLERA.exists(), f"the console script is not installed next to the interpreter: {PLERA}"


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on the session's test database, with a data directory of its own."""
    runner = Cli(env=cli_env(tmp_path / "data", database_url), data_dir=tmp_path / "data")
    try:
        yield runner
    finally:
        runner.stop_all()


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A database of its own on the test server, for a test that needs the first start of an empty store."""
    name = f"plera_cli_{uuid.uuid4().hex[:10]}"
    server = conninfo_to_dict(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo("", **{**server, "dbname": name})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def assert_clean_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Non-zero exit, one line on stderr holding every fragment, and no traceback anywhere."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    message = result.stderr.strip()
    assert message and "\n" not in message, f"expected a one-line message, got: {result.stderr!r}"
    for fragment in fragments:
        assert fragment in message, message
    return message


def postmasters(pgdata: Path) -> list[psutil.Process]:
    """Running PostgreSQL servers whose data directory is pgdata."""
    target = str(pgdata.resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmdline and target in cmdline:
            found.append(proc)
    return found


def wait_for_no_postmaster(pgdata: Path, timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := postmasters(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def kill_postmasters(pgdata: Path) -> None:
    """Teardown's last resort: a fast shutdown (SIGINT) of any server left on pgdata, then SIGKILL."""
    for proc in postmasters(pgdata):
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            proc.kill()
