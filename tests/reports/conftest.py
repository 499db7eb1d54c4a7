"""Seeding known traffic through the real collector (batch API → spool → flush → ClickHouse)
for report tests, and calling the report endpoints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from sites.models import Site
from tests import factories
from tests.conftest import send

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Mobile Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Safari/605.1.15"
)


def hit(
    site: Site,
    at: dt.datetime,
    path: str = "/",
    *,
    name: str = "pageview",
    ip: str = "192.0.2.1",
    user_agent: str = FIREFOX,
    referrer: str = "",
    query: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """One event for the batch API, at an aware time."""
    event: dict[str, Any] = {
        "domain": site.domain,
        "name": name,
        "url": f"https://{site.domain}{path}{query}",
        "timestamp": at.astimezone(dt.UTC).isoformat(),
        "ip": ip,
        "user_agent": user_agent,
    }
    if referrer:
        event["referrer"] = referrer
    event.update(extra)
    return event


def post_json(client: Any, path: str, body: Any, key: str | None = None) -> Any:
    """POST a JSON body, with a Bearer key when given (else the client's session)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def seed_sites(
    django_db_blocker: Any,
    clickhouse: Any,
    sites: dict[str, tuple[str, str]],
    events: Callable[[Site], list[dict[str, Any]]],
    goals: tuple[tuple[str, str, str], ...] = (),
    geoip: Path | None = None,
) -> dict[str, Site]:
    """Sites (name → (domain, time zone)) committed for a whole test module, each sent
    `events(site)` through the batch API and flushed with `geoip` as the GeoIP database;
    `goals` are (kind, value, name)."""
    from django.test import Client, override_settings

    from events.flush import flush_spool
    from events.ingest.sites import directory
    from events.spool import spool
    from sites.models import Goal

    made = {}
    from tests.conftest import restart_site_ids

    ingest = dataclasses.replace(settings.TRAIL.ingest, geoip_database=geoip)
    trail = dataclasses.replace(settings.TRAIL, ingest=ingest)
    with django_db_blocker.unblock(), override_settings(TRAIL=trail):
        restart_site_ids()
        org = factories.organization()
        _, key = factories.api_key(org, scopes=("events:write",))
        for name, (domain, timezone) in sites.items():
            site = factories.site(org, domain, timezone=timezone)
            for kind, value, display in goals:
                Goal.objects.create(site=site, kind=kind, value=value, display_name=display)
            made[name] = site
        directory.invalidate()
        client = Client()
        for site in made.values():
            send(client, key, events(site))
        spool().rotate()
        flush_spool(client=clickhouse)
    return made


def drop_seeded(django_db_blocker: Any, sites: dict[str, Site]) -> None:
    """Delete what `seed_sites` committed (its organization, owner, sites, goals and keys),
    so later tests find the database as they expect. Its events stay in ClickHouse under
    site ids nobody gets again (`restart_site_ids`)."""
    with django_db_blocker.unblock():
        for org in {site.organization for site in sites.values()}:
            owners = [m.user for m in org.memberships.select_related("user")]
            org.delete()
            for user in owners:
                user.delete()
