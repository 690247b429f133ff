"""Per-lead unsubscribe links (RFC 8058 one-click): a token that names the lead and proves we made it.

The token is the workspace and lead ids with an HMAC-SHA256 tag under the workspace-independent
signing key, so the endpoint needs no session, cookie or lookup to trust it, and a guessed
token for another lead fails the tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

_TAG = 16  # bytes of the HMAC kept: 128 bits


def token_for(key: bytes, workspace_id: UUID, lead_id: UUID) -> str:
    payload = workspace_id.bytes + lead_id.bytes
    tag = hmac.new(key, b"unsubscribe:" + payload, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")


def read_token(key: bytes, token: str) -> tuple[UUID, UUID] | None:
    """(workspace id, lead id) of a genuine token; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != 32 + _TAG:
        return None
    payload, tag = raw[:32], raw[32:]
    expected = hmac.new(key, b"unsubscribe:" + payload, hashlib.sha256).digest()[:_TAG]
    if not hmac.compare_digest(tag, expected):
        return None
    return UUID(bytes=payload[:16]), UUID(bytes=payload[16:])


def unsubscribe_url(public_url: str, key: bytes, workspace_id: UUID, lead_id: UUID) -> str:
    return f"{public_url.rstrip('/')}/v1/unsubscribe/{token_for(key, workspace_id, lead_id)}"
