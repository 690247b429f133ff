"""Fixtures over real services: PostgreSQL (the configured server, or embedded) and, later, Kafka."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from plera.clock import FixedClock
from plera.runtime import Services
from plera.settings import Settings
from plera.store import start_embedded

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def _server_url(tmp: Path) -> str:
    """PLERA_TEST_DATABASE_URL, else the machine's server, else an embedded one."""
    configured = os.environ.get("PLERA_TEST_DATABASE_URL")
    if configured:
        return configured
    try:
        with psycopg.connect(LOCAL_SERVER, connect_timeout=2):
            return LOCAL_SERVER
    except psycopg.OperationalError:
        return start_embedded(tmp / "embedded")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    with _new_database(_server_url(tmp_path_factory.mktemp("pg"))) as url:
        yield url


@pytest.fixture
def empty_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own for one test, with nothing in it yet, dropped at the end."""
    with _new_database(_server_url(tmp_path_factory.mktemp("pg"))) as url:
        yield url


@contextmanager
def _new_database(server: str) -> Iterator[str]:
    name = f"plera_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_db(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def services(database_url: str, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = Settings(database_url=database_url, data_dir=tmp_path_factory.mktemp("data"), secret_key="test-key")
    sv = Services.open(settings, clock=clock)
    yield sv
    sv.close()
