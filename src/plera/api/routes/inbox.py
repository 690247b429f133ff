"""The unified inbox: threads (one per lead, channel and sender), their messages, read marks and manual answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from plera.aggregates.errors import NotFound
from plera.api.auth import CallerDep
from plera.api.deps import IdPath, PagingDep, ServicesDep, parse_id
from plera.api.models import Instant, Page
from plera.api.problems import responses
from plera.commands.inbox import ReplyInThread, mark_thread, reply_in_thread
from plera.projections.inbox import thread, threads

router = APIRouter(prefix="/inbox/threads", tags=["inbox"], responses=responses(401, 404, 422))

ThreadStatus = Literal["unread", "replied", "ooo", "bounced", "unmatched"]
Classification = Literal["reply", "auto_reply", "bounce", "unsubscribe"]


def _thread_id(thread_id: IdPath) -> UUID:
    return parse_id(thread_id, "thread")


ThreadId = Annotated[UUID, Depends(_thread_id)]


class ThreadOut(BaseModel):
    id: UUID
    lead_id: UUID | None = Field(description="null for unmatched mail")
    lead_name: str | None
    lead_email: str | None
    lead_linkedin_url: str | None
    company: str | None
    channel: Literal["email", "linkedin"]
    sender_id: UUID | None = Field(description="the sender account of the conversation")
    sender_name: str | None
    from_address: str | None = Field(description="for unmatched mail: the address it came from")
    sequence_id: UUID | None = Field(description="the latest sequence whose message is in the thread")
    sequence_name: str | None
    subject: str | None = Field(description="the conversation's subject (email), without Re:/Fwd: prefixes")
    last_message_at: Instant
    last_direction: Literal["in", "out"]
    last_preview: str | None = Field(
        description="the first 200 characters of the last message (ours from a step: null)"
    )
    last_classification: Classification | None = Field(description="of the last message, when it is the person's")
    last_inbound_at: Instant | None
    unread: bool = Field(description="a message of the person came after the thread was last read or answered")
    replied: bool = Field(description="the person replied in this thread")
    ooo: bool = Field(description="the person's latest message is an out-of-office auto-reply")
    bounced: bool = Field(description="one of our messages bounced")
    unmatched: bool = Field(description="mail that matched no lead (read-only)")
    message_count: int


class MessageOut(BaseModel):
    message_id: str
    direction: Literal["in", "out"]
    at: Instant
    channel: str = Field(description="email or linkedin; for our steps: email, linkedin_invite, linkedin_message")
    subject: str | None = Field(description="null for our step messages (their text is not kept in events)")
    text: str | None = Field(description="null for our step messages")
    classification: Classification | None = Field(description="for the person's messages")
    in_reply_to: str | None
    step: int | None = Field(description="for our step messages: the sequence step, from 1")
    enrollment_id: UUID | None
    sequence_id: UUID | None
    status: Literal["received", "sent", "outcome_unknown", "bounced", "soft_bounced"] = Field(
        description="received (theirs); sent, outcome_unknown, bounced or soft_bounced (ours)"
    )
    reason: str | None = Field(description="a bounce's reason")
    author: str = Field(description="who recorded it: the API key's name for manual answers, worker or webhook")


class ThreadDetailOut(ThreadOut):
    messages: list[MessageOut] = Field(description="oldest first")


class ReplyOut(BaseModel):
    thread_id: UUID
    message_id: str = Field(description="the answer's Message-ID (the provider's idempotency key on LinkedIn)")
    channel: Literal["email", "linkedin"]
    sender_id: UUID
    to: str
    subject: str | None
    in_reply_to: str | None
    references: list[str]
    sent_at: Instant


@router.get(
    "",
    response_model=Page[ThreadOut],
    summary="Threads, latest message first (from the read model, moments behind)",
)
def get_threads(
    sv: ServicesDep,
    caller: CallerDep,
    page: PagingDep,
    status: Annotated[
        ThreadStatus | None, Query(description="unread, replied (the person replied), ooo, bounced or unmatched")
    ] = None,
    sequence_id: Annotated[UUID | None, Query()] = None,
    sender_id: Annotated[UUID | None, Query()] = None,
) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        return threads(
            conn,
            caller.workspace_id,
            status=status,
            sequence_id=sequence_id,
            sender_id=sender_id,
            limit=page.limit,
            cursor=page.cursor,
        )


@router.get("/{thread_id}", response_model=ThreadDetailOut, summary="A thread with its messages, oldest first")
def get_thread(sv: ServicesDep, caller: CallerDep, thread_id: ThreadId) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        found = thread(conn, caller.workspace_id, thread_id)
    if found is None:
        raise NotFound(f"no thread {thread_id}")
    return found


@router.post(
    "/{thread_id}/reply",
    response_model=ReplyOut,
    summary="Answer by hand on the thread's channel, from its sender, in its subject (sent now, outside the"
    " sending window; counts toward the sender's daily limit; refused for suppressed people)",
    responses=responses(409, 502),
)
def post_reply(sv: ServicesDep, caller: CallerDep, thread_id: ThreadId, body: ReplyInThread) -> dict[str, Any]:
    return reply_in_thread(sv, caller.workspace_id, thread_id, body.body, caller.actor)


@router.post(
    "/{thread_id}/read",
    response_model=ThreadOut,
    summary="Mark the thread read (409 unmatched_thread for unmatched mail)",
    responses=responses(409),
)
def post_read(sv: ServicesDep, caller: CallerDep, thread_id: ThreadId) -> dict[str, Any]:
    return mark_thread(sv, caller.workspace_id, thread_id, True, caller.actor)


@router.post(
    "/{thread_id}/unread",
    response_model=ThreadOut,
    summary="Mark the thread unread (409 unmatched_thread for unmatched mail)",
    responses=responses(409),
)
def post_unread(sv: ServicesDep, caller: CallerDep, thread_id: ThreadId) -> dict[str, Any]:
    return mark_thread(sv, caller.workspace_id, thread_id, False, caller.actor)
