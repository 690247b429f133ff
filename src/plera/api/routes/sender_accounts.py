"""Sender accounts: mailboxes and LinkedIn profiles. Their secrets go in, and never come out."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel

from plera.api.auth import CallerDep
from plera.api.deps import PagingDep, SenderId, ServicesDep, catalog_page
from plera.api.models import Listed, Page
from plera.api.problems import responses
from plera.commands.models import Command, text
from plera.commands.sender_accounts import (
    AddSenderAccount,
    ChangeSenderAccount,
    add_sender_account,
    change_sender_account,
    get_sender_account,
    remove_sender_account,
    set_sender_status,
)

router = APIRouter(prefix="/sender-accounts", tags=["sender accounts"], responses=responses(401, 422))


class SenderFields(BaseModel):
    id: UUID
    channel: Literal["email", "linkedin"]
    name: str
    address: str
    signature: str | None
    daily_limit: int
    weekly_invite_limit: int | None
    premium: bool
    status: Literal["active", "paused", "unverified"]
    paused_reason: str | None
    last_error: str | None = None  # why the last check of its settings failed (status unverified)
    verified_at: str | None = None  # when its settings were last checked, whatever came of it


class Connection(BaseModel):
    """The connection settings without their secrets (passwords and keys are kept encrypted)."""

    kind: Literal["smtp", "provider"] | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    starttls: bool | None = None
    base_url: str | None = None
    account_id: str | None = None


class SenderOut(SenderFields):
    connection: Connection


class SenderItem(SenderFields, Listed):
    pass


class PauseSender(Command):
    reason: str = text(500, blank=False, default="manual", description="why, shown with the sender")


@router.post("", status_code=201, response_model=SenderOut, summary="Add a sender account")
def post_sender(sv: ServicesDep, caller: CallerDep, body: AddSenderAccount) -> dict[str, Any]:
    return add_sender_account(sv, caller.workspace_id, body, caller.actor).as_dict()


@router.get("", response_model=Page[SenderItem], summary="List sender accounts, oldest first")
def list_senders(sv: ServicesDep, caller: CallerDep, page: PagingDep) -> dict[str, Any]:
    return catalog_page(sv, caller.workspace_id, "sender_account", page)


@router.get("/{sender_id}", response_model=SenderOut, summary="A sender account", responses=responses(404))
def get_sender(sv: ServicesDep, caller: CallerDep, sender_id: SenderId) -> dict[str, Any]:
    return get_sender_account(sv, caller.workspace_id, sender_id).as_dict()


@router.patch(
    "/{sender_id}",
    response_model=SenderOut,
    summary="Change a sender account; new SMTP or provider settings are checked again",
    responses=responses(404),
)
def patch_sender(sv: ServicesDep, caller: CallerDep, sender_id: SenderId, body: ChangeSenderAccount) -> dict[str, Any]:
    return change_sender_account(sv, caller.workspace_id, sender_id, body, caller.actor).as_dict()


@router.delete(
    "/{sender_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a sender account (409 while a running sequence has no other sender for its leads)",
    responses=responses(404, 409),
)
def delete_sender(sv: ServicesDep, caller: CallerDep, sender_id: SenderId) -> Response:
    remove_sender_account(sv, caller.workspace_id, sender_id, caller.actor)
    return Response(status_code=204)


@router.post("/{sender_id}/pause", response_model=SenderOut, summary="Pause a sender", responses=responses(404))
def post_pause(
    sv: ServicesDep, caller: CallerDep, sender_id: SenderId, body: PauseSender | None = None
) -> dict[str, Any]:
    reason = body.reason if body else "manual"
    return set_sender_status(
        sv, caller.workspace_id, sender_id, paused=True, reason=reason, actor=caller.actor
    ).as_dict()


@router.post("/{sender_id}/resume", response_model=SenderOut, summary="Resume a sender", responses=responses(404))
def post_resume(sv: ServicesDep, caller: CallerDep, sender_id: SenderId) -> dict[str, Any]:
    return set_sender_status(sv, caller.workspace_id, sender_id, paused=False, reason="", actor=caller.actor).as_dict()
