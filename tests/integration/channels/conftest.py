"""The channels over real sockets: the fake SMTP servers on loopback."""

from tests.fakes.smtp_server import smtp_relay

__all__ = ["smtp_relay"]
