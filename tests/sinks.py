"""A mail server and a LinkedIn provider that every test of a process may point its senders at.

Senders are checked against their server when they are added, so a test that only needs a launched
sequence (read models, Kafka, snapshots) still needs real ones. They start on first use and stop
when the process ends.
"""

from __future__ import annotations

import atexit
import functools
from uuid import UUID

from plera.aggregates.sequence import Sequence
from plera.channels.linkedin_sandbox import SandboxServer
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
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
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    families = sorted({"email" if s["channel"] == "email" else "linkedin" for s in sequence.steps})
    senders: dict[str, list[UUID]] = {}
    for family in families:
        address = "sender@plera.example" if family == "email" else "https://www.linkedin.com/in/plera-sandbox"
        body = {"channel": family, "name": f"Sandbox {family}", "address": address, "daily_limit": 1000}
        cmd = AddSenderAccount.model_validate(body | sink_settings(family))
        senders[family] = [add_sender_account(sv, workspace_id, cmd, actor).id]
    return senders
