"""Site settings for the hot path, cached in-process: no database call per event.

The directory reloads all live sites in one query when it is older than `ttl` seconds, so
a new site or a changed setting takes effect within `ttl` in every process.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sites.models import Site
from trail.config import IPNetwork


def ip_within(ip: str, networks: Sequence[IPNetwork]) -> bool:
    """`ip` is in one of `networks` (a malformed or empty address is in none)."""
    if not networks or not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: int
    organization_id: int
    domain: str
    public_id: uuid.UUID
    timezone: str
    extra_hostnames: tuple[str, ...]
    excluded_networks: tuple[IPNetwork, ...]
    excluded_paths: re.Pattern[str] | None
    honor_dnt: bool

    @classmethod
    def of(cls, site: Site) -> SiteConfig:
        paths = [fnmatch.translate(p) for p in site.excluded_paths]
        return cls(
            id=site.id,
            organization_id=site.organization_id,
            domain=site.domain,
            public_id=site.public_id,
            timezone=site.timezone,
            extra_hostnames=tuple(site.extra_hostnames),
            excluded_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in site.excluded_ips
            ),
            excluded_paths=re.compile("|".join(paths)) if paths else None,
            honor_dnt=site.honor_dnt,
        )

    def allows_hostname(self, host: str) -> bool:
        """The site's domain, its subdomains, and the extra host names (`*.` wildcards)."""
        host = host.lower().rstrip(".")
        if host.startswith("www."):
            host = host[4:]
        if host == self.domain or host.endswith("." + self.domain):
            return True
        for allowed in self.extra_hostnames:
            if allowed.startswith("*."):
                if host == allowed[2:] or host.endswith(allowed[1:]):
                    return True
            elif host == allowed:
                return True
        return False


def lookup_key(domain: str) -> str:
    """The cheap normalization the tracker's `data-domain` needs (no IDNA on the hot path)."""
    domain = domain.strip().lower().rstrip(".")
    return domain[4:] if domain.startswith("www.") else domain


class SiteDirectory:
    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._by_domain: dict[str, SiteConfig] = {}
        self._by_public_id: dict[str, SiteConfig] = {}
        self._loaded_at = float("-inf")
        self._guard = threading.Lock()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        with self._guard:
            if time.monotonic() - self._loaded_at < self.ttl:
                return
            configs = [SiteConfig.of(site) for site in Site.objects.filter(deleted_at__isnull=True)]
            self._by_domain = {c.domain: c for c in configs}
            self._by_public_id = {str(c.public_id): c for c in configs}
            self._loaded_at = time.monotonic()

    def by_domain(self, domain: str) -> SiteConfig | None:
        self._fresh()
        return self._by_domain.get(lookup_key(domain))

    def by_public_id(self, public_id: str) -> SiteConfig | None:
        self._fresh()
        return self._by_public_id.get(public_id.strip().lower())

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")


directory = SiteDirectory()
