"""`plera user add`: a person who can sign in, by a one-time link or a password on standard input."""

from __future__ import annotations

import json
import subprocess
from uuid import UUID

from plera.commands.users import check_credentials
from plera.runtime import Services

from .conftest import PLERA, TIMEOUT, Cli, assert_clean_failure


def _add(cli: Cli, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLERA), "user", "add", *args],
        env=cli.env,
        input=password if password is not None else "",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_json_output_gives_the_user_and_a_one_time_link(cli: Cli) -> None:
    workspace = json.loads(cli("workspace", "create", "People Inc", "--json").stdout)
    result = _add(cli, "Ada@Example.com", "--workspace", "People Inc", "--name", "Ada Lovelace", "--json")
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout)
    UUID(added["user_id"])
    assert "/set-password?token=" in added["sign_in_url"]
    assert workspace["id"]

    again = _add(cli, "ada@example.com", "--workspace", workspace["id"], "--json")
    assert_clean_failure(again, "ada@example.com", "already exists")


def test_a_password_on_stdin_needs_no_link_and_signs_in(cli: Cli, services: Services) -> None:
    cli("workspace", "create", "Stdin Co", "--json")
    result = _add(
        cli,
        "grace@example.com",
        "--workspace",
        "Stdin Co",
        "--password-stdin",
        "--json",
        password="hopper 1906 cobol\n",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sign_in_url"] is None

    user = check_credentials(services, "grace@example.com", "hopper 1906 cobol")
    assert user is not None and user.name == "grace"
    assert check_credentials(services, "grace@example.com", "hopper 1906 fortran") is None


def test_a_short_password_or_an_unknown_workspace_is_a_message(cli: Cli) -> None:
    assert_clean_failure(_add(cli, "x@example.com", "--password-stdin", password="short\n"), "at least 10")
    assert_clean_failure(_add(cli, "x@example.com", "--workspace", "Nowhere"), "Nowhere")
