"""Free-mail domains: whether an address's domain names a company, or a mailbox anyone can open.

The list ships with the package (`freemail.txt`, one domain a line, "#" comments). A listed domain
covers its subdomains too, so `mail.yahoo.co.uk` is free mail because `yahoo.co.uk` is listed.
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import cache
from importlib.resources import files


@cache
def free_mail_domains() -> frozenset[str]:
    text = files("plera.channels").joinpath("freemail.txt").read_text(encoding="utf-8")
    lines = (line.partition("#")[0].strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line)


def is_free_mail(domain: str) -> bool:
    """True when the domain, or any domain it is under, is a free-mail domain."""
    labels = _normalised(domain).split(".")
    listed = free_mail_domains()
    return any(".".join(labels[i:]) in listed for i in range(len(labels)))


def company_domain(email: str) -> str | None:
    """The address's domain, lower-cased, unless it is free mail or not a domain at all."""
    address = parseaddr(email)[1] or email
    local, at, domain = address.strip().rpartition("@")
    domain = _normalised(domain)
    if not (at and local and "." in domain) or any(not label or " " in label for label in domain.split(".")):
        return None
    return None if is_free_mail(domain) else domain


def _normalised(domain: str) -> str:
    return domain.strip().strip("<>").lstrip("@").rstrip(".").lower()
