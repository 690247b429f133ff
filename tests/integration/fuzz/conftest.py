"""The inbound webhook fuzz runs over the sending world: real sends first, so mail can answer them."""

from tests.fakes.smtp_server import smtp_server
from tests.integration.sending.world import linkedin_sandbox, world

__all__ = ["linkedin_sandbox", "smtp_server", "world"]
