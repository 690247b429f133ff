"""The sending engine over real parts: PostgreSQL, an SMTP server and the LinkedIn sandbox on loopback."""

from tests.fakes.smtp_server import smtp_relay, smtp_server
from tests.integration.sending.world import linkedin_sandbox, world

__all__ = ["linkedin_sandbox", "smtp_relay", "smtp_server", "world"]
