"""Both webhooks answer a malformed X-Plera-Timestamp with 401, whatever its size, and never a 500."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.integration.api.conftest import Api, assert_problem

WEBHOOKS = ["email/inbound", "linkedin"]
MALFORMED = ["9" * 309, "1" * 5000, "1e10", "-1700000000", "1700000000.5", ""]


def _signed(secret: str, stamp: str, body: bytes) -> dict[str, str]:
    """Signed the way a sender would, so only the timestamp is wrong."""
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Plera-Timestamp": stamp, "X-Plera-Signature": signature}


@pytest.mark.parametrize("webhook", WEBHOOKS)
@pytest.mark.parametrize("stamp", MALFORMED)
def test_a_malformed_timestamp_is_a_bad_signature_on_both_webhooks(api: Api, webhook: str, stamp: str) -> None:
    secret = api.ok(api.get("/v1/workspace"))["webhook_secret"]
    body = b'{"type": "message_received"}'
    response = api.client.post(
        f"/v1/webhooks/{api.workspace_id}/{webhook}", content=body, headers=_signed(secret, stamp, body)
    )
    assert_problem(response, 401, "bad_signature")
