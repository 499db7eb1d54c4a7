"""Site settings for the hot path, cached in-process: no database call per event.

A `SiteDirectory` holds every live site's ingest settings and reloads them all in one
query when it is older than `ttl` seconds. A change to a site is seen sooner than that:

- Every save or delete of a `Site` row, whoever makes it (the Sites API, the dashboard,
  the services, the purge job, an organization's cascade), calls `announce_site_change`
  once its transaction commits (Django's `post_save`/`post_delete` signals, connected
  here; `events/apps.py` imports this module). It drops this process's directory, so the
  next event reloads, and writes a new random stamp to the shared cache (Redis in services
  mode, the process's own memory in embedded mode).
- Each directory reads that stamp at most once per `check_every` seconds (one cache call,
  made by one request thread while the others go on with the sites they have) and reloads
  when it differs from the stamp it loaded with. So another process sees a change within
  `check_every` plus one reload.

Writes that send no signals (`QuerySet.update`, `bulk_create`) are seen after `ttl`, the
safety net that also covers a cache outage.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from common.clients import IPNetwork
from events.limits.models import DEFAULT_BURST_SECONDS, OrganizationLimits
from sites.models import Site

logger = logging.getLogger(__name__)

# The shared cache key whose value changes whenever a site does (a random stamp, not a
# counter: a counter that was lost and restarted could come back to a value once seen).
STAMP_KEY = "sites:directory-stamp"


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: int
    organization_id: int
    domain: str
    public_id: uuid.UUID
    timezone: str
    extra_hostnames: tuple[str, ...]  # the host name allowlist, as stored
    excluded_networks: tuple[IPNetwork, ...]
    excluded_paths: re.Pattern[str] | None
    honor_dnt: bool
    # The per-site rate limit (events/s, burst; rate 0 = none) and the organization's
    # monthly quota flag, resolved at load (docs/limits.md)
    rate: float = 0.0
    burst: float = 0.0
    over_quota: bool = False
    # The allowlist precomputed (docs/hostnames.md): empty when the site has none
    allowed_hosts: frozenset[str] = frozenset()
    allowed_suffixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, site: Site) -> SiteConfig:
        paths = [fnmatch.translate(p) for p in site.excluded_paths]
        hosts, suffixes = allowlist(site.domain, site.extra_hostnames)
        rate, burst, over_quota = site_limits(site)
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
            rate=rate,
            burst=burst,
            over_quota=over_quota,
            allowed_hosts=hosts,
            allowed_suffixes=suffixes,
        )

    @property
    def has_allowlist(self) -> bool:
        return bool(self.allowed_hosts)

    def allows_hostname(self, host: str) -> bool:
        """Plausible's rule: any host name, unless the site has an allowlist; then only the
        site's domain, its subdomains, the listed names and their `*.` wildcards. One set
        lookup and one `endswith` over a tuple: O(allowlist), no loop in Python."""
        if not self.allowed_hosts:
            return True
        key = _host_key(host)
        return key in self.allowed_hosts or key.endswith(self.allowed_suffixes)


def site_limits(site: Site) -> tuple[float, float, bool]:
    """(rate, burst, over_quota) for a site: its organization's overrides (the reload
    selects them with the site), else the instance's TRAIL_SITE_EVENTS_PER_SECOND."""
    from django.conf import settings

    rate = settings.TRAIL.ingest.site_events_per_second
    burst = None
    over_quota = False
    limits = getattr(site.organization, "limits", None)  # None: no row (reverse one-to-one)
    if limits is not None:
        if limits.site_events_per_second is not None:
            rate = limits.site_events_per_second
        burst = limits.site_burst
        over_quota = limits.over_quota
    if burst is None:
        burst = rate * DEFAULT_BURST_SECONDS
    return rate, max(1.0, float(burst)), over_quota


def _host_key(host: str) -> str:
    """A URL's host as the allowlist holds it: lower case, no trailing dot, no `www.`,
    punycode, an IPv6 address compressed (`urlsplit` already lowers and unbrackets)."""
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return ""  # not a host name: matches nothing
    elif ":" in host:
        try:
            host = ipaddress.ip_address(host).compressed
        except ValueError:
            pass
    return host


