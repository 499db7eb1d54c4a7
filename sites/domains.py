"""Site domains: what people type, reduced to one canonical host name."""

from __future__ import annotations

import ipaddress
import re

from accounts.errors import ServiceError

MAX_INPUT = 2000
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RESERVED_SUFFIXES = (".localhost", ".local", ".internal", ".invalid", ".test", ".example")


def _error(message: str, field: str) -> ServiceError:
    return ServiceError(message, field=field)


def normalize_domain(raw: str, *, field: str = "domain", allow_wildcard: bool = False) -> str:
    """`https://WWW.Example.com:443/path?q` -> `example.com`; IDN -> punycode.

    Rejects IP addresses, localhost and reserved names, and anything that is not a
    public-looking host name of at most 253 characters.
    """
    value = raw.strip().lower()
    if not value:
        raise _error("enter a domain, like example.com", field)
    if len(value) > MAX_INPUT:
        raise _error("a domain has at most 253 characters", field)
    value = _SCHEME.sub("", value)
    value = re.split(r"[/?#]", value, maxsplit=1)[0]
    if "@" in value:
        raise _error(f"{raw.strip()[:100]!r} is not a domain", field)
    if value.startswith("[") or value.count(":") > 1:
        raise _error("an IP address is not a domain: use the site's host name", field)
    value = value.split(":", 1)[0].rstrip(".")
    wildcard = allow_wildcard and value.startswith("*.")
    if wildcard:
        value = value[2:]
    if value.startswith("www."):
        value = value[4:]
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise _error("an IP address is not a domain: use the site's host name", field)
    try:
        ascii_host = value.encode("idna").decode("ascii")
        # Round-trip punycode labels so malformed `xn--` input is refused.
        ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        raise _error(f"{raw.strip()[:100]!r} is not a valid domain", field) from None
    if len(ascii_host) > 253:
        raise _error("a domain has at most 253 characters", field)
    labels = ascii_host.split(".")
    if ascii_host == "localhost" or ascii_host.endswith(_RESERVED_SUFFIXES):
        raise _error("localhost and reserved names cannot be tracked: use the public domain", field)
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise _error(f"{raw.strip()[:100]!r} is not a valid domain, like example.com", field)
    if labels[-1].isdigit():
        raise _error(f"{raw.strip()[:100]!r} is not a valid domain", field)
    return f"*.{ascii_host}" if wildcard else ascii_host
