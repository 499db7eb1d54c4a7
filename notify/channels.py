"""Channels: where a message goes. What alerts, email reports and streaming destinations
call.

A channel spec is a small dict, as people give it through the API or the settings pages:

- `{"type": "email", "to": "ops@example.com"}`: one address;
- `{"type": "webhook", "url": "https://…", "secret": "…", "format": "json" | "slack"}`:
  the URL must pass `common.outbound.check_url` (http(s) to a public address, unless
  TRAIL_ALLOW_PRIVATE_WEBHOOKS); `secret` (optional, ≤ 200 characters) signs every request
  (`X-Trail-Signature`); `format` defaults to `json` (Trail's body, docs/webhooks.md),
  `slack` posts Slack's incoming-webhook shape `{"text": …}`.

`validate_channels` checks a list of them as given and returns them normalized, or raises
`ChannelError` naming the field (`channels[1].url`); `send` delivers one message to one
channel now, retried later if it fails (`notify.deliveries`); `redact` is a spec fit for
an API answer (no secret).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from common.outbound import MAX_URL, OutboundRefused, check_url
from notify import deliveries
from notify.messages import Message
from notify.models import Delivery
from sites.models import Site

TYPES = ("email", "webhook")
FORMATS = ("json", "slack")
KEYS = {"email": ("type", "to"), "webhook": ("type", "url", "secret", "format")}
MAX_CHANNELS = 20
MAX_SECRET = 200
MAX_ADDRESS = 254  # RFC 5321's limit on a forward path


class ChannelError(ValueError):
    """A malformed channel spec: `field` names it (`channels[1].url`), `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_channels(specs: object) -> list[dict[str, str]]:
    """A list of channel specs as given (e.g. a request's `channels`), normalized; or
    `ChannelError` for the first thing wrong. Webhook URLs are resolved and checked
    against the SSRF rule now."""
    if not isinstance(specs, list):
        raise ChannelError("channels", "expected a list of channels")
    if len(specs) > MAX_CHANNELS:
        raise ChannelError("channels", f"at most {MAX_CHANNELS} channels")
    return [validate_channel(spec, field=f"channels[{i}]") for i, spec in enumerate(specs)]


def validate_channel(
    spec: object, *, field: str = "channel", resolve: bool = True
) -> dict[str, str]:
    """One channel spec, normalized; `resolve=False` skips the URL's DNS and SSRF check
    (each request makes it again anyway)."""
    if not isinstance(spec, dict):
        raise ChannelError(field, "expected an object with a type")
    kind = spec.get("type")
    if kind is None:
        raise ChannelError(f"{field}.type", "required: email or webhook")
    if not isinstance(kind, str) or kind not in TYPES:
        raise ChannelError(f"{field}.type", "expected email or webhook")
    for key in spec:
        if key not in KEYS[kind]:
            allowed = ", ".join(KEYS[kind])
            raise ChannelError(f"{field}.{key}", f"unknown key; a {kind} channel takes {allowed}")
    if kind == "email":
        return {"type": "email", "to": _address(spec.get("to"), f"{field}.to")}
    clean = {"type": "webhook", "url": _url(spec.get("url"), f"{field}.url", resolve)}
    secret = spec.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ChannelError(f"{field}.secret", "expected a string")
    if secret and len(secret) > MAX_SECRET:
        raise ChannelError(f"{field}.secret", f"at most {MAX_SECRET} characters")
    if secret:
        clean["secret"] = secret
    fmt = spec.get("format", "json")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ChannelError(f"{field}.format", "expected json or slack")
    clean["format"] = fmt
    return clean


def redact(spec: dict[str, str]) -> dict[str, str]:
    """The spec without its secret, for API answers and pages."""
    return {key: value for key, value in spec.items() if key != "secret"}


def send(
    site: Site,
    spec: dict[str, str],
    message: Message,
    *,
    source: str,
    now: dt.datetime | None = None,
) -> Delivery:
    """Deliver `message` to one channel of `site`: a `Delivery` row is stored and the first
    attempt made at once (so this takes up to a webhook's timeout); a failure is retried
    by `notify.deliveries.retry_due` for a day. `source` says who sent it ("alert:12").
    A malformed spec raises `ChannelError`; a receiver's failure never raises: the
    returned row says how the attempt went.

    Inside a transaction, the row commits (or rolls back) with it, but the first attempt
    has already gone out: call this once the caller's own writes are committed."""
    clean = validate_channel(spec, resolve=False)
    return deliveries.deliver(site=site, spec=clean, message=message, source=source, now=now)


def _address(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ChannelError(field, "required: one email address")
    address = value.strip()
    if len(address) > MAX_ADDRESS:
        raise ChannelError(field, f"at most {MAX_ADDRESS} characters")
    if any(sep in address for sep in ",; "):
        raise ChannelError(field, "one email address only; add a channel for each")
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ChannelError(field, f"{address!r} is not a valid email address") from None
    if not local.isascii():
        raise ChannelError(field, "the part before @ must be plain ASCII")
    address = f"{local}@{domain}"
    try:
        validate_email(address)
    except ValidationError:
        raise ChannelError(field, f"{value.strip()!r} is not a valid email address") from None
    return address


def _url(value: object, field: str, resolve: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ChannelError(field, "required: the URL to post to")
    url = value.strip()
    if len(url) > MAX_URL:
        raise ChannelError(field, f"at most {MAX_URL} characters")
    if not resolve:
        if not url.lower().startswith(("http://", "https://")):
            raise ChannelError(field, "only http:// and https:// URLs are accepted")
        return url
    try:
        check_url(url)
    except OutboundRefused as exc:
        raise ChannelError(field, str(exc)) from None
    return url
