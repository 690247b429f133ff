"""Checking a sender's SMTP settings over real sockets: bounded in time, and sending nothing."""

from __future__ import annotations

import socket
import time

from plera.channels.email import SmtpAccount
from plera.channels.verification import check_smtp


def account(host: str, port: int, **login: str) -> SmtpAccount:
    return SmtpAccount(host=host, port=port, from_name="Ada", from_address="ada@plera.test", starttls=False, **login)


def test_a_server_that_never_answers_fails_the_check_within_its_time_bound():
    hanging = socket.socket()  # accepts the connection, never greets
    hanging.bind(("127.0.0.1", 0))
    hanging.listen()
    try:
        started = time.monotonic()
        error = check_smtp(account("127.0.0.1", hanging.getsockname()[1]), timeout=1.0)
        assert error is not None and time.monotonic() - started < 3
    finally:
        hanging.close()


def test_a_relay_without_auth_passes_without_a_login_and_fails_with_one(smtp_relay):
    assert check_smtp(account(smtp_relay.host, smtp_relay.port)) is None
    refused = check_smtp(account(smtp_relay.host, smtp_relay.port, username="ada", password="pw"))
    assert refused is not None and "AUTH extension is not supported" in refused
    assert smtp_relay.messages == [] and smtp_relay.logins == []