def allowlist(domain: str, entries: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """A site's allowlist as exact names and dotted suffixes; both empty without entries.

    With entries, the site's own domain and its subdomains are always in it (the list
    names the host names besides it; an allowlist without the site's own name would only
    ever be a mistake). `*.example.com` is `example.com` and every name ending in
    `.example.com`.
    """
    hosts: set[str] = set()
    suffixes: list[str] = []
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        if entry.startswith("*.") and len(entry) > 2:
            base = entry[2:]
            hosts.add(base.removeprefix("www."))
            suffixes.append("." + base)
        elif entry and "*" not in entry:
            hosts.add(_host_key(entry))
    if not hosts:
        return frozenset(), ()
    hosts.add(domain)
    suffixes.append("." + domain)
    # a suffix under another is redundant: keep the shortest (`.a.com` covers `.x.a.com`)
    kept = [s for s in set(suffixes) if not any(s != o and s.endswith(o) for o in suffixes)]
    return frozenset(hosts), tuple(sorted(kept, key=len))


def lookup_key(domain: str) -> str:
    """The cheap normalization the tracker's `data-domain` needs (IDNA only for non-ASCII).

    Sites store internationalized names in punycode (sites/domains.py); a `data-domain`
    typed in Unicode (`bücher.de`) finds the same site.
    """
    domain = domain.strip().lower().rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return domain  # not a host name: matches no site
    return domain[4:] if domain.startswith("www.") else domain


class SiteDirectory:
    """Live sites by domain and by public id, for one process (thread-safe)."""

    def __init__(self, ttl: float = 10.0, check_every: float = 0.5) -> None:
        self.ttl = ttl
        self.check_every = check_every
        self._by_domain: dict[str, SiteConfig] = {}
        self._by_public_id: dict[str, SiteConfig] = {}
        self._loaded_at = float("-inf")
        self._checked_at = float("-inf")
        self._stamp: object = None  # the shared stamp read just before the last load
        self._invalidations = 0
        self._shared_ok = True
        self._guard = threading.Lock()
        self._checking = threading.Lock()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at >= self.ttl:
            self._reload()
        elif time.monotonic() - self._checked_at >= self.check_every and self._stamp_changed():
            self.invalidate()
            self._reload()

    def _stamp_changed(self) -> bool:
        if not self._checking.acquire(blocking=False):
            return False  # another thread is asking right now
        try:
            if time.monotonic() - self._checked_at < self.check_every:
                return False
            stamp = self._shared_stamp()
            self._checked_at = time.monotonic()
            return stamp != self._stamp
        finally:
            self._checking.release()

    def _shared_stamp(self) -> object:
        """The stamp in the shared cache; when the cache fails, the one held (no reload)."""
        try:
            stamp = cache.get(STAMP_KEY)
        except Exception:
            if self._shared_ok:
                logger.warning(
                    "cannot read the site stamp from the cache; other processes' site changes "
                    "reach this one within %s s",
                    self.ttl,
                    exc_info=True,
                )
            self._shared_ok = False
            return self._stamp
        self._shared_ok = True
        return stamp

    def _reload(self) -> None:
        with self._guard:
            if time.monotonic() - self._loaded_at < self.ttl:
                return  # another thread has just reloaded
            invalidations = self._invalidations
            stamp = self._shared_stamp()  # before the query: a later change gets a new one
            configs = [
                SiteConfig.of(site)
                for site in Site.objects.filter(deleted_at__isnull=True).select_related(
                    "organization__limits"
                )
            ]
            self._by_domain = {c.domain: c for c in configs}
            self._by_public_id = {str(c.public_id): c for c in configs}
            self._stamp = stamp
            self._checked_at = time.monotonic()
            if invalidations == self._invalidations:  # else stay stale: reload on next event
                self._loaded_at = self._checked_at

    def by_domain(self, domain: str) -> SiteConfig | None:
        self._fresh()
        return self._by_domain.get(lookup_key(domain))

    def by_public_id(self, public_id: str) -> SiteConfig | None:
        self._fresh()
        return self._by_public_id.get(public_id.strip().lower())

    def invalidate(self) -> None:
        """Reload on the next lookup (this directory only; see `announce_site_change`)."""
        self._invalidations += 1
        self._loaded_at = float("-inf")


directory = SiteDirectory()


def announce_site_change() -> None:
    """Sites changed: this process reloads on its next event, the others within a second."""
    directory.invalidate()
    try:
        cache.set(STAMP_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning(
            "cannot write the site stamp to the cache; other processes see the change within %s s",
            directory.ttl,
            exc_info=True,
        )


def _on_site_written(sender: Any, using: str, **_: Any) -> None:
    # After commit: announced earlier, a reload could still read the old row and keep it.
    transaction.on_commit(announce_site_change, using=using, robust=True)


post_save.connect(_on_site_written, sender=Site, dispatch_uid="events.sites_on_save")
post_delete.connect(_on_site_written, sender=Site, dispatch_uid="events.sites_on_delete")
# An organization's limits are part of its sites' settings (rate, burst, the quota flag)
post_save.connect(_on_site_written, sender=OrganizationLimits, dispatch_uid="events.limits_on_save")
post_delete.connect(
    _on_site_written, sender=OrganizationLimits, dispatch_uid="events.limits_on_delete"
)
