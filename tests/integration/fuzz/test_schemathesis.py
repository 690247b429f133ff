"""Schemathesis over the served OpenAPI document: every operation, `--checks all`, a fixed seed and a
budget that fits CI. Any 5xx or answer the schema does not describe fails the test.

`plera up` serves the API on a database of its own with the simulated clock (so `/v1/dev/*` exists
too); a workspace gets one of everything through the API first (seed.py) and the path ids are
pinned to those, so the fuzzed requests reach past the 404 of an unknown id. Senders point at the
loopback SMTP sink and the LinkedIn sandbox. Webhook bodies are signed by a hook (hooks.py).

PLERA_FUZZ_EXAMPLES sets the examples per operation and phase (default 20, two to three minutes on two
busy cores); PLERA_FUZZ_SEED the seed (default 2). The report is printed on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.integration.cli.conftest import KEY_LINE, Cli, cli_env, free_port, wait_until_healthy
from tests.sinks import shared_sinks

from .seed import seed

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = int(os.environ.get("PLERA_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("PLERA_FUZZ_SEED", "2"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fuzz_database_url(database_url: str) -> Iterator[str]:
    name = f"plera_fuzz_{uuid.uuid4().hex[:10]}"
    server = conninfo_to_dict(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo("", **{**server, "dbname": name})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_schemathesis_finds_no_server_error_and_no_schema_violation(fuzz_database_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", fuzz_database_url)
    env["PLERA_CLOCK"] = "simulated"
    cli = Cli(env=env, data_dir=tmp_path / "data")
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        process = cli.start("up", "--port", str(port), stdout=out, stderr=err)
        wait_until_healthy(process, base, err, timeout=60)
        match = KEY_LINE.search(out.read_text())
        assert match, out.read_text()
        key = match.group(1)
        smtp, sandbox = shared_sinks()
        seeded = seed(base, key, (smtp.host, smtp.port), sandbox.base_url)

        # The shared settings (checks tuned per operation, with the reasons) and this run's ids.
        config = tmp_path / "schemathesis.toml"
        pinned = "\n".join(f'"path.{name}" = {json.dumps(value)}' for name, value in seeded.path_ids.items())
        config.write_text(f"seed = {SEED}\n{CONFIG.read_text()}\n[parameters]\n{pinned}\n")
        report = tmp_path / "report.txt"
        with report.open("w") as output:
            result = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "--config-file",
                    str(config),
                    "--no-color",
                    "run",
                    f"{base}/openapi.json",
                    "--header",
                    f"Authorization: Bearer {key}",
                    "--checks",
                    "all",
                    "--max-examples",
                    str(EXAMPLES),
                    "--workers",
                    "1",
                    "--report",
                    "junit",
                    "--report-dir",
                    str(tmp_path / "reports"),
                ],
                env={
                    **env,
                    "PYTHONPATH": str(ROOT),
                    "SCHEMATHESIS_HOOKS": "tests.integration.fuzz.hooks",
                    "PLERA_FUZZ_WEBHOOK_SECRET": seeded.webhook_secret,
                    "PLERA_FUZZ_PINNED": ",".join(seeded.path_ids),
                    "PLERA_FUZZ_SMTP": f"{smtp.host}:{smtp.port}",
                    "PLERA_FUZZ_LINKEDIN": sandbox.base_url,
                },
                cwd=tmp_path,  # its cache (.schemathesis/) stays out of the repository
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=900,
            )
        text = report.read_text()
        tracebacks = [block for block in err.read_text().split("ERROR:    Exception in ASGI application")[1:]]
        assert result.returncode == 0 and not tracebacks, text + "\n\nserver tracebacks:\n" + "\n".join(tracebacks)
    finally:
        cli.stop_all()
