"""`POST /api/v2/query`: Plausible's Stats API v2 (docs/reports.md).

A Bearer key with `stats:read`, or a signed-in member of the site's organization (the
dashboard). Another tenant's site is 404; a bad body is `400 {"error": "<field>: …"}`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView, actor
from accounts.errors import ServiceError
from accounts.models import Scope
from common import strict_json
from reports.context import load_context
from reports.parse import parse
from reports.runner import execute
from reports.stats import answer, with_group_rate
from reports.stats_schema import ERROR_SCHEMA, REQUEST_SCHEMA, RESPONSE_SCHEMA
from sites.models import Site
from sites.selectors import site_get_for_actor


def json_object(request: Request, known: Collection[str] | None = None) -> dict[str, Any]:
    """The request's body as one JSON object (strict JSON); with `known`, no other field."""
    try:
        body = strict_json.loads(request.body)
    except strict_json.InvalidJson as exc:
        raise ServiceError(exc.message, field="body") from None
    if not isinstance(body, dict):
        raise ServiceError("expected a JSON object", field="body")
    if known is not None:
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise ServiceError("unknown field", field=str(unknown[0])[:100])
    return body


def body_and_site(request: Request) -> tuple[dict[str, Any], Site]:
    """A report request's JSON object and the site its `site_id` names, for this actor."""
    body = json_object(request)
    domain = body.get("site_id")
    if not isinstance(domain, str) or not domain.strip():
        raise ServiceError("required: the site's domain", field="site_id")
    return body, site_get_for_actor(actor=actor(request), domain=domain)


def total_rows(site: Site, body: Mapping[str, Any]) -> int:
    """`include.total_rows`: how many rows the query has over every page (Plausible's
    `meta.total_rows`), by running it unpaged; the rows' order and comparison aside."""
    body = with_group_rate(body)[0]
    query = parse(site=site, body=body, context=load_context(site, body)).query
    unpaged = replace(query, offset=0, limit=ALL_ROWS, comparison=None, order_by=())
    return len(execute(unpaged).rows)


ALL_ROWS = 2**31 - 1


class StatsQueryView(TrailApiView):
    required_scope = Scope.STATS_READ
    parser_classes = [RawBody]

    @extend_schema(
        request={"application/json": REQUEST_SCHEMA},
        responses={
            200: OpenApiResponse(response=RESPONSE_SCHEMA, description="the report"),
            400: OpenApiResponse(response=ERROR_SCHEMA, description="a bad body, naming the field"),
            401: OpenApiResponse(response=ERROR_SCHEMA, description="no or a wrong API key"),
            404: OpenApiResponse(
                response=ERROR_SCHEMA, description="no such site for this key or user"
            ),
            429: OpenApiResponse(
                response=ERROR_SCHEMA, description="over the key's rate limit (Retry-After)"
            ),
        },
        summary="Query stats (Plausible Stats API v2)",
        description="Plausible's Stats API v2: metrics over a date range, optionally by"
        " dimensions, filtered, ordered, paged and compared. Send"
        " `Authorization: Bearer <API key>` with the `stats:read` scope.",
        examples=[
            OpenApiExample(
                "Top pages this month",
                value={
                    "site_id": "example.com",
                    "metrics": ["visitors", "pageviews"],
                    "date_range": "month",
                    "dimensions": ["event:page"],
                    "pagination": {"limit": 10},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Top pages this month (answer)",
                value={
                    "results": [
                        {"metrics": [120, 340], "dimensions": ["/"]},
                        {"metrics": [45, 61], "dimensions": ["/pricing"]},
                    ],
                    "meta": {"imports_included": False, "sampled": False, "sample_fraction": None},
                    "query": {"site_id": "example.com", "metrics": ["visitors", "pageviews"]},
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body, site = body_and_site(request)
        result = answer(site=site, body=body)
        include = body.get("include")
        if isinstance(include, dict) and include.get("total_rows") is True:
            result["meta"]["total_rows"] = total_rows(site, body)
        return Response(result)
