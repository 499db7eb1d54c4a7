"""The browser tests' guard against flushing the database under a request (tests/browser/
conftest.py, `InFlight`): the live server counts a connection from the moment it is
accepted until its thread has answered it, and the wait for quiet sees it."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import InFlight

pytestmark = pytest.mark.browser


def test_a_connection_being_answered_keeps_the_server_busy(
    live_server: Any, live_server_in_flight: InFlight
) -> None:
    listener = live_server.thread.httpd.socket
    assert live_server_in_flight.wait_idle(listener, timeout=5)
    address = urlsplit(str(live_server.url))
    with socket.create_connection((address.hostname, address.port), timeout=5) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the headers not ended yet
        assert not live_server_in_flight.wait_idle(listener, timeout=0.5)
        client.sendall(b"Connection: close\r\n\r\n")
        assert client.recv(12).startswith(b"HTTP/1.1 ")
        assert live_server_in_flight.wait_idle(listener, timeout=5)
