"""A mail server and a LinkedIn provider that every test of a process may point its senders at.

Senders are checked against their server when they are added, so a test that only needs a launched
sequence (read models, Kafka, snapshots) still needs real ones. They start on first use and stop
when the process ends.
"""

from __future__ import annotations

import atexit
import functools
from uuid import UUID

from plera import demo
from plera.channels.linkedin_sandbox import SandboxServer
from plera.runtime import Services
from tests.fakes.smtp_server import FakeSmtp


@functools.cache
def shared_sinks() -> tuple[FakeSmtp, SandboxServer]:
    smtp, sandbox = FakeSmtp(), SandboxServer()
    smtp.start()
    sandbox.start()
    atexit.register(smtp.stop)
    atexit.register(sandbox.stop)
    return smtp, sandbox


def sink_settings(channel: str) -> dict[str, object]:
    """The `smtp` or `provider` member of a sender on the shared sinks."""
    smtp, sandbox = shared_sinks()
    if channel == "email":
        return {"smtp": {"host": smtp.host, "port": smtp.port, "starttls": False}}
    return {"provider": {"base_url": sandbox.base_url, "api_key": "test-key", "account_id": "test-account"}}


def sink_senders(sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str = "test") -> dict[str, list[UUID]]:
    """One verified sender on the shared sinks for each channel the sequence uses."""
    smtp, sandbox = shared_sinks()
    return demo.sink_senders(
        sv, workspace_id, sequence_id, actor, smtp=(smtp.host, smtp.port), linkedin_base_url=sandbox.base_url
    )
