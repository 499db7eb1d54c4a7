"""Tenancy errors from selectors and services become 404 and 403 pages; statistics that
cannot be read (ClickHouse or a shard out of reach) a 503 page, or in a dashboard panel a
503 fragment htmx swaps in (base.html's `htmx-config`), never a 500 nor partial numbers."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string

from accounts.errors import Forbidden, NotFound
from reports.sql.builder import ReportsUnavailable


class TenancyErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ReportsUnavailable):
            return _unavailable(request)
        if isinstance(exception, NotFound):
            raise Http404("not found") from exception
        if isinstance(exception, Forbidden):
            raise PermissionDenied(str(exception)) from exception
        return None


def _unavailable(request: HttpRequest) -> HttpResponse:
    panel = request.headers.get("HX-Request") == "true"
    template = "frontend/_reports_unavailable.html" if panel else "503.html"
    answer = HttpResponse(render_to_string(template), status=503)
    answer["Retry-After"] = str(ReportsUnavailable.wait)
    return answer
