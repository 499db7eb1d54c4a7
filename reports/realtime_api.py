"""`GET /api/v1/realtime?site_id=<domain>`: the last 30 minutes (reports/realtime.py).

Scope `stats:read` for API keys; signed-in members may call it for their sites.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.errors import ServiceError
from accounts.models import Scope
from reports import realtime
from sites.selectors import site_get_for_actor

COUNT = {"type": "integer"}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "visitors": {**COUNT, "description": "unique visitors with an event in the last 5 minutes"},
        "minutes": {
            "type": "array",
            "minItems": realtime.MINUTES,
            "maxItems": realtime.MINUTES,
            "description": "oldest first, in the site's time zone, zero-filled",
            "items": {
                "type": "object",
                "properties": {
                    "minute": {"type": "string", "example": "2025-01-31 14:05"},
                    "pageviews": COUNT,
                    "visitors": COUNT,
                },
            },
        },
        "pages": {
            "type": "array",
            "maxItems": realtime.TOP,
            "items": {
                "type": "object",
                "properties": {"page": {"type": "string"}, "visitors": COUNT},
            },
        },
        "sources": {
            "type": "array",
            "maxItems": realtime.TOP,
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "string", "example": realtime.DIRECT},
                    "visitors": COUNT,
                },
            },
        },
        "timezone": {"type": "string"},
    },
}


class RealtimeView(TrailApiView):
    required_scope = Scope.STATS_READ.value

    @extend_schema(
        summary="Realtime: visitors now and the last 30 minutes",
        parameters=[
            OpenApiParameter(
                "site_id",
                str,
                OpenApiParameter.QUERY,
                required=True,
                description="the site's domain",
            )
        ],
        responses={
            200: OpenApiResponse(response=RESPONSE_SCHEMA, description="the last 30 minutes"),
            400: OpenApiResponse(description='{"error": "site_id: ..."}'),
            404: OpenApiResponse(description="no such site for this key or user"),
        },
    )
    def get(self, request: Request) -> Response:
        domain = request.query_params.get("site_id", "")
        if not domain.strip():
            raise ServiceError("expected the site's domain", field="site_id")
        site = site_get_for_actor(actor=actor(request), domain=domain)
        return Response(realtime.realtime(site=site))
