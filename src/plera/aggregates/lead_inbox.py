"""The unified inbox's half of a Lead: what the person sent us, what we answered by hand, and what was read.

A thread is the lead's conversation on one channel ("email" or "linkedin") with one sender account;
its key is derived from those, so every message of the pair lands in one thread. The events are
the Lead's (published on the lead topic): the person is the thread's subject, across sequences.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from plera.aggregates.base import PleraAggregate

CLASSIFICATIONS = ("reply", "auto_reply", "bounce", "unsubscribe")


def thread_id_of(lead_id: UUID, channel: str, sender_id: UUID | None) -> UUID:
    return uuid5(lead_id, f"thread:{channel}:{sender_id or '-'}")


class LeadInbox(PleraAggregate):
    class MessageReceived(PleraAggregate.Event):
        """A message from the person, with what it was taken to be."""

        channel: str
        sender_id: UUID | None
        message_id: str
        subject: str | None
        text: str
        classification: str
        in_reply_to: str | None

    def record_received(
        self,
        *,
        channel: str,
        sender_id: UUID | None,
        message_id: str,
        subject: str | None,
        text: str,
        classification: str,
        in_reply_to: str | None,
        at: datetime,
        actor: str,
    ) -> UUID:
        self._record(
            self.MessageReceived,
            at=at,
            actor=actor,
            channel=channel,
            sender_id=sender_id,
            message_id=message_id,
            subject=subject,
            text=text,
            classification=classification,
            in_reply_to=in_reply_to,
        )
        return thread_id_of(self.id, channel, sender_id)

    class ManualReplySent(PleraAggregate.Event):
        """A person's answer from the inbox, on the thread's channel and sender."""

        channel: str
        sender_id: UUID | None
        message_id: str
        subject: str | None
        text: str
        in_reply_to: str | None

    def record_manual_reply(
        self,
        *,
        channel: str,
        sender_id: UUID | None,
        message_id: str,
        subject: str | None,
        text: str,
        in_reply_to: str | None,
        at: datetime,
        actor: str,
    ) -> None:
        self._record(
            self.ManualReplySent,
            at=at,
            actor=actor,
            channel=channel,
            sender_id=sender_id,
            message_id=message_id,
            subject=subject,
            text=text,
            in_reply_to=in_reply_to,
        )

    class ThreadRead(PleraAggregate.Event):
        thread_id: UUID

    class ThreadUnread(PleraAggregate.Event):
        thread_id: UUID

    def mark_thread(self, *, thread_id: UUID, read: bool, at: datetime, actor: str) -> None:
        self._record(self.ThreadRead if read else self.ThreadUnread, at=at, actor=actor, thread_id=thread_id)
