"""Guessing limits (accounts/guessing.py): per client and per target, logged without
the secret or the address."""

from __future__ import annotations

import logging

import pytest

from accounts.guessing import API_KEYS, SHARED_LINKS, Guard, client_tag
from accounts.ratelimit import Window

GUARD = Guard(
    "test", per_client=Window(limit=3, seconds=60), per_target=Window(limit=5, seconds=60)
)


def test_client_tag_is_a_stable_pseudonym() -> None:
    tag = client_tag("198.51.100.7")
    assert tag == client_tag("198.51.100.7") and len(tag) == 16
    assert "198" not in tag and tag != client_tag("198.51.100.8")
    # an IPv6 client is counted by its /64 (it holds the whole network)
    assert client_tag("2001:db8:1:2::1") == client_tag("2001:db8:1:2:ffff::9")
    assert client_tag("2001:db8:1:2::1") != client_tag("2001:db8:1:3::1")
    assert client_tag("not an address") != client_tag("")


def test_the_client_limit_holds_on_every_target() -> None:
    for target in ("a", "b", "c"):
        assert GUARD.wait(client_ip="192.0.2.1", target=target) is None
        GUARD.failed(client_ip="192.0.2.1", target=target)
    wait = GUARD.wait(client_ip="192.0.2.1", target="d")
    assert wait is not None and 1 <= wait <= 60
    assert GUARD.wait(client_ip="192.0.2.2", target="d") is None  # another client


def test_the_target_limit_holds_against_many_clients() -> None:
    for n in range(5):
        GUARD.failed(client_ip=f"192.0.2.{n}", target="t")
    assert GUARD.wait(client_ip="192.0.2.99", target="t") is not None
    assert GUARD.wait(client_ip="192.0.2.99", target="u") is None


def test_no_target_counts_per_client_only() -> None:
    for _ in range(3):
        GUARD.failed(client_ip="192.0.2.1", target="")
    assert GUARD.wait(client_ip="192.0.2.1", target="") is not None
    assert GUARD.wait(client_ip="192.0.2.2", target="") is None


def test_a_failure_is_one_log_line_without_the_address(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="accounts.guessing"):
        GUARD.failed(client_ip="198.51.100.7", target="link:7")
    [record] = caplog.records
    message = record.getMessage()
    assert message == f"test: wrong guess on link:7 from client {client_tag('198.51.100.7')}"
    assert "198.51.100.7" not in message


def test_the_configured_limits() -> None:
    """What docs/accounts.md promises."""
    assert (API_KEYS.per_client, API_KEYS.per_target) == (Window(20, 60), Window(60, 60))
    assert (SHARED_LINKS.per_client, SHARED_LINKS.per_target) == (Window(10, 60), Window(30, 900))
