"""AI drafting through the real openai client against a fake service on 127.0.0.1. No database needed."""

from tests.fakes.openai_server import openai_server

__all__ = ["openai_server"]
