"""The user promise: with no PLERA_DATABASE_URL, Plera runs its own PostgreSQL in the data directory,
keeps the data between runs, and stops the server when the last process using it exits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import (
    KEY_LINE,
    Cli,
    cli_env,
    free_port,
    kill_postmasters,
    stop,
    wait_for_no_postmaster,
    wait_until_healthy,
)

FIRST_START = 180  # seconds: the first run unpacks a cluster with initdb


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Cli]:
    data_dir = tmp_path / "data"
    cli = Cli(env=cli_env(data_dir, database_url=None), data_dir=data_dir)
    try:
        yield cli
    finally:
        cli.stop_all()
        kill_postmasters(data_dir / "pg")  # only if a test failed with the server still up


def assert_server_stopped(cli: Cli) -> None:
    left = wait_for_no_postmaster(cli.data_dir / "pg")
    assert not left, f"the embedded PostgreSQL is still running: {[p.pid for p in left]}"
    assert not (cli.data_dir / "pg" / "postmaster.pid").exists()


def test_demo_on_embedded_postgres_keeps_its_data_and_stops_the_server(embedded: Cli) -> None:
    assert "PLERA_DATABASE_URL" not in embedded.env

    first = embedded("demo", timeout=FIRST_START)
    assert first.returncode == 0, first.stderr
    assert "Database: new" in first.stdout
    assert "7 leads enrolled" in first.stdout
    assert "Traceback" not in first.stderr and "Warning" not in first.stderr, first.stderr
    assert (embedded.data_dir / "pg" / "PG_VERSION").exists()
    assert_server_stopped(embedded)

    second = embedded("demo", timeout=FIRST_START)
    assert second.returncode == 0, second.stderr
    match = re.search(r"Database: reused, (\d+) events already stored", second.stdout)
    assert match, second.stdout
    assert int(match.group(1)) > 0
    assert_server_stopped(embedded)


def test_up_on_embedded_postgres_stops_the_server_on_sigterm(embedded: Cli) -> None:
    port = free_port()
    out, err = embedded.data_dir.parent / "up.out", embedded.data_dir.parent / "up.err"
    process = embedded.start("up", "--port", str(port), stdout=out, stderr=err)
    wait_until_healthy(process, f"http://127.0.0.1:{port}", err, timeout=FIRST_START)
    match = KEY_LINE.search(out.read_text())
    assert match, out.read_text()
    answer = httpx.get(
        f"http://127.0.0.1:{port}/v1/workspace", headers={"Authorization": f"Bearer {match.group(1)}"}, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["name"] == "default"
    assert (embedded.data_dir / "pg" / "postmaster.pid").exists()

    # Before the fix, uvicorn re-raised SIGTERM after its shutdown and Python died of it: no exit hooks,
    # so the embedded server outlived `plera up`.
    assert stop(process) == 0, err.read_text()
    assert_server_stopped(embedded)
