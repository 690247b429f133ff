"""`plera up`: serves the API, creates the `default` workspace once, prints its key, and stops on SIGTERM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import psycopg

from .conftest import KEY_LINE, Cli, cli_env, free_port, stop, wait_until_healthy


def start_up(cli: Cli, port: int, name: str) -> tuple[subprocess.Popen[str], Path, Path]:
    out, err = cli.data_dir.parent / f"{name}.out", cli.data_dir.parent / f"{name}.err"
    process = cli.start("up", "--port", str(port), stdout=out, stderr=err)
    wait_until_healthy(process, f"http://127.0.0.1:{port}", err)
    return process, out, err


def workspaces_created(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM plera_events WHERE topic LIKE '%:Workspace.WorkspaceCreated'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_up_serves_the_default_workspace_and_keeps_its_key_across_starts(
    fresh_database_url: str, tmp_path: Path
) -> None:
    cli = Cli(env=cli_env(tmp_path / "data", fresh_database_url), data_dir=tmp_path / "data")
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        first, out, err = start_up(cli, port, "first")
        printed = out.read_text()
        assert "Created the workspace 'default'." in printed
        assert f"serving on http://127.0.0.1:{port}" in printed
        match = KEY_LINE.search(printed)
        assert match, printed
        key = match.group(1)
        answer = httpx.get(f"{base}/v1/workspace", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "default"
        workspace_id = answer.json()["id"]
        assert httpx.get(f"{base}/v1/workspace", timeout=10).status_code == 401

        assert stop(first) == 0, err.read_text()  # SIGTERM: a clean shutdown, not death by signal
        assert "Traceback" not in err.read_text()

        second, out, err = start_up(cli, port, "second")
        printed = out.read_text()
        assert "Created the workspace" not in printed
        match = KEY_LINE.search(printed)
        assert match and match.group(1) == key, printed
        answer = httpx.get(f"{base}/v1/workspace", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["id"] == workspace_id
        assert stop(second) == 0, err.read_text()

        assert workspaces_created(fresh_database_url) == 1
    finally:
        cli.stop_all()
