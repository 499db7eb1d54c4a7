"""Error answers: `{"error": "..."}` under `/api/` (the Stats API's shape), Django's HTML
pages everywhere else.

DRF views already answer in that shape (`accounts.api.api_exception_handler`) and the lean
ingest routes answer their own (`events.ingest.wsgi`); these handlers cover what reaches
Django's handlers instead: an unknown path, an unhandled exception, a suspicious request,
a permission error outside DRF, a failed CSRF check. With `DEBUG` on, Django shows its
debug pages for 404 and 500 instead, as it does for every path.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error("bad request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error(str(exception) or "permission denied", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error("not found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _error("internal error", 500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`CSRF_FAILURE_VIEW`."""
    if _is_api(request):
        return _error(f"CSRF check failed: {reason}" if reason else "CSRF check failed", 403)
    return csrf.csrf_failure(request, reason)
