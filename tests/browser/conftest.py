"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the session (two sync instances cannot run at once); Chromium is
    Debian's, never downloaded (`playwright install` is not used)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, so Django's
    # async-safety guard would refuse the ORM calls the tests (and fixtures) make.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as running:
            yield running
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def launch(playwright: Playwright, *args: str) -> Browser:
    """Headless Debian Chromium with Trail's arguments and `args`."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*LAUNCH_ARGS, *args]
    )


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def screenshots() -> Path:
    """Where key pages are saved as PNGs: artifacts for a person to look at, not assertions."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def new_context(browser: Browser, live_server: object) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (own cookies) on the live server, closed after the test;
    keyword arguments go to `Browser.new_context` (`timezone_id=…`)."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(base_url=str(live_server.url), **options)  # type: ignore[attr-defined]
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in(
    new_context: Callable[..., BrowserContext], live_server: object
) -> Callable[..., BrowserContext]:
    """A fresh browser context signed in as `user` (a Django session made by the test
    client, its cookie handed over); keyword arguments go to `new_context`."""
    from django.test import Client

    def make(user: Any, **options: Any) -> BrowserContext:
        client = Client()
        client.force_login(user)
        context = new_context(**options)
        session = client.cookies["sessionid"].value
        context.add_cookies(
            [{"name": "sessionid", "value": session, "url": str(live_server.url)}]  # type: ignore[attr-defined]
        )
        return context

    return make


class InFlight:
    """The connections the live server has accepted and not yet finished answering.

    pytest-django's live server answers each connection in a thread of its own, on the test's
    in-memory SQLite connection (shared: a second connection would see another database).
    A test's page keeps asking (htmx polling, refresh.js, view.js) until its context closes,
    and a request still being answered when pytest-django flushes the tables at teardown
    meets the flush on that one connection: "database table is locked". So the live server
    counts its connections from accept to the end of their thread, and each test's teardown
    closes its browser contexts and waits for that count to reach zero before the flush."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def watch(self, server: Any) -> None:
        """Count `server`'s connections (a `socketserver.ThreadingMixIn`): from
        `process_request` (in the serving thread, as the connection is accepted) to the end
        of `process_request_thread` (the connection's own thread)."""
        accept, answer = server.process_request, server.process_request_thread

        def process_request(request: Any, client_address: Any) -> None:
            self._add(1)
            try:
                accept(request, client_address)
            except BaseException:
                self._add(-1)
                raise

        def process_request_thread(request: Any, client_address: Any) -> None:
            try:
                answer(request, client_address)
            finally:
                self._add(-1)

        server.process_request = process_request
        server.process_request_thread = process_request_thread

    def _add(self, change: int) -> None:
        with self._changed:
            self._count += change
            self._changed.notify_all()

    def wait_idle(self, listener: socket.socket, timeout: float = 15.0) -> bool:
        """Wait until no connection is open and none waits to be accepted on `listener`,
        twice in a row 50 ms apart (a request sent just before its page closed may still
        be in the listen queue); False if that did not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            with self._changed:
                if not self._changed.wait_for(
                    lambda: self._count == 0, timeout=max(deadline - time.monotonic(), 0)
                ):
                    return False
            waiting, _, _ = select.select([listener], [], [], 0)
            quiet = 0 if waiting else quiet + 1
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@pytest.fixture(scope="session")
def live_server_in_flight(live_server: Any) -> InFlight:
    """The live server's connection count (installed once: the server lives all session)."""
    in_flight = InFlight()
    in_flight.watch(live_server.thread.httpd)
    return in_flight


@pytest.fixture(autouse=True)
def _quiet_live_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a test that uses the live server: before its tables are flushed, every browser
    context of the session's Chromium is closed (its pages stop asking) and the live server
    has finished every connection (`InFlight`). Its database fixture is set up before this
    one, so it is torn down (flushed) after."""
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    in_flight: InFlight = request.getfixturevalue("live_server_in_flight")
    live: Any = request.getfixturevalue("live_server")
    chromium: Browser | None = (
        request.getfixturevalue("browser") if "browser" in request.fixturenames else None
    )
    yield
    for context in chromium.contexts if chromium else []:
        context.close()
    if not in_flight.wait_idle(live.thread.httpd.socket):
        warnings.warn(
            "the live server still answers a request; its tables are flushed anyway", stacklevel=1
        )
