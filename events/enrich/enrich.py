"""Enrichment: a spooled event becomes a row of the `events` table.

Runs in the flush (a Celery task in services mode, the job thread in embedded mode),
never on the request path. The IP and user agent are used here and dropped: the row keeps
the visitor hash, the location and the device.
"""

from __future__ import annotations

from events.enrich.clients import client_info, screen_size
from events.enrich.geo import UNKNOWN, GeoDatabase
from events.enrich.referrers import attribute
from events.enrich.urls import parse_page_url
from events.record import SpooledEvent
from events.rows import EventRow
from events.salts import visitor_id


def enrich(event: SpooledEvent, *, geo: GeoDatabase | None) -> EventRow:
    page = parse_page_url(event.url, hash_mode=event.hash_mode)
    client = client_info(event.user_agent)
    location = geo.lookup(event.ip) if geo is not None and event.ip else UNKNOWN
    source = attribute(
        referrer=event.referrer,
        page_host=page.hostname,
        utm_source=page.utm_source,
        utm_medium=page.utm_medium,
        utm_campaign=page.utm_campaign,
        click_id_param=page.click_id_param,
    )
    return EventRow(
        site_id=event.site_id,
        event_id=event.event_id,
        timestamp=event.timestamp,
        name=event.name,
        visitor_id=visitor_id(
            site_id=event.site_id,
            ip=event.ip,
            user_agent=event.user_agent,
            received_at=event.received_at,
        ),
        hostname=page.hostname,
        pathname=page.pathname,
        referrer=source.referrer,
        referrer_source=source.source,
        channel=source.channel,
        utm_medium=page.utm_medium,
        utm_source=page.utm_source,
        utm_campaign=page.utm_campaign,
        utm_content=page.utm_content,
        utm_term=page.utm_term,
        click_id_param=page.click_id_param,
        country_code=location.country_code,
        region=location.region,
        city=location.city,
        browser=client.browser,
        browser_version=client.browser_version,
        os=client.os,
        os_version=client.os_version,
        device=client.device if event.user_agent else "",
        screen_size=screen_size(event.screen_width),
        props=dict(event.props),
        revenue_amount=event.revenue_amount,
        revenue_currency=event.revenue_currency,
        interactive=event.interactive,
        scroll_depth=event.scroll_depth or 0,
        engagement_ms=event.engagement_ms or 0,
    )
