"""Processes started together on a new database (an API, a worker, a relay and a consumer, as a
deployment starts them) all come up: one at a time creates the tables, the others find them."""

from __future__ import annotations

import threading
from pathlib import Path

from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services
from plera.settings import Settings

STARTING_TOGETHER = 4


def test_processes_starting_together_on_a_new_database_all_come_up(empty_database_url: str, tmp_path: Path) -> None:
    together = threading.Barrier(STARTING_TOGETHER)
    opened: list[Services] = []
    failed: list[BaseException] = []

    def start(n: int) -> None:
        settings = Settings(database_url=empty_database_url, data_dir=tmp_path / str(n), secret_key="test-key")
        together.wait()
        try:
            opened.append(Services.open(settings))
        except Exception as e:  # what a process would die of
            failed.append(e)

    starters = [threading.Thread(target=start, args=(n,)) for n in range(STARTING_TOGETHER)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(60)

    try:
        assert failed == []
        assert len(opened) == STARTING_TOGETHER
        made = create_workspace(opened[0], CreateWorkspace(name="Together"), "test").workspace
        assert all(sv.events.get(made.id, type(made)).name == "Together" for sv in opened)
    finally:
        for sv in opened:
            sv.close()
