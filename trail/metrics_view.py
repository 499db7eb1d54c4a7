"""`GET /metrics`: Prometheus's text format, for the operator's scraper (docs/metrics.md).

Who may read it:
- with `TRAIL_METRICS_TOKEN` set, a request with `Authorization: Bearer <that token>`,
  from anywhere (401 without a token, 403 with another);
- without it, loopback clients only (403 otherwise). The client is `common.clients`'s: a
  trusted proxy's `X-Forwarded-For` names it. A request that reached Trail through a
  proxy Trail does not trust (it carries `X-Forwarded-For`, `X-Real-IP` or `Forwarded`
  from a peer outside `TRAIL_TRUSTED_PROXIES`) is refused even from 127.0.0.1: a reverse
  proxy on the same host would otherwise make every visitor look local.

The answer adds up the multiprocess files of every Trail process of this host
(`common.metrics`) and what is read at scrape time (`Snapshot`): the spool's backlog,
data jobs waiting or running, Celery's queue length (services mode), destinations' lag.
A part that cannot be read is left out and named in `trail_metrics_scrape_errors`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from common.clients import ip_within, request_client_ip
from common.metrics import publish

logger = logging.getLogger(__name__)

_FORWARDING = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")
CELERY_QUEUES = ("celery",)  # the queue Trail's tasks go to (no routes: the default)


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def refusal(request: HttpRequest) -> JsonResponse | None:
    """Why this request may not read the metrics (an answer to send), or None."""
    token = settings.TRAIL.metrics_token
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            response = JsonResponse({"error": "send Authorization: Bearer <token>"}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not hmac.compare_digest(value.strip().encode(), token.encode()):
            return JsonResponse({"error": "wrong metrics token"}, status=403)
        return None
    meta = request.META
    peer = meta.get("REMOTE_ADDR", "") or ""
    proxied = any(meta.get(name) for name in _FORWARDING)
    if proxied and not ip_within(peer, settings.TRAIL.ingest.trusted_proxies):
        return JsonResponse({"error": "metrics: loopback clients only (set a token)"}, status=403)
    if not _is_loopback(request_client_ip(meta)):
        return JsonResponse({"error": "metrics: loopback clients only (set a token)"}, status=403)
    return None


def _gauge(name: str, help_text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=labels)


def _spool() -> Iterator[Metric]:
    from events.spool import backlog

    found = backlog()
    yield GaugeMetricFamily("trail_spool_bytes", "Bytes in the spool.", value=found.bytes)
    yield GaugeMetricFamily(
        "trail_spool_segments", "Spool segments waiting for the flush.", value=found.segments
    )
    yield GaugeMetricFamily(
        "trail_spool_oldest_seconds",
        "Age of the oldest segment in the spool (0 when empty).",
        value=found.oldest_seconds,
    )


def _data_jobs() -> Iterator[Metric]:
    from django.db.models import Count

    from events.models import DataJob

    gauge = _gauge("trail_data_jobs", "Data jobs queued or running, by kind.", ["kind", "status"])
    waiting = (
        DataJob.objects.filter(status__in=[DataJob.Status.QUEUED, DataJob.Status.RUNNING])
        .values_list("kind", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for kind, status, count in waiting:
        gauge.add_metric([kind, status], count)
    yield gauge


def _celery() -> Iterator[Metric]:
    if not settings.TRAIL.redis_url:
        return
    import redis

    gauge = _gauge("trail_celery_queue_length", "Tasks waiting in a Celery queue.", ["queue"])
    connection = redis.Redis.from_url(
        settings.TRAIL.redis_url, socket_timeout=2, socket_connect_timeout=2
    )
    try:
        for queue in CELERY_QUEUES:
            gauge.add_metric([queue], connection.llen(queue))
    finally:
        connection.close()
    yield gauge


def _destinations() -> Iterator[Metric]:
    from django.db.models import F, Min, Sum

    from events.destinations.models import DestinationBatch

    lag = _gauge(
        "trail_destination_lag_seconds",
        "Age of the oldest batch not yet sent, by destination type and state.",
        ["type", "state"],
    )
    pending = _gauge(
        "trail_destination_pending_events", "Events queued, not yet sent.", ["type", "state"]
    )
    now = timezone.now()
    rows = (
        DestinationBatch.objects.values_list("destination__type", "destination__state")
        .annotate(oldest=Min("created_at"), waiting=Sum(F("events") - F("sent")))
        .order_by()
    )
    for kind, state, oldest, waiting in rows:
        lag.add_metric([kind, state], max(0.0, (now - oldest).total_seconds()))
        pending.add_metric([kind, state], waiting or 0)
    yield lag
    yield pending


PARTS: dict[str, Callable[[], Iterator[Metric]]] = {
    "spool": _spool,
    "data_jobs": _data_jobs,
    "celery": _celery,
    "destinations": _destinations,
}


class Snapshot:
    """The values read at scrape time (a prometheus-client custom collector)."""

    def collect(self) -> Iterator[Metric]:
        errors = _gauge(
            "trail_metrics_scrape_errors",
            "1 for a part of /metrics that could not be read.",
            ["part"],
        )
        for name, part in PARTS.items():
            try:
                found = list(part())
            except Exception as exc:  # one backend down must not hide the other metrics
                logger.warning("metrics: could not read %s: %s", name, str(exc)[:300])
                errors.add_metric([name], 1)
                continue
            errors.add_metric([name], 0)
            yield from found
        yield errors


def exposition() -> bytes:
    """The metrics of every process of this host and the scrape-time values, as text."""
    publish()  # this process's pending ingest counts
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(Snapshot())
    return generate_latest(registry)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> Any:
    refused = refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
