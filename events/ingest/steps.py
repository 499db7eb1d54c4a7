"""The ingest pipeline: small named steps, each returning the event or a `Drop`.

The first drop stops the run; the endpoint answers `202` with `X-Trail-Dropped: <reason>`.
One step, one reason, one test (tests/events/test_ingest_steps.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

from common.clients import ip_within
from events.enrich.referrers import is_spam_referrer
from events.ingest.request import EventInput
from events.ingest.sites import SiteConfig, SiteDirectory, directory
from events.limits.ratelimit import SiteRateLimit


class DropReason(StrEnum):
    BOT = "bot"
    REFERRER_SPAM = "referrer_spam"
    UNKNOWN_SITE = "unknown_site"
    HOSTNAME_NOT_ALLOWED = "hostname_not_allowed"
    EXCLUDED_IP = "excluded_ip"
    EXCLUDED_PATH = "excluded_path"
    DO_NOT_TRACK = "do_not_track"
    OVER_QUOTA = "over_quota"  # the organization's monthly quota, enforced
    RATE_LIMITED = "rate_limited"  # over the site's events per second


@dataclass(frozen=True, slots=True)
class Drop:
    reason: DropReason


@dataclass(frozen=True, slots=True)
class Incoming:
    """One event on its way in: what the client sent and what the request told us."""

    event: EventInput
    ip: str
    user_agent: str
    received_at: dt.datetime
    do_not_track: bool = False  # `DNT: 1` or `Sec-GPC: 1`
    trusted: bool = False  # sent with an API key (batch API): no hostname check
    organization_id: int | None = None  # the API key's: other organizations' sites are unknown
    site_ids: frozenset[int] | None = None  # a site-limited key's sites: the others are unknown
    site: SiteConfig | None = None

    def with_site(self, site: SiteConfig) -> Incoming:
        return Incoming(  # not dataclasses.replace: this runs for every event, and is 3x faster
            self.event,
            self.ip,
            self.user_agent,
            self.received_at,
            self.do_not_track,
            self.trusted,
            self.organization_id,
            self.site_ids,
            site,
        )


Step = Callable[[Incoming], Incoming | Drop]

# Headless and automation browsers the crawler list may miss.
_HEADLESS = re.compile(
    r"HeadlessChrome|PhantomJS|Electron/|SlimerJS|Lighthouse|Puppeteer|Playwright", re.I
)


@lru_cache(maxsize=20_000)
def is_bot(user_agent: str) -> bool:
    """A maintained crawler list (crawler-user-agents) plus headless browsers; cached per
    string, as the list costs ~300 µs a check and real traffic repeats its user agents."""
    if not user_agent.strip() or _HEADLESS.search(user_agent):
        return True
    from crawleruseragents import is_crawler

    return bool(is_crawler(user_agent))


def drop_bots(incoming: Incoming) -> Incoming | Drop:
    if incoming.trusted and not incoming.user_agent:
        return incoming  # a server sent it without the visitor's user agent
    return Drop(DropReason.BOT) if is_bot(incoming.user_agent) else incoming


def drop_referrer_spam(incoming: Incoming) -> Incoming | Drop:
    spam = incoming.event.referrer and is_spam_referrer(incoming.event.referrer)
    return Drop(DropReason.REFERRER_SPAM) if spam else incoming


def make_resolve_site(sites: SiteDirectory) -> Step:
    def resolve_site(incoming: Incoming) -> Incoming | Drop:
        event = incoming.event
        site = sites.by_public_id(event.website) if event.website else None
        if site is None and event.domains:
            site = sites.by_domain(event.domains[0])
        if (
            site is None
            or incoming.organization_id not in (None, site.organization_id)
            or (incoming.site_ids is not None and site.id not in incoming.site_ids)
        ):
            return Drop(DropReason.UNKNOWN_SITE)  # another tenant's site looks like none
        return incoming.with_site(site)

    return resolve_site


def _site(incoming: Incoming) -> SiteConfig:
    if incoming.site is None:
        raise RuntimeError("the pipeline resolves the site before this step")
    return incoming.site


def drop_foreign_hostnames(incoming: Incoming) -> Incoming | Drop:
    """Plausible's rule (docs/hostnames.md): the domain names the site, whatever the URL's
    host and scheme, unless the site has a host name allowlist. A URL without a host
    (`file:///…`, a path) and a server's event (API key) are never refused here."""
    site = _site(incoming)
    if incoming.trusted or not site.has_allowlist:
        return incoming
    host = urlsplit(incoming.event.url).hostname or ""
    if host and not site.allows_hostname(host):
        return Drop(DropReason.HOSTNAME_NOT_ALLOWED)
    return incoming


def drop_excluded_ips(incoming: Incoming) -> Incoming | Drop:
    if ip_within(incoming.ip, _site(incoming).excluded_networks):
        return Drop(DropReason.EXCLUDED_IP)
    return incoming


def drop_excluded_paths(incoming: Incoming) -> Incoming | Drop:
    pattern = _site(incoming).excluded_paths
    if pattern is None:
        return incoming
    path = urlsplit(incoming.event.url).path or "/"
    return Drop(DropReason.EXCLUDED_PATH) if pattern.fullmatch(path) else incoming


def honor_do_not_track(incoming: Incoming) -> Incoming | Drop:
    if incoming.do_not_track and _site(incoming).honor_dnt:
        return Drop(DropReason.DO_NOT_TRACK)
    return incoming


def drop_over_quota(incoming: Incoming) -> Incoming | Drop:
    """The organization enforces its monthly quota and has used it up (the quota job sets
    the flag; the site directory carries it: no query here)."""
    return Drop(DropReason.OVER_QUOTA) if _site(incoming).over_quota else incoming


def make_rate_limit(limit: SiteRateLimit) -> Step:
    def rate_limit(incoming: Incoming) -> Incoming | Drop:
        site = _site(incoming)
        if site.rate <= 0 or limit.allows(site.id, site.rate, site.burst):
            return incoming
        return Drop(DropReason.RATE_LIMITED)

    return rate_limit


def pipeline(sites: SiteDirectory = directory, limit: SiteRateLimit | None = None) -> list[Step]:
    """The steps in order. The limits come last: dropped events do not use them up."""
    steps = [
        drop_bots,
        drop_referrer_spam,
        make_resolve_site(sites),
        drop_foreign_hostnames,
        drop_excluded_ips,
        drop_excluded_paths,
        honor_do_not_track,
        drop_over_quota,
    ]
    if limit is not None:
        steps.append(make_rate_limit(limit))
    return steps


def run(incoming: Incoming, steps: list[Step]) -> Incoming | Drop:
    for step in steps:
        outcome = step(incoming)
        if isinstance(outcome, Drop):
            return outcome
        incoming = outcome
    return incoming
