"""The fault tests' SMTP sink: a fresh one per test, since each counts every message it took."""

from tests.fakes.smtp_server import smtp_server

__all__ = ["smtp_server"]
