"""UnmatchedMail: one inbound message that matched no lead of the workspace, kept for the inbox.

One aggregate per message, created whole and never changed: a burst of strangers' mail writes
side by side, where one aggregate for all of a workspace's unmatched mail made every message
of the burst race for its next version. See docs/decisions/0009-unmatched-mail.md.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from plera.aggregates.base import PleraAggregate


class UnmatchedMail(PleraAggregate):
    class UnmatchedMailReceived(PleraAggregate.Created):
        """Mail no lead of the workspace could be matched to: kept for the inbox, changes nothing else."""

        workspace_id: UUID
        message_id: str
        from_address: str | None
        subject: str | None
        text: str
        classification: str

    def __init__(
        self,
        workspace_id: UUID,
        message_id: str,
        from_address: str | None,
        subject: str | None,
        text: str,
        classification: str,
    ) -> None:
        self.workspace_id = workspace_id
        self.message_id = message_id
        self.from_address = from_address
        self.subject = subject
        self.text = text
        self.classification = classification

    @staticmethod
    def id_for(workspace_id: UUID, message_id: str) -> UUID:
        return uuid5(workspace_id, "unmatched-mail:" + message_id)

    @classmethod
    def receive(
        cls,
        *,
        workspace_id: UUID,
        message_id: str,
        from_address: str | None,
        subject: str | None,
        text: str,
        classification: str,
        at: datetime,
        actor: str,
    ) -> UnmatchedMail:
        return cls._record_created(
            cls.UnmatchedMailReceived,
            id=cls.id_for(workspace_id, message_id),
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            message_id=message_id,
            from_address=from_address,
            subject=subject,
            text=text,
            classification=classification,
        )
