"""Free-mail domains: an address at gmail.com names no company; one at northwind.example does."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from plera.channels.freemail import company_domain, free_mail_domains, is_free_mail

# fmt: off
NAMED_IN_THE_BRIEF = [
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com",
    "yahoo.com", "yahoo.co.uk", "yahoo.de", "yahoo.fr", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de",
    "gmx.net", "gmx.com", "web.de", "t-online.de", "freenet.de", "mail.ru", "yandex.ru", "yandex.com",
    "protonmail.com", "proton.me", "zoho.com", "mail.com", "orange.fr", "free.fr", "laposte.net", "sfr.fr",
    "wanadoo.fr", "libero.it", "virgilio.it", "qq.com", "163.com", "126.com", "naver.com", "seznam.cz", "wp.pl",
    "o2.pl", "interia.pl", "btinternet.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
]
# fmt: on


def test_the_list_ships_at_least_150_domains() -> None:
    assert len(free_mail_domains()) >= 150


@pytest.mark.parametrize("domain", NAMED_IN_THE_BRIEF)
def test_the_common_free_mail_domains_are_listed(domain: str) -> None:
    assert is_free_mail(domain)


def test_the_list_is_lower_case_domains_without_comments() -> None:
    for domain in free_mail_domains():
        assert domain == domain.strip().lower()
        assert "#" not in domain and " " not in domain and "." in domain


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("GMail.COM", True),
        ("gmail.com.", True),
        ("@gmail.com", True),
        ("mail.yahoo.co.uk", True),  # a subdomain of a listed domain
        ("northwind.example", False),
        ("gmail.com.northwind.example", False),  # a listed name inside a company's domain
        ("notgmail.com", False),
        ("com", False),
        ("", False),
    ],
)
def test_a_domain_is_free_mail_when_it_or_a_parent_is_listed(domain: str, free: bool) -> None:
    assert is_free_mail(domain) is free


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("lena.fischer@Northwind.Example", "northwind.example"),
        ("Lena Fischer <lena.fischer@northwind.example>", "northwind.example"),
        ("jonas@sales.contoso.example", "sales.contoso.example"),
        ("lena@gmail.com", None),
        ("lena@googlemail.com", None),
        ("someone@mail.yahoo.co.uk", None),
        ("not an address", None),
        ("@northwind.example", None),
        ("lena@localhost", None),
        ("lena@northwind..example", None),
        ("", None),
    ],
)
def test_the_company_domain_is_the_address_domain_unless_free_mail(email: str, domain: str | None) -> None:
    assert company_domain(email) == domain


def test_the_list_is_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))

    assert "channels/freemail.txt" in pyproject["tool"]["setuptools"]["package-data"]["plera"]
    assert files("plera.channels").joinpath("freemail.txt").is_file()
