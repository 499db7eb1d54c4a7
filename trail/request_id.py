"""A request id on every answer and on every log line written while answering it.

An incoming `X-Request-ID` (a proxy's or a load balancer's) is kept when it is sane — 1 to
128 characters of letters, digits and `-_.:/+=` — so one id follows a request through the
proxy's log and Trail's; anything else (empty, too long, spaces, control characters, a
forged log line) is replaced by a new random id. The id is answered in `X-Request-ID` and
put on log records by `common.observability.RequestIdFilter` (docs/metrics.md).

The browser ingest endpoints are answered before Django (`events.ingest.wsgi`) and do not
pass here: only their failures (a 500, their one log line) carry an id, made there
(`events.ingest.handler.respond`), so an id per accepted event costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from common.observability import REQUEST_ID_HEADER, accepted_id, request_id

HEADER = REQUEST_ID_HEADER


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = accepted_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid  # type: ignore[attr-defined]
        # Kept until the answer is closed (`_forget`), not reset here: Django logs a 4xx or
        # 5xx ("Not Found: /x") after the middleware returns, and that line carries it too.
        request_id.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        return response


def _forget(**_: object) -> None:
    """The answer was closed: what this thread logs next is not the request's."""
    request_id.set("-")


request_finished.connect(_forget, dispatch_uid="trail.request_id")
