"""Site domains: what people type, reduced to one canonical host name.

Any syntactically valid host name is a site: public domains, intranet and staging names
(`intranet`, `nas.lan`, `app.local`, `shop.test`) alike. Refused is only what is not a
host name, an IP address (a site's domain is its name; extra host names may be addresses),
and the words Trail's API uses where a domain would go.
"""

from __future__ import annotations

import ipaddress
import re

from accounts.errors import ServiceError

MAX_INPUT = 2000
MAX_HOST = 253
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Plausible's words after `/api/v1/sites/` (docs/accounts.md): never a site's name.
API_WORDS = frozenset({"goals", "shared-links", "custom-props", "guests"})


def _error(message: str, field: str) -> ServiceError:
    return ServiceError(message, field=field)


def _invalid(raw: str, field: str) -> ServiceError:
    return _error(f"{raw.strip()[:100]!r} is not a valid domain, like example.com", field)


def _ip_address(value: str) -> str | None:
    """The canonical form of an IP address, or None for anything else."""
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def _host_part(raw: str, field: str) -> str:
    """What people type (a URL, a host with a port, a bracketed IPv6) -> the host alone."""
    value = raw.strip().lower()
    if not value:
        raise _error("enter a domain, like example.com", field)
    if len(value) > MAX_INPUT:
        raise _error(f"a domain has at most {MAX_HOST} characters", field)
    value = _SCHEME.sub("", value)
    value = re.split(r"[/?#]", value, maxsplit=1)[0]
    if "@" in value:
        raise _error(f"{raw.strip()[:100]!r} is not a domain", field)
    if value.startswith("[") and "]" in value:
        return value[1 : value.index("]")]
    if value.count(":") > 1:
        return value
    return value.split(":", 1)[0].rstrip(".")


def _host_name(value: str, raw: str, field: str, *, keep_www: bool = False) -> str:
    """`www.` dropped (unless `keep_www`), IDN -> punycode (malformed `xn--` labels refused
    by the round trip), then labels of letters, digits and inner hyphens, 63 characters
    each, 253 in all."""
    if value.startswith("www.") and not keep_www:
        value = value[4:]
    try:
        ascii_host = value.encode("idna").decode("ascii")
        ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        raise _invalid(raw, field) from None
    if len(ascii_host) > MAX_HOST:
        raise _error(f"a domain has at most {MAX_HOST} characters", field)
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _invalid(raw, field)
    return ascii_host


def normalize_domain(raw: str, *, field: str = "domain") -> str:
    """A site's domain: `https://WWW.Bücher.de:443/path?q` -> `xn--bcher-kva.de`.

    One label is enough (`intranet`). Refuses IP addresses (a site's domain is its name),
    a last label of digits only (it reads as an address), and `API_WORDS`.
    """
    host = _host_part(raw, field)
    if _ip_address(host) is not None:
        raise _error("an IP address is not a domain: use the site's host name", field)
    name = _host_name(host, raw, field)
    if name in API_WORDS:
        raise _error(f"{name!r} is a word of Trail's API: choose another name", field)
    return name


def normalize_hostname(raw: str, *, field: str = "extra_hostnames") -> str:
    """An entry of a site's host name allowlist (docs/hostnames.md): a host name, a `*.`
    wildcard of one (`*.example.com`: example.com and every name under it), or an IP
    address (an intranet app served at `10.0.0.5`).

    A plain name loses its `www.` (the collector compares host names without it); a
    wildcard keeps it, so `*.www.example.com` does not widen into `*.example.com`. Only a
    leading `*.` is a wildcard: `*`, `**.x`, `*x.com` and `a.*.x` are refused.
    """
    host = _host_part(raw, field)
    address = _ip_address(host)
    if address is not None:
        return address
    if host.startswith("*."):
        return "*." + _host_name(host[2:], raw, field, keep_www=True)
    return _host_name(host, raw, field)
