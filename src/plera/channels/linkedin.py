"""LinkedIn out through a provider's HTTP API (the contract is docs/linkedin-provider.md).

LinkedIn has no public API for invitations and messages, so a provider (Unipile, HeyReach and the
like, or our sandbox) drives the sender's account. Every call carries our message id as its
idempotency key, so a repeat of the same call never makes a second invite or message. A failure
is classified for the send protocol as email's are: the recipient's (unknown profile, a note the
provider refuses: permanent for this lead), the sender's (bad key, restricted account, provider
unreachable: pause the sender), or passing (rate limited, provider error: retry later, with the
same idempotency key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from plera.channels.errors import SendFailed

__all__ = [
    "LinkedInAccount",
    "NotConnected",
    "RateLimited",
    "SendFailed",
    "account_status",
    "send_invite",
    "send_message",
]


@dataclass(frozen=True)
class LinkedInAccount:
    base_url: str  # the provider's API root, e.g. "https://api.provider.example/v1"
    account_id: str  # the sender's account at the provider
    api_key: str  # from the vault; never logged, never in a reason

    def __repr__(self) -> str:
        return f"LinkedInAccount(base_url={self.base_url!r}, account_id={self.account_id!r}, api_key='***')"


class NotConnected(SendFailed):
    """A message to a profile that has not accepted the sender's invite.

    The engine sends a message step only after `invite_accepted`, so this means the connection is
    gone (withdrawn, removed): a fault of the recipient, permanent for this lead's step.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("recipient", reason)


class RateLimited(SendFailed):
    """The provider's 429: passing; `retry_after` is its Retry-After in seconds, when it gave one."""

    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__("transient", reason)
        self.retry_after = retry_after


# The provider's error codes, by what they mean for the send protocol.
_RECIPIENT_CODES = {
    "profile_not_found",
    "invalid_profile_url",
    "note_too_long",
    "message_too_long",
    "message_empty",
    "already_invited",
}
_SENDER_CODES = {"invalid_api_key", "account_restricted", "account_not_found"}


def send_invite(
    account: LinkedInAccount, *, profile_url: str, note: str | None, idempotency_key: str, timeout: float = 10.0
) -> str:
    """Invites the profile to connect, with a note or none; returns the provider's invitation id."""
    body = {"recipient_profile_url": profile_url, "note": note, "idempotency_key": idempotency_key}
    return _post(account, "invitations", body, timeout)


def send_message(
    account: LinkedInAccount, *, profile_url: str, text: str, idempotency_key: str, timeout: float = 10.0
) -> str:
    """Messages a connection; returns the provider's message id. Raises NotConnected before acceptance."""
    body = {"recipient_profile_url": profile_url, "text": text, "idempotency_key": idempotency_key}
    return _post(account, "messages", body, timeout)


def account_status(account: LinkedInAccount, *, timeout: float = 10.0) -> dict[str, Any]:
    """The account as the provider knows it, `{id, status, premium?}`: a check of the sender's settings
    that acts on nothing. Raises SendFailed as a send would (unknown account, bad key, no provider)."""
    response = _request("GET", account, _account_url(account), None, timeout)
    if response.status_code != 200:
        raise _failure(response)
    try:
        found = response.json()
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("status"), str):
        raise SendFailed("sender", "the provider answered 200 without the account's status")
    return found


def _post(account: LinkedInAccount, resource: str, body: dict[str, Any], timeout: float) -> str:
    response = _request("POST", account, f"{_account_url(account)}/{resource}", body, timeout)
    if response.status_code in (200, 201):
        return _provider_id(response)
    raise _failure(response)


def _account_url(account: LinkedInAccount) -> str:
    return f"{account.base_url.rstrip('/')}/accounts/{quote(account.account_id, safe='')}"


def _request(
    method: str, account: LinkedInAccount, url: str, body: dict[str, Any] | None, timeout: float
) -> httpx.Response:
    if not account.api_key.strip():
        raise SendFailed("sender", "the sender account has no provider API key")
    headers = {"Authorization": f"Bearer {account.api_key}", "Accept": "application/json"}
    try:
        return httpx.request(method, url, json=body, headers=headers, timeout=timeout)
    except (httpx.LocalProtocolError, UnicodeEncodeError) as e:
        # a request that could not be written (a key with a line break, or with a character a header
        # cannot carry: headers are ASCII); its text may hold the key
        raise SendFailed("sender", "the request to the provider could not be made: check its API key") from e
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
        # nothing reached the provider: this sender cannot work until someone fixes it or it comes back
        raise SendFailed("sender", f"cannot reach the provider at {account.base_url}: {e}") from e
    except httpx.HTTPError as e:
        # the request may have been taken: retrying with the same idempotency key is safe
        raise SendFailed("transient", f"no answer from the provider ({type(e).__name__}): {e}") from e


def _provider_id(response: httpx.Response) -> str:
    try:
        found = response.json().get("id")
    except (ValueError, AttributeError):
        found = None
    if not isinstance(found, str) or not found:
        raise SendFailed("sender", f"the provider answered {response.status_code} without an id")
    return found


def _failure(response: httpx.Response) -> SendFailed:
    status = response.status_code
    code, detail = _error_of(response)
    reason = f"{status} {code}: {detail}" if detail else f"{status} {code}"
    if code == "not_connected":
        return NotConnected(reason)
    if status == 429 or code == "rate_limited":
        retry_after = _seconds(response.headers.get("Retry-After"))
        suffix = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        return RateLimited(reason + suffix, retry_after)
    if code in _RECIPIENT_CODES:
        return SendFailed("recipient", reason)
    if code in _SENDER_CODES:
        return SendFailed("sender", reason)
    if status == 408 or status >= 500:
        return SendFailed("transient", reason)
    if status == 422:
        return SendFailed("recipient", reason)
    # 400, 401, 403, an unknown 404 (a wrong base_url), a redirect: our setup, not this lead
    return SendFailed("sender", reason)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The answer's {error, detail}, or the HTTP reason phrase when the body is not the contract's."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        detail = payload.get("detail")
        return payload["error"], detail if isinstance(detail, str) else ""
    return response.reason_phrase.lower().replace(" ", "_") or "http_error", ""


def _seconds(header: str | None) -> float | None:
    """Retry-After as delta-seconds; an HTTP-date (rare from APIs) is ignored."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
