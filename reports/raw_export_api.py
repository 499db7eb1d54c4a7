"""`GET /api/v1/sites/{domain}/events/export?date_range=…&format=…[&filters=…]`: every
stored event of the range, streamed as ClickHouse writes the format (reports/raw_export.py,
docs/exports.md "Raw events").

Scope `stats:read` for API keys; signed-in members may call it for their sites. Another
tenant's site is 404; a bad parameter `400 {"error": "<field>: …"}` before any byte. NDJSON
and CSV are gzipped when the client accepts gzip (Parquet is compressed inside already),
chunk by chunk as they stream. A client that goes away closes the stream, which stops the
query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.text import compress_sequence
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from accounts.api import TrailApiView, actor
from accounts.api_shared import error_responses
from accounts.models import Scope
from reports import raw_export
from sites.selectors import site_get_for_actor

_ACCEPTS_GZIP = re.compile(r"\bgzip\b")
GZIPPED = frozenset({"ndjson", "csv"})  # Parquet's columns are compressed already


class _FileOrError(BaseContentNegotiation):
    """The answer is the file the `format` parameter names, or a JSON error: DRF's own
    `?format=` renderer override and the Accept header choose nothing here."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], str(renderers[0].media_type)


def _body(chunks: Iterator[bytes], gzip: bool) -> Iterator[bytes]:
    """The response's bytes; closing it (the client went away) closes the export's stream,
    which stops the query (a gzip layer in between would not pass the close on)."""
    try:
        yield from compress_sequence(chunks) if gzip else chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class RawEventsExportView(TrailApiView):
    required_scope = Scope.STATS_READ
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FileOrError

    @extend_schema(
        parameters=[
            OpenApiParameter("domain", str, OpenApiParameter.PATH, description="the site's domain"),
            OpenApiParameter(
                "date_range",
                str,
                OpenApiParameter.QUERY,
                required=True,
                description='the Stats API\'s: a preset ("day", "7d", "28d", "30d", "91d",'
                ' "month", "6mo", "12mo", "year", "all") or two dates "YYYY-MM-DD,YYYY-MM-DD"'
                " (or as a JSON array), local days in the site's time zone",
            ),
            OpenApiParameter(
                "format",
                str,
                OpenApiParameter.QUERY,
                enum=list(raw_export.FORMATS),
                description='"ndjson" (the default), "csv" or "parquet"',
            ),
            OpenApiParameter(
                "filters",
                str,
                OpenApiParameter.QUERY,
                description="the Stats API v2's filters as JSON, e.g."
                ' [["is","visit:country",["DE"]],["contains","event:page",["/blog"]]]',
            ),
        ],
        responses={
            (200, media): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description=f"the events as {name}, column set version"
                f" {raw_export.COLUMNS_VERSION} (docs/exports.md); NDJSON and CSV gzipped"
                " when the client sends Accept-Encoding: gzip",
                examples=[
                    OpenApiExample(
                        "one NDJSON row",
                        value='{"event_id":"0b6e…","timestamp":"2026-11-07T10:15:02.120Z",'
                        '"name":"pageview","page":"/pricing",…}',
                    )
                ]
                if name == "ndjson"
                else [],
            )
            for name, (_, media, _) in raw_export.FORMATS.items()
        }
        | error_responses(400, 404),
        operation_id="site_events_export",
        summary="Export raw events",
        description="Every stored event of the date range (the site's time zone), with the"
        " Stats API's filters, streamed as NDJSON, CSV or Parquet. One row per event,"
        " engagement events included; the columns are listed in docs/exports.md"
        f" (version {raw_export.COLUMNS_VERSION}, also sent as `X-Trail-Columns-Version`).",
    )
    def get(self, request: Request, domain: str) -> StreamingHttpResponse:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        params = request.query_params
        req = raw_export.parse_request(
            site,
            date_range=params.get("date_range"),
            format=params.get("format") or "ndjson",
            filters=params.get("filters"),
        )
        chunks = raw_export.stream(req)  # the query starts: a bad pattern is still a 400
        gzip = req.format in GZIPPED and bool(
            _ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", ""))
        )
        response = StreamingHttpResponse(
            _body(chunks, gzip), content_type=raw_export.FORMATS[req.format].content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{raw_export.filename(req)}"'
        response["X-Trail-Columns-Version"] = str(raw_export.COLUMNS_VERSION)
        response["Cache-Control"] = "no-store"
        if req.format in GZIPPED:
            response["Vary"] = "Accept-Encoding"
        if gzip:
            response["Content-Encoding"] = "gzip"
        return response
