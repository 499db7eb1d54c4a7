"""common.outbound against a real local HTTP receiver: the SSRF rule, signatures, answers."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.test import override_settings

from common.outbound import SIGNATURE_HEADER, OutboundRefused, check_url, post, sign, verify

SECRET = "s3cret"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes, dict[str, str]]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, body, dict(self.headers)))
        if self.path == "/slow":
            time.sleep(2)
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"thanks " * 2000)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    _Receiver.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_allowed() -> Iterator[None]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        yield


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
    ],
)
def test_a_private_address_is_refused_by_default(url: str) -> None:
    with pytest.raises(OutboundRefused, match="public addresses"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "only http"),
        ("file:///etc/passwd", "only http"),
        ("javascript:alert(1)", "only http"),
        ("http:///nohost", "no host"),
        ("", "enter a URL"),
        ("http://user:pw@93.184.216.34/", "user name"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://" + "a" * 3000 + ".com/", "longer than"),
        ("http://no-such-host.invalid/", "cannot be resolved"),
    ],
)
def test_a_malformed_url_is_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(OutboundRefused, match=message):
        check_url(url)


def test_a_public_address_is_accepted_without_a_lookup_of_a_name() -> None:
    target = check_url("https://93.184.216.34:8443/in?x=1")
    assert (target.scheme, target.port, target.path, target.address) == (
        "https",
        8443,
        "/in?x=1",
        "93.184.216.34",
    )


def test_a_post_to_a_private_receiver_is_refused_unless_allowed(receiver: str) -> None:
    refused = post(receiver + "/hook", b"{}", {})
    assert refused.status is None and "public addresses" in refused.error
    assert _Receiver.received == []


def test_a_signed_post_reaches_the_receiver_and_verifies(
    receiver: str, private_allowed: None
) -> None:
    body = json.dumps({"event": "alert.fired"}).encode()
    signature = sign(SECRET, body)
    delivery = post(
        receiver + "/hook?k=v",
        body,
        {"Content-Type": "application/json", SIGNATURE_HEADER: signature},
    )
    assert delivery.ok and delivery.status == 200 and delivery.error == ""
    assert len(delivery.answer) == 4096  # the answer is cut for the log
    [(path, got, headers)] = _Receiver.received
    assert path == "/hook?k=v" and got == body
    assert verify(SECRET, got, headers[SIGNATURE_HEADER])
    assert not verify("other", got, headers[SIGNATURE_HEADER])
    assert not verify(SECRET, got + b" ", headers[SIGNATURE_HEADER])


def test_an_old_or_malformed_signature_does_not_verify() -> None:
    body = b"{}"
    assert not verify(SECRET, body, sign(SECRET, body, int(time.time()) - 3600))
    assert verify(SECRET, body, sign(SECRET, body, int(time.time()) - 60))
    for header in ("", "t=abc,v1=00", "v1=00", "garbage"):
        assert not verify(SECRET, body, header)


def test_a_failing_or_slow_receiver_is_an_answer_not_an_exception(
    receiver: str, private_allowed: None
) -> None:
    _Receiver.status = 500
    failed = post(receiver + "/hook", b"{}", {})
    assert failed.status == 500 and not failed.ok
    slow = post(receiver + "/slow", b"{}", {}, timeout=0.5)
    assert slow.status is None and slow.error == "timed out"
    closed = post("http://127.0.0.1:9/", b"{}", {})
    assert closed.status is None and "ConnectionRefused" in closed.error
