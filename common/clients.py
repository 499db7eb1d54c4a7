"""Who the client is: one rule for every part of Trail that counts or trusts clients.

The client's address is `REMOTE_ADDR`, or, when that peer is in `TRAIL_TRUSTED_PROXIES`,
the right-most `X-Forwarded-For` hop that is not itself a trusted proxy. Ingest (the
visitor hash and geo lookup), the login throttles (allauth, through
`accounts.adapter`), the guessing limits of API keys and shared links, and the trust in
`X-Forwarded-Proto` (`trail.security`) all use it. It lives in `common`, the bottom
layer, so that `accounts` can use it as well as `events`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip_within(ip: str, networks: Sequence[IPNetwork]) -> bool:
    """`ip` is in one of `networks` (a malformed or empty address is in none)."""
    if not networks or not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(remote_addr: str, forwarded_for: str, trusted: Sequence[IPNetwork]) -> str:
    """`REMOTE_ADDR`, or, when that peer is a trusted proxy, the right-most hop of
    `X-Forwarded-For` that is not itself a trusted proxy (hops left of it can be forged)."""
    if not forwarded_for or not ip_within(remote_addr, trusted):
        return remote_addr
    for hop in reversed(forwarded_for.split(",")):
        hop = hop.strip()
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote_addr  # a malformed hop: believe nothing left of it
        if not ip_within(hop, trusted):
            return hop
    return remote_addr


def request_client_ip(meta: Mapping[str, Any]) -> str:
    """`client_ip` of a request's `META` (or a WSGI environ), with the configured proxies."""
    return client_ip(
        meta.get("REMOTE_ADDR", "") or "",
        meta.get("HTTP_X_FORWARDED_FOR", "") or "",
        settings.TRAIL.ingest.trusted_proxies,
    )
