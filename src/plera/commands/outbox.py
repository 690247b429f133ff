"""The outbox: a dispatch pass's decided messages, handed to their channels together.

Different senders' messages go side by side, up to `concurrency` senders at a time; one sender's go
one after another over its one SMTP connection, kept until the outbox is closed (the worker closes
it at the end of each tick). After a sender's own failure (unreachable, login refused) the rest of
its messages in the pass are not tried: they fail the same way, unsent, and go back to the queue.
A message that has not started by `not_after` is not tried either, so no send begins after its
claim's lease could have run out.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from types import TracebackType
from uuid import UUID

from plera.aggregates.sender_account import SenderAccount
from plera.channels import linkedin
from plera.channels.email import SendFailed, SmtpAccount, SmtpConnections
from plera.commands.outbound import NoSender, OutboundMessage, linkedin_account, smtp_account
from plera.runtime import Services


class NotAttempted(SendFailed):
    """A message never handed to its channel: nothing went out."""


Results = list[BaseException | None]


class Outbox:
    def __init__(self, sv: Services, *, concurrency: int = 16, executor: Executor | None = None) -> None:
        self.sv = sv
        self.concurrency = concurrency
        self._executor = executor  # for the LinkedIn provider's blocking HTTP calls; None: the loop's own
        self._lock = threading.Lock()  # one pass at a time runs the loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._smtp = SmtpConnections()
        # An account's settings and secret until closed, by its version: a change is a new version.
        self._smtp_accounts: dict[tuple[UUID, int], SmtpAccount] = {}
        self._linkedin_accounts: dict[tuple[UUID, int], linkedin.LinkedInAccount] = {}

    def send_all(
        self, items: Sequence[tuple[SenderAccount, OutboundMessage]], *, not_after: float | None = None
    ) -> Results:
        """Sends each (sender, message); answers, in the same order, None for a message sent, else its
        SendFailed (NotAttempted when it was not tried), or the unexpected error it met."""
        if not items:
            return []
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(self._send_all(items, not_after))

    def close(self) -> None:
        """Closes the connections, and the loop that holds them."""
        with self._lock:
            self._smtp_accounts.clear()
            self._linkedin_accounts.clear()
            loop, self._loop = self._loop, None
            if loop is not None:
                try:
                    loop.run_until_complete(self._smtp.close())
                    loop.run_until_complete(loop.shutdown_default_executor())
                finally:
                    loop.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    async def _send_all(
        self, items: Sequence[tuple[SenderAccount, OutboundMessage]], not_after: float | None
    ) -> Results:
        results: Results = [None] * len(items)
        by_sender: dict[UUID, list[int]] = {}
        for index, (sender, _) in enumerate(items):
            by_sender.setdefault(sender.id, []).append(index)
        gate = asyncio.Semaphore(self.concurrency)

        async def one_sender(indexes: list[int]) -> None:
            async with gate:
                stopped: SendFailed | None = None
                for index in indexes:
                    sender, message = items[index]
                    if stopped is not None:
                        results[index] = NotAttempted(stopped.fault, stopped.reason)
                    elif not_after is not None and time.monotonic() > not_after:
                        results[index] = NotAttempted("transient", "not sent: the pass ran out of time")
                    else:
                        try:
                            await self._send(sender, message)
                        except SendFailed as failure:
                            results[index] = failure
                            stopped = failure if failure.fault == "sender" else None
                        except Exception as error:  # noqa: BLE001 - the dispatcher decides what an unknown error means
                            results[index] = error

        await asyncio.gather(*(one_sender(indexes) for indexes in by_sender.values()))
        return results

    async def _send(self, sender: SenderAccount, message: OutboundMessage) -> None:
        try:
            if message.channel == "email":
                account = self._smtp_account(sender)
                await self._smtp.send(account, message.as_email())
                return
            provider = self._linkedin_account(sender)
        except NoSender as e:
            raise SendFailed("sender", e.detail) from e
        if message.channel == "linkedin_invite":
            call = functools.partial(
                linkedin.send_invite,
                provider,
                profile_url=message.to,
                note=message.text,
                idempotency_key=message.message_id,
            )
        else:
            call = functools.partial(
                linkedin.send_message,
                provider,
                profile_url=message.to,
                text=message.text or "",
                idempotency_key=message.message_id,
            )
        await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _smtp_account(self, sender: SenderAccount) -> SmtpAccount:
        key = (sender.id, sender.version)
        if key not in self._smtp_accounts:
            self._smtp_accounts[key] = smtp_account(self.sv, sender)
        return self._smtp_accounts[key]

    def _linkedin_account(self, sender: SenderAccount) -> linkedin.LinkedInAccount:
        key = (sender.id, sender.version)
        if key not in self._linkedin_accounts:
            self._linkedin_accounts[key] = linkedin_account(self.sv, sender)
        return self._linkedin_accounts[key]
