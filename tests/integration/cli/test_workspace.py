"""`plera workspace create`: the key it prints is a working key; bad input is a message, not a traceback."""

from __future__ import annotations

import json
import time
from uuid import UUID

from fastapi.testclient import TestClient

from plera.api import create_app
from plera.commands.workspaces import authenticate
from plera.runtime import Services
from plera.settings import Settings

from .conftest import Cli, assert_clean_failure


def test_json_output_is_one_object_whose_key_works_against_the_api(cli: Cli, database_url: str) -> None:
    result = cli("workspace", "create", "Acme", "--timezone", "Europe/Berlin", "--json")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    created = json.loads(lines[0])
    assert isinstance(created, dict) and {"id", "api_key", "webhook_secret"} <= created.keys()
    workspace_id = UUID(created["id"])

    # The API as `plera up` on this machine serves it: same database, same data directory (the vault's key).
    sv = Services.open(Settings(database_url=database_url, data_dir=cli.data_dir))
    try:
        caller = authenticate(sv, created["api_key"])
        assert caller is not None and caller.workspace_id == workspace_id
        with TestClient(create_app(sv)) as client:
            answer = client.get("/v1/workspace", headers={"Authorization": f"Bearer {created['api_key']}"})
    finally:
        sv.close()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == created["id"]
    assert body["name"] == "Acme"
    assert body["timezone"] == "Europe/Berlin"
    assert body["webhook_secret"] == created["webhook_secret"]


def test_plain_output_shows_the_key_even_when_the_name_looks_like_markup(cli: Cli, services: Services) -> None:
    # The name goes through rich: unescaped, "[/b]" raised MarkupError after the workspace was saved.
    result = cli("workspace", "create", "[/b] Beta")

    assert result.returncode == 0, result.stderr
    assert "Workspace '[/b] Beta' created" in result.stdout
    key = next(line.split("API key: ", 1)[1] for line in result.stdout.splitlines() if "API key: " in line)
    assert authenticate(services, key.strip()) is not None


def test_an_unknown_time_zone_is_a_one_line_message(cli: Cli) -> None:
    result = cli("workspace", "create", "Acme", "--timezone", "Mars/Base", "--json")

    assert_clean_failure(result, "time zone", "Mars/Base")
    assert result.stdout == ""


def test_user_text_in_a_message_is_shown_as_typed(cli: Cli) -> None:
    result = cli("workspace", "create", "Acme", "--timezone", "[/x]")

    assert_clean_failure(result, "[/x]")


def test_an_unreachable_database_is_a_prompt_message(cli: Cli) -> None:
    started = time.monotonic()
    result = cli("workspace", "create", "Acme", PLERA_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")

    assert_clean_failure(result, "cannot open the database")
    assert time.monotonic() - started < 20  # not the connection pool's 30-second wait


def test_bad_settings_are_a_one_line_message(cli: Cli) -> None:
    result = cli("workspace", "create", "Acme", PLERA_CLOCK="sundial")

    assert_clean_failure(result, "bad settings", "PLERA_CLOCK")
