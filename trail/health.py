"""`GET /healthz`: 200 when every dependency answers, 503 otherwise (for load balancers)."""

from __future__ import annotations

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
    healthy = all(check["ok"] for check in checks.values())
    body = {
        "status": "ok" if healthy else "unhealthy",
        "mode": config.flush_mode.value,
        **checks,
        "buffer": backlog().as_dict(),
    }
    return JsonResponse(body, status=200 if healthy else 503)
