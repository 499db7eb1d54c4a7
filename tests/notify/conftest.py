"""Real receivers for notify's tests: a local HTTP server (threads) that records every
request and answers what the test says, and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.test import override_settings

from sites.models import Site
from tests import factories


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn; then 200
    delay: float = 0.0  # seconds before answering

    def deliveries(self) -> list[str]:
        return [r.headers["X-Trail-Delivery"] for r in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append(Request(self.path, body, dict(self.headers)))
            status = receiver.answers.pop(0) if receiver.answers else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no\n" * 100)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _serve() -> tuple[Receiver, ThreadingHTTPServer]:
    found = Receiver("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return found, server


def _stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real local HTTP receiver (other apps' tests import this fixture by name)."""
    found, server = _serve()
    yield found
    _stop(server)


@pytest.fixture
def start_receiver() -> Iterator[Callable[[], Receiver]]:
    """Start as many more receivers as a test needs; stopped after it."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> Receiver:
        found, server = _serve()
        servers.append(server)
        return found

    yield start
    for server in servers:
        _stop(server)


@pytest.fixture
def private_allowed() -> Iterator[None]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        yield


@pytest.fixture
def site(db: None) -> Site:
    return factories.site(factories.organization(), domain="shop.example.org")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received; `refuse` answers DATA with that reply instead."""

    port: int
    mails: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: str = ""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


def smtp_settings(port: int) -> Any:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=5,
        DEFAULT_FROM_EMAIL="Trail <noreply@trail.example.org>",
    )


@pytest.fixture
def start_smtp() -> Iterator[Callable[[int], Inbox]]:
    """Start a real SMTP server on a port (Django's mail settings pointed at it by
    `smtp_settings`); stopped after the test."""
    running: list[Controller] = []

    def start(port: int) -> Inbox:
        inbox = Inbox(port)
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        running.append(controller)
        return inbox

    yield start
    for controller in running:
        controller.stop()


@pytest.fixture
def smtp(start_smtp: Callable[[int], Inbox]) -> Iterator[Inbox]:
    inbox = start_smtp(free_port())
    with smtp_settings(inbox.port):
        yield inbox
