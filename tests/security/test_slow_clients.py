"""Slow clients hold no worker (issue 23.1), on a real `manage.py serve` in embedded mode:
bodies sent a byte at a time by more connections than the server has threads leave
/healthz and ingest answering at once; a body slower than TRAIL_BODY_TIMEOUT is `408`; one
address over TRAIL_MAX_CONNECTIONS_PER_IP is refused with `429`.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers import child_env, free_port, manage, serving

DOMAIN = "slow.test"
THREADS = 4
SLOW = THREADS + 4  # more slow bodies than the server has threads
BODY_TIMEOUT = 4
PER_ADDRESS = 12
FAST = 2.0  # seconds: "at once" on a machine the suite keeps busy (a held thread: BODY_TIMEOUT)
SETUP = (
    "from accounts.models import User; from accounts.services import organization_create;"
    "from sites.services import site_create;"
    "owner = User.objects.create_user(email='owner@slow.test', password='x' * 20);"
    f"site_create(organization=organization_create(name='Slow', owner=owner), domain={DOMAIN!r})"
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = child_env(
        tmp_path_factory.mktemp("var"),
        WEB_THREADS=str(THREADS),
        TRAIL_BODY_TIMEOUT=str(BODY_TIMEOUT),
        TRAIL_MAX_CONNECTIONS_PER_IP=str(PER_ADDRESS),
    )
    for command in (["migrate", "--noinput"], ["shell", "-c", SETUP]):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    with serving(env, free_port()) as url:
        yield url


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def slow_request(port: int, source: str) -> socket.socket:
    """A `POST /api/event` from `source` whose headers and first body byte are sent; the
    other 199 bytes never come."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    sock.sendall(
        b"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 200\r\n\r\n{"
    )
    return sock


@contextlib.contextmanager
def slow_requests(port: int, source: str, count: int) -> Iterator[list[socket.socket]]:
    socks = [slow_request(port, source) for _ in range(count)]
    try:
        time.sleep(0.3)  # their headers have reached the server
        yield socks
    finally:
        for sock in socks:
            sock.close()


def status_of(sock: socket.socket) -> int:
    """The status code of the answer on `sock` (waits for it)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionError(f"closed without an answer ({head!r})")
        head += chunk
    return int(head.split(b" ", 2)[1])


def answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return response.status, time.monotonic() - started


def timed_event(base: str) -> tuple[int, float]:
    body = {"n": "pageview", "u": f"https://{DOMAIN}/", "d": DOMAIN}
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/api/event",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Firefox/133.0"},
        method="POST",
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.headers.get("X-Trail-Dropped") is None
        return response.status, time.monotonic() - started


def test_slow_bodies_hold_no_thread(base: str) -> None:
    with slow_requests(port_of(base), "127.0.0.2", SLOW) as socks:
        health, health_seconds = timed_get(f"{base}/healthz")
        event, event_seconds = timed_event(base)
        login, login_seconds = timed_get(f"{base}/accounts/login/")
        assert not any(answered(sock) for sock in socks)  # still waiting for their bodies
    assert (health, event, login) == (200, 202, 200)
    assert max(health_seconds, event_seconds, login_seconds) < FAST


def test_a_body_slower_than_the_deadline_is_408(base: str) -> None:
    with slow_requests(port_of(base), "127.0.0.3", 1) as (sock,):
        started = time.monotonic()
        sock.sendall(b'"n"')  # progress does not extend the deadline
        assert status_of(sock) == 408
        waited = time.monotonic() - started
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + FAST


def test_a_body_within_the_deadline_is_served(base: str) -> None:
    body = json.dumps({"n": "pageview", "u": f"https://{DOMAIN}/late", "d": DOMAIN}).encode()
    sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
    with sock:
        sock.sendall(
            b"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(BODY_TIMEOUT / 2)
        sock.sendall(body[10:])
        assert status_of(sock) == 202


def test_one_address_over_the_bound_is_refused(base: str) -> None:
    port = port_of(base)
    with slow_requests(port, "127.0.0.4", PER_ADDRESS) as socks:
        extra = slow_request(port, "127.0.0.4")
        with extra:
            assert status_of(extra) == 429
        other, seconds = timed_get(f"{base}/healthz")  # another address is served
        assert (other, seconds < FAST) == (200, True)
        assert not any(answered(sock) for sock in socks)
    time.sleep(0.3)  # the server has seen them close
    again = slow_request(port, "127.0.0.4")  # closed requests no longer count
    with again:
        time.sleep(0.3)
        assert not answered(again)


def test_an_oversized_declared_body_is_413_without_reading_it(base: str) -> None:
    sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
    with sock:
        sock.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
        )
        assert status_of(sock) == 413
