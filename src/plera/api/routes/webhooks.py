"""Inbound webhooks: signed by the workspace's webhook secret, no API key (API.md)."""

from __future__ import annotations

import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plera.aggregates.errors import NotFound
from plera.aggregates.workspace import Workspace
from plera.api.deps import ServicesDep
from plera.api.problems import ApiError, responses
from plera.channels.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from plera.commands.email_inbound import take_in_email
from plera.commands.linkedin_inbound import LinkedInEvent, take_in
from plera.runtime import Services

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=responses(401, 404, 422))

# A uuid, as the schema says; any other text answers 401 like a bad signature, so that the webhook
# tells a stranger nothing about which workspaces exist.
WorkspaceId = Annotated[str, Path(json_schema_extra={"format": "uuid", "maxLength": 36})]


async def signed_body(sv: Services, workspace_id: str, request: Request) -> tuple[UUID, bytes]:
    """The body, once its signature is the workspace's and its timestamp within 5 minutes of the
    real wall clock (also when the clock is simulated: it guards against replays). Else 401."""
    body = await request.body()
    try:
        ws = UUID(workspace_id)
        secret = _cached_secret(ws)
        if secret is None:  # a thread for the store, only when the secret is not at hand
            secret = await run_in_threadpool(_webhook_secret, sv, ws)
    except (ValueError, NotFound):
        raise ApiError(401, "bad_signature", "the signature or its timestamp is not valid") from None
    headers = request.headers
    if not verify(secret, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body, time.time()):
        raise ApiError(401, "bad_signature", "the signature or its timestamp is not valid")
    return ws, body


_SECRETS: dict[UUID, tuple[float, str]] = {}
_SECRET_TTL = 30.0  # seconds a decrypted secret is reused: deliveries come in bursts


def _cached_secret(workspace_id: UUID) -> str | None:
    cached = _SECRETS.get(workspace_id)
    return cached[1] if cached is not None and cached[0] > time.monotonic() else None


def _webhook_secret(sv: Services, workspace_id: UUID) -> str:
    secret = sv.vault.get(sv.events.get(workspace_id, Workspace).webhook_secret_id)
    _SECRETS[workspace_id] = (time.monotonic() + _SECRET_TTL, secret)
    return secret


@router.post(
    "/{workspace_id}/email/inbound",
    status_code=202,
    summary="A raw RFC 5322 message (message/rfc822): matched, classified and applied before the 202",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def post_email(sv: ServicesDep, workspace_id: WorkspaceId, request: Request) -> dict[str, Any]:
    ws, body = await signed_body(sv, workspace_id, request)
    if not body.strip():
        raise ApiError(422, "invalid_request", "the body must be a raw RFC 5322 message")
    taken = await run_in_threadpool(take_in_email, sv, ws, body)
    return taken.as_dict()


@router.post(
    "/{workspace_id}/linkedin",
    status_code=202,
    summary="LinkedIn provider events: invite_accepted, message_received (docs/linkedin-provider.md)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LinkedInEvent.model_json_schema()}},
        }
    },
)
async def post_linkedin(sv: ServicesDep, workspace_id: WorkspaceId, request: Request) -> dict[str, Any]:
    ws, body = await signed_body(sv, workspace_id, request)
    try:
        event = LinkedInEvent.model_validate_json(body)
    except ValidationError as e:
        raise ApiError(422, "invalid_request", f"not a provider event: {e.errors()[0]['msg']}") from None
    changed = await run_in_threadpool(take_in, sv, ws, event)
    return {"accepted": True, "enrollments": changed}
