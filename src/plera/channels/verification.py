"""Checks a sender account's settings before it is trusted, sending nothing.

Email: connect, EHLO, STARTTLS when asked, log in when credentials are given (`email.check_async`).
LinkedIn: ask the provider for the account (`linkedin.account_status`). Each check is bounded by
`TIMEOUT` in all, since it runs inside an API request: a dead host must not hold the request long.
The answer is None when the account can send, else why not, in words (never holding a secret).
"""

from __future__ import annotations

import asyncio

from plera.channels import email, linkedin
from plera.channels.errors import SendFailed

TIMEOUT = 5.0  # seconds, for the whole check


def check_smtp(account: email.SmtpAccount, *, timeout: float = TIMEOUT) -> str | None:
    try:
        asyncio.run(asyncio.wait_for(email.check_async(account, timeout=timeout), timeout))
    except SendFailed as e:
        return e.reason
    except TimeoutError:
        return f"no answer from {account.host}:{account.port} within {timeout:g} seconds"
    return None


def check_linkedin(account: linkedin.LinkedInAccount, *, timeout: float = TIMEOUT) -> str | None:
    try:
        found = linkedin.account_status(account, timeout=timeout)
    except SendFailed as e:
        return e.reason
    status = found["status"]
    return None if status == "active" else f"the provider says the account is {status}"
