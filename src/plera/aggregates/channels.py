"""Channels, conditions and the addresses they need."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    LINKEDIN_INVITE = "linkedin_invite"
    LINKEDIN_MESSAGE = "linkedin_message"

    @property
    def account_channel(self) -> str:
        """The sender-account channel that sends this step."""
        return "email" if self is Channel.EMAIL else "linkedin"


class Condition(StrEnum):
    ALWAYS = "always"
    NO_REPLY = "no_reply"


ACCOUNT_CHANNELS = ("email", "linkedin")
