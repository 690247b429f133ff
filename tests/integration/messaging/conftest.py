"""AI drafting through the real openai client, and test sends through a real SMTP server, both fakes on 127.0.0.1."""

from tests.fakes.openai_server import openai_server
from tests.fakes.smtp_server import smtp_server

__all__ = ["openai_server", "smtp_server"]
