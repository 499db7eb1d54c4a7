"""A site's destinations as the API and the settings page change and show them.

Rules: `type` is `webhook` or `mixpanel`; a webhook needs `url` (http(s), refused when it
resolves to a private address unless `TRAIL_ALLOW_PRIVATE_WEBHOOKS`: common.outbound) and
may have a `secret` (then every request is signed); Mixpanel needs its project `token` and
takes a `url` (default `https://api.mixpanel.com/import`; the EU residency's
`https://api-eu.mixpanel.com/import` or a compatible endpoint). Secrets and tokens are
never shown again. `state` `paused`/`active` pauses or resumes; a resume retries at once
and continues from the oldest unsent event. Errors are `ServiceError`s naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Min, QuerySet, Sum

from accounts.errors import NotFound, ServiceError
from common import outbound
from events.destinations import formats
from events.destinations.models import Destination, DestinationBatch
from sites.models import Site

MAX_PER_SITE = 10
MAX_SECRET = 500
FIELDS = ("type", "url", "secret", "token", "state")
TYPES = tuple(choice.value for choice in Destination.Type)
STATES = tuple(choice.value for choice in Destination.State)


def _text(value: object, field: str, *, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ServiceError("expected a string", field=field)
    value = value.strip()
    if "\x00" in value:
        raise ServiceError("must not contain a NUL character", field=field)
    if len(value) > limit:
        raise ServiceError(f"at most {limit} characters", field=field)
    if required and not value:
        raise ServiceError("required", field=field)
    return value


def _url(value: object) -> str:
    url = _text(value, "url", limit=outbound.MAX_URL, required=True)
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise ServiceError(str(exc), field="url") from None
    return url


def destination_create(*, site: Site, fields: dict[str, Any]) -> Destination:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ServiceError("unknown field", field=str(unknown[0])[:100])
    kind = fields.get("type")
    if kind not in TYPES:
        raise ServiceError(f"expected one of: {', '.join(TYPES)}", field="type")
    state = fields.get("state", Destination.State.ACTIVE)
    if state not in STATES:
        raise ServiceError(f"expected one of: {', '.join(STATES)}", field="state")
    if kind == Destination.Type.WEBHOOK:
        if "token" in fields:
            raise ServiceError("a webhook has a secret, not a token", field="token")
        secret = _text(fields.get("secret"), "secret", limit=MAX_SECRET)
        url = _url(fields.get("url"))  # last: it resolves the host
    else:
        if "secret" in fields:
            raise ServiceError("Mixpanel takes its project token as `token`", field="secret")
        secret = _text(fields.get("token"), "token", limit=MAX_SECRET, required=True)
        url = _url(fields.get("url") or formats.MIXPANEL_URL)
    if Destination.objects.filter(site=site).count() >= MAX_PER_SITE:
        raise ServiceError(f"a site has at most {MAX_PER_SITE} destinations", field="type")
    return Destination.objects.create(
        site=site,
        type=kind,
        url=url,
        secret=secret,
        state=state,
        paused_reason="paused by a person" if state == Destination.State.PAUSED else "",
    )


def destination_update(*, destination: Destination, fields: dict[str, Any]) -> Destination:
    """PATCH: `state` (resume or pause), `url`, `secret`/`token` (an empty secret: unsigned)."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ServiceError("unknown field", field=str(unknown[0])[:100])
    if "type" in fields and fields["type"] != destination.type:
        raise ServiceError("cannot be changed: add a new destination", field="type")
    mixpanel = destination.type == Destination.Type.MIXPANEL
    if "url" in fields:
        destination.url = _url(fields["url"] or (formats.MIXPANEL_URL if mixpanel else ""))
    if "secret" in fields:
        if mixpanel:
            raise ServiceError("Mixpanel takes its project token as `token`", field="secret")
        destination.secret = _text(fields["secret"], "secret", limit=MAX_SECRET)
    if "token" in fields:
        if not mixpanel:
            raise ServiceError("a webhook has a secret, not a token", field="token")
        destination.secret = _text(fields["token"], "token", limit=MAX_SECRET, required=True)
    if "state" in fields:
        state = fields["state"]
        if state not in STATES:
            raise ServiceError(f"expected one of: {', '.join(STATES)}", field="state")
        if state == Destination.State.ACTIVE and destination.state != state:
            destination.paused_reason = ""
        if state == Destination.State.PAUSED and destination.state != state:
            destination.paused_reason = "paused by a person"
        if state == Destination.State.ACTIVE:  # a resume tries at once, counting afresh
            destination.failures = 0
            destination.failing_since = None
            destination.next_attempt_at = None
        destination.state = state
    destination.save()
    return destination


def destination_delete(*, destination: Destination) -> None:
    """Delete it with its unsent batches."""
    destination.delete()


def destinations_for_site(*, site: Site) -> QuerySet[Destination]:
    return Destination.objects.filter(site=site).order_by("id")


def destination_get(*, site: Site, destination_id: object) -> Destination:
    text = str(destination_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound("destination")
    found = Destination.objects.filter(site=site, pk=int(text)).select_related("site").first()
    if found is None:
        raise NotFound("destination")
    return found


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def backlogs(destinations: list[Destination]) -> dict[int, dict[str, Any]]:
    """Per destination: unsent events, batches and the oldest batch's time (one query)."""
    found = (
        DestinationBatch.objects.filter(destination__in=destinations)
        .values("destination_id")
        .annotate(
            batches=Count("id"), events=Sum("events"), sent=Sum("sent"), oldest=Min("created_at")
        )
    )
    return {row["destination_id"]: dict(row) for row in found}


def describe(
    destination: Destination,
    backlog: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The API's object (and the page's row): never the secret or token."""
    now = now or dt.datetime.now(dt.UTC)
    if backlog is None:
        backlog = backlogs([destination]).get(destination.pk)
    pending = int(backlog["events"] - backlog["sent"]) if backlog else 0
    oldest = backlog["oldest"] if backlog else None
    lag = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    return {
        "id": destination.pk,
        "type": destination.type,
        "url": destination.url,
        "signed": bool(destination.secret) if destination.type == "webhook" else None,
        "state": destination.state,
        "paused_reason": destination.paused_reason or None,
        "lag_seconds": max(0.0, lag),
        "pending_events": pending,
        "events_sent": destination.events_sent,
        "last_success_at": _iso(destination.last_success_at),
        "last_error": destination.last_error or None,
        "last_error_at": _iso(destination.last_error_at),
        "failing_since": _iso(destination.failing_since),
        "next_attempt_at": _iso(destination.next_attempt_at),
        "created_at": _iso(destination.created_at),
    }


def describe_all(*, site: Site) -> list[dict[str, Any]]:
    found = list(destinations_for_site(site=site))
    found_backlogs = backlogs(found)
    now = dt.datetime.now(dt.UTC)
    return [describe(d, found_backlogs.get(d.pk), now) for d in found]
