"""`GET /healthz`: 200 when Trail can serve, 503 otherwise (for load balancers).

One exception: a ClickHouse *server* that does not answer makes it 200 with
`"status": "degraded"`, not 503, as long as the spool can take events. Ingest goes on into
the spool during a ClickHouse outage and the flush catches up afterwards; a 503 would
make the load balancer turn away the very traffic the spool is there to keep. The
embedded engine failing is a failure of this process: 503.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trail import preflight


def _probe(check: Any) -> dict[str, Any]:
    try:
        check()
    except Exception as exc:  # a health check reports every failure, whatever its kind
        return {"ok": False, "error": str(exc)}
    return {"ok": True}


def _clickhouse() -> None:
    from events.clickhouse import get_client

    get_client().ping()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    from events.spool import backlog

    config = settings.TRAIL
    checks: dict[str, dict[str, Any]] = {
        "database": {
            **_probe(preflight.check_database),
            "engine": "postgresql" if config.database_url else "sqlite",
        },
        "clickhouse": {
            **_probe(_clickhouse),
            "backend": "embedded" if settings.CLICKHOUSE.embedded else "server",
        },
    }
    if config.redis_url:
        checks["redis"] = _probe(preflight.check_redis)
    embedded = settings.CLICKHOUSE.embedded
    buffer = backlog()
    spool_ok = buffer.bytes <= config.ingest.spool_max_bytes
    # A ClickHouse server's outage does not stop ingest (module docstring); the rest does.
    essential = [c["ok"] for n, c in checks.items() if n != "clickhouse" or embedded]
    healthy = all(essential) and spool_ok
    status = "ok" if healthy and checks["clickhouse"]["ok"] else "degraded"
    body = {
        "status": status if healthy else "unhealthy",
        "mode": config.flush_mode.value,
        **checks,
        "buffer": {**buffer.as_dict(), "ok": spool_ok},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _spool_writable() -> None:
    """A file can be created, written, synced and removed in the spool's directory."""
    from events.spool import spool_dir

    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-", suffix=".tmp") as probe:
        probe.write(b"ok")
        probe.flush()
        os.fsync(probe.fileno())


def _metrics_writable() -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory:
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR is not set")
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-", suffix=".tmp"):
        pass


def _timed_probe(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = _probe(check)
    return {**result, "ms": round((time.perf_counter() - started) * 1000, 1)}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """`GET /readyz`: every backend this process needs, each named with its status; 503
    when one fails (docs/metrics.md). Unlike `/healthz`, a ClickHouse server's outage
    counts: a process that is not ready should get no new traffic until it is."""
    config = settings.TRAIL
    checks: dict[str, dict[str, Any]] = {
        "database": _timed_probe(preflight.check_database),
        "clickhouse": _timed_probe(_clickhouse),
    }
    if config.redis_url:
        checks["redis"] = _timed_probe(preflight.check_redis)
    checks["spool"] = _timed_probe(_spool_writable)
    checks["metrics"] = _timed_probe(_metrics_writable)
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    body = {"status": "ready" if not failing else "unready", "failing": failing, **checks}
    return JsonResponse(body, status=503 if failing else 200)
