"""Which clock a process runs on: its PLERA_CLOCK, or the one its database keeps."""

from __future__ import annotations

import pytest

from plera.clock import ClockModeConflict, choose_clock_mode


def test_a_process_without_plera_clock_follows_the_database() -> None:
    assert choose_clock_mode(None, "simulated", keeper=False) == "simulated"
    assert choose_clock_mode(None, "system", keeper=False) == "system"
    assert choose_clock_mode(None, None, keeper=False) == "system"


def test_with_nothing_kept_plera_clock_decides() -> None:
    assert choose_clock_mode("simulated", None, keeper=False) == "simulated"


def test_the_service_changes_the_kept_clock_and_others_may_not() -> None:
    assert choose_clock_mode("system", "simulated", keeper=True) == "system"
    with pytest.raises(ClockModeConflict, match="runs on the simulated clock"):
        choose_clock_mode("system", "simulated", keeper=False)
    with pytest.raises(ClockModeConflict, match="unset PLERA_CLOCK"):
        choose_clock_mode("simulated", "system", keeper=False)
