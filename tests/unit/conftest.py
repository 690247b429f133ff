"""Shared instants for the domain's unit tests. Aggregates take time as `at`; they never read a clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.fixture
def at() -> datetime:
    """Monday 3 March 2025, 09:00 UTC."""
    return datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
