"""How a send failed, in the send protocol's terms; shared by every channel."""

from __future__ import annotations


class SendFailed(Exception):
    """`fault` is "recipient" (permanent for this lead), "sender" (pause the account) or "transient"."""

    def __init__(self, fault: str, reason: str) -> None:
        super().__init__(reason)
        self.fault, self.reason = fault, reason

    @property
    def retryable(self) -> bool:
        return self.fault == "transient"
