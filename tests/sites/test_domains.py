"""Domains people type, reduced to one canonical name; bad ones refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.errors import ServiceError
from sites.domains import normalize_domain


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
        ("localhost", "localhost and reserved names"),
        ("http://localhost:3000", "localhost and reserved names"),
        ("app.localhost", "localhost and reserved names"),
        ("printer.local", "localhost and reserved names"),
        ("example", "is not a valid domain"),
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
    ],
)
def test_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ServiceError) as caught:
        normalize_domain(raw)
    assert reason in caught.value.message
    assert caught.value.field == "domain"


def test_wildcards_only_where_allowed() -> None:
    assert normalize_domain("*.Example.org", allow_wildcard=True) == "*.example.org"
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
    assert "." in host and "/" not in host and ":" not in host
    assert not host.startswith("www.")
    assert normalize_domain(host) == host  # idempotent
