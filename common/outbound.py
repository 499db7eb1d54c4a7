"""Requests Trail sends to addresses its users give: webhooks, streaming destinations.

One rule for all of them (docs/webhooks.md):

- `check_url(url)`: only `http://` and `https://` URLs with a host; a host that is, or
  resolves to, a loopback, private, link-local, multicast, reserved or unspecified address
  is refused (`OutboundRefused`, a message for the person who typed it) unless
  `TRAIL_ALLOW_PRIVATE_WEBHOOKS` is set. Checked when the URL is saved and again when
  each request is sent: `post` connects to the address it checked, so a name that
  resolves elsewhere the second time (DNS rebinding) cannot reach an internal service.
- `sign(secret, body, timestamp)`: the `X-Trail-Signature` header, `t=<unix seconds>,
  v1=<hex HMAC-SHA256 of "<t>.<body>">`; `verify` is the receiver's side.
- `post(url, body, headers)`: one POST, no redirects followed, a bounded answer read;
  `Delivery` says what came back (or what went wrong) for the delivery logs.

`common` is the bottom layer: alerts (above `reports`) and destinations (in `events`)
both use it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "X-Trail-Signature"
TIMEOUT = 10.0  # seconds to connect, and again to read the answer
ANSWER_BYTES = 4096  # of a receiver's answer kept for the log
USER_AGENT = "Trail-Webhook/1"
MAX_URL = 2048


class OutboundRefused(ValueError):
    """A URL Trail will not send to; the message says why, for the person who typed it."""


def _private_allowed() -> bool:
    return bool(settings.TRAIL.allow_private_webhooks)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query string
    address: str  # the checked IP address to connect to


def check_url(url: str) -> Target:
    """The URL's parts and the address to connect to, or `OutboundRefused`."""
    if not isinstance(url, str) or not url.strip():
        raise OutboundRefused("enter a URL")
    if len(url) > MAX_URL:
        raise OutboundRefused(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("only http:// and https:// URLs are accepted")
    host = parts.hostname
    if not host:
        raise OutboundRefused("the URL has no host")
    if parts.username or parts.password:
        raise OutboundRefused("the URL may not carry a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused(f"the host {host!r} cannot be resolved") from None
    addresses = [str(info[4][0]).split("%")[0] for info in found]
    if not addresses:
        raise OutboundRefused(f"the host {host!r} cannot be resolved")
    if not _private_allowed():
        refused = [a for a in addresses if not _public(a)]
        if refused:
            raise OutboundRefused(
                f"the host {host!r} is a loopback, private or link-local address ({refused[0]});"
                " Trail sends only to public addresses"
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256("<t>." + body)>`."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return f"t={stamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """A receiver's check: the header signs `body` with `secret`, within `tolerance` seconds."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = sign(secret, body, stamp).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True)
class Delivery:
    status: int | None  # the receiver's HTTP status; None: no answer (see error)
    answer: str  # the first ANSWER_BYTES of the answer's body
    error: str  # why there was no answer ('' when there was one)
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked for the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> Delivery:
    """POST `body` to `url` (checked again now) and say what came back; never raises for
    the receiver's failures: they are the answer."""
    start = time.monotonic()
    try:
        target = check_url(url)
    except OutboundRefused as exc:
        return Delivery(None, "", str(exc), 0.0)
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPS(target, timeout)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    sent = {"User-Agent": USER_AGENT, "Host": _host_header(target), **headers}
    try:
        connection.request("POST", target.path, body=body, headers=sent)
        response = connection.getresponse()
        answer = response.read(ANSWER_BYTES).decode("utf-8", "replace")
        return Delivery(response.status, answer, "", time.monotonic() - start)
    except (OSError, http.client.HTTPException) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return Delivery(None, "", reason, time.monotonic() - start)
    finally:
        connection.close()


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
