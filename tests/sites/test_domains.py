"""Domains people type, reduced to one canonical name; bad ones refused with a reason."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.errors import ServiceError
from sites.domains import normalize_domain, normalize_hostname

LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("  Example.COM  ", "example.com"),
        ("https://www.example.com/pricing?x=1#top", "example.com"),
        ("http://blog.example.com:8080/", "blog.example.com"),
        ("www.example.co.uk.", "example.co.uk"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("ÉCOLE.fr", "xn--cole-9oa.fr"),
        ("a-b.example.io", "a-b.example.io"),
        # Intranet and staging names are host names like any other (issue 14).
        ("intranet.internal", "intranet.internal"),
        ("app.local", "app.local"),
        ("shop.test", "shop.test"),
        ("www.example", "example"),
        ("nas.lan", "nas.lan"),
        ("Intranet", "intranet"),
        ("http://intranet:8080/wiki", "intranet"),
        ("localhost", "localhost"),
        ("app.localhost", "app.localhost"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("wiki.bücher", "wiki.xn--bcher-kva"),
        ("a" * 63 + ".lan", "a" * 63 + ".lan"),
        (".".join(["a" * 63] * 3) + "." + "b" * 61, ".".join(["a" * 63] * 3) + "." + "b" * 61),
    ],
)
def test_normalizes(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "enter a domain"),
        ("   ", "enter a domain"),
        ("127.0.0.1", "an IP address is not a domain"),
        ("https://10.0.0.1:8000/x", "an IP address is not a domain"),
        ("[::1]", "an IP address is not a domain"),
        ("2001:db8::1", "an IP address is not a domain"),
        ("10.1", "is not a valid domain"),
        ("1234", "is not a valid domain"),
        ("exa mple.com", "is not a valid domain"),
        ("under_score.com", "is not a valid domain"),
        ("-lead.com", "is not a valid domain"),
        ("trail-.com", "is not a valid domain"),
        ("example.123", "is not a valid domain"),
        ("xn--zz.com", "is not a valid domain"),
        ("user@example.com", "is not a domain"),
        ("a" * 64 + ".com", "is not a valid domain"),
        (".".join(["a" * 60] * 5) + ".com", "at most 253 characters"),
        ("x" * 300, "is not a valid domain"),
        ("x" * 3000, "at most 253 characters"),
        ("exa\x00mple.com", "is not a valid domain"),
        ("<script>.com", "is not a valid domain"),
        ("a..b", "is not a valid domain"),
        (".", "is not a valid domain"),
        ("intra net", "is not a valid domain"),
        ("-intranet", "is not a valid domain"),
        ("intranet-", "is not a valid domain"),
        ("nas.-lan", "is not a valid domain"),
        ("nas_01.lan", "is not a valid domain"),
        ("a" * 64, "is not a valid domain"),
        (".".join(["a" * 63] * 4), "at most 253 characters"),
        ("goals", "is a word of Trail's API"),
        ("Shared-Links", "is a word of Trail's API"),
    ],
)
def test_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ServiceError) as caught:
        normalize_domain(raw)
    assert reason in caught.value.message
    assert caught.value.field == "domain"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*.Example.org", "*.example.org"),
        ("*.lan", "*.lan"),
        ("*.bücher.de", "*.xn--bcher-kva.de"),
        ("wiki.corp", "wiki.corp"),
        ("http://10.0.0.5:8080/wiki", "10.0.0.5"),
        ("[FD00:0::5]:443", "fd00::5"),
        ("fd00::5", "fd00::5"),
    ],
)
def test_extra_hostnames_take_wildcards_and_addresses(raw: str, expected: str) -> None:
    assert normalize_hostname(raw) == expected


@pytest.mark.parametrize(
    "raw", ["*.", "*.-x.lan", "*.*.lan", "a.*.lan", "[fd00::5", "10.0.0.256.1", "nas lan", ""]
)
def test_extra_hostnames_refuse_what_is_no_host(raw: str) -> None:
    with pytest.raises(ServiceError) as caught:
        normalize_hostname(raw)
    assert caught.value.field == "extra_hostnames" and caught.value.message


def test_a_site_domain_is_no_wildcard() -> None:
    with pytest.raises(ServiceError):
        normalize_domain("*.example.org")


@given(st.text(max_size=300))
def test_any_text_is_either_refused_or_a_canonical_host(raw: str) -> None:
    try:
        host = normalize_domain(raw)
    except ServiceError as exc:
        assert exc.field == "domain" and exc.message
        return
    assert host == host.lower().strip()
    assert host.isascii() and len(host) <= 253
    assert all(LABEL.fullmatch(label) for label in host.split("."))
    assert not host.split(".")[-1].isdigit()
    assert not host.startswith("www.")
    assert normalize_domain(host) == host  # idempotent
