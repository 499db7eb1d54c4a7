"""The one rule for the client's address (common/clients.py)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import pytest

from common.clients import client_ip, ip_within, request_client_ip


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", "1.2.3.4", [], "203.0.113.5"),  # no trusted proxies: header ignored
        ("10.0.0.2", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        (
            "10.0.0.2",
            "6.6.6.6, 1.2.3.4, 10.0.0.9",
            ["10.0.0.0/8"],
            "1.2.3.4",
        ),  # right-most untrusted
        ("203.0.113.5", "1.2.3.4", ["10.0.0.0/8"], "203.0.113.5"),  # peer not trusted: spoof
        ("10.0.0.2", "not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4, bogus", ["10.0.0.0/8"], "10.0.0.2"),  # nothing left of junk
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", " , ", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "10.0.0.7, 10.0.0.9", ["10.0.0.0/8"], "10.0.0.2"),  # all proxies
        ("10.0.0.2", "2001:db8::1", ["10.0.0.0/8"], "2001:db8::1"),
        ("::1", "2001:db8::1", ["::1/128"], "2001:db8::1"),
    ],
)
def test_client_ip(remote: str, forwarded: str, trusted: list[str], expected: str) -> None:
    networks = [ip_network(n) for n in trusted]
    assert client_ip(remote, forwarded, networks) == expected


def test_ip_within() -> None:
    networks = [ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")]
    assert ip_within("10.1.2.3", networks) and ip_within("2001:db8::5", networks)
    assert not ip_within("11.0.0.1", networks)
    assert not ip_within("", networks) and not ip_within("nonsense", networks)
    assert not ip_within("10.1.2.3", [])


def test_request_client_ip_uses_the_configured_proxies(settings: Any) -> None:
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert request_client_ip(meta) == "10.0.0.2"  # the default: no proxy is trusted
    settings.TRAIL = replace(
        settings.TRAIL,
        ingest=replace(settings.TRAIL.ingest, trusted_proxies=(ip_network("10.0.0.0/8"),)),
    )
    assert request_client_ip(meta) == "198.51.100.7"
    assert request_client_ip({}) == ""
