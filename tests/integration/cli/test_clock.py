"""`plera clock set/advance`: only with PLERA_CLOCK=simulated; the clock lives in the database."""

from __future__ import annotations

from .conftest import Cli, assert_clean_failure


def test_the_clock_commands_refuse_a_system_clock(cli: Cli) -> None:
    assert_clean_failure(cli("clock", "set", "2026-03-02T08:00:00Z"), "PLERA_CLOCK=simulated")
    assert_clean_failure(cli("clock", "advance", "3d"), "PLERA_CLOCK=simulated")


def test_set_then_advance_moves_the_shared_clock(cli: Cli) -> None:
    set_ = cli("clock", "set", "2026-03-02T08:00:00Z", PLERA_CLOCK="simulated")
    assert set_.returncode == 0, set_.stderr
    assert set_.stdout.strip() == "2026-03-02T08:00:00+00:00"

    advanced = cli("clock", "advance", "3d", PLERA_CLOCK="simulated")  # a second process: the clock is stored
    assert advanced.returncode == 0, advanced.stderr
    assert advanced.stdout.strip() == "2026-03-05T08:00:00+00:00"

    again = cli("clock", "advance", "90m", PLERA_CLOCK="simulated")
    assert again.stdout.strip() == "2026-03-05T09:30:00+00:00", again.stderr


def test_bad_durations_and_instants_are_messages_and_leave_the_clock_alone(cli: Cli) -> None:
    assert cli("clock", "set", "2026-03-02T08:00:00Z", PLERA_CLOCK="simulated").returncode == 0

    assert_clean_failure(cli("clock", "advance", "3w", PLERA_CLOCK="simulated"), "not a duration", "3w")
    assert_clean_failure(cli("clock", "advance", "99999999999d", PLERA_CLOCK="simulated"), "too large")
    assert_clean_failure(cli("clock", "advance", "9999999d", PLERA_CLOCK="simulated"), "year 9999")
    assert_clean_failure(cli("clock", "set", "next tuesday", PLERA_CLOCK="simulated"), "bad instant")

    unchanged = cli("clock", "advance", "0s", PLERA_CLOCK="simulated")
    assert unchanged.stdout.strip() == "2026-03-02T08:00:00+00:00", unchanged.stderr
