"""`POST /api/v1/funnels/query`: a funnel of 2–8 page or event steps (reports/funnels.py).

Scope `stats:read` for API keys; signed-in members may call it for their sites.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView
from accounts.models import Scope
from reports import funnels
from reports.api import body_and_site
from reports.context import load_context
from sites.funnels import DEFAULT_WINDOW, MAX_STEPS, MAX_TEXT, MAX_WINDOW, MIN_STEPS

STEP_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type", "pattern"],
            "properties": {
                "type": {"type": "string", "enum": ["page"]},
                "pattern": {
                    "type": "string",
                    "maxLength": MAX_TEXT,
                    "description": "a path; `*` matches any characters",
                },
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["type", "name"],
            "properties": {
                "type": {"type": "string", "enum": ["event"]},
                "name": {"type": "string", "maxLength": MAX_TEXT},
            },
            "additionalProperties": False,
        },
    ]
}
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["site_id", "date_range", "steps"],
    "additionalProperties": False,
    "properties": {
        "site_id": {"type": "string", "description": "the site's domain"},
        "date_range": {
            "description": 'as the Stats API: "day", "7d", "30d", "month", "6mo", "12mo",'
            ' "year", "all" or ["YYYY-MM-DD", "YYYY-MM-DD"]',
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ],
        },
        "steps": {
            "type": "array",
            "minItems": MIN_STEPS,
            "maxItems": MAX_STEPS,
            "items": STEP_SCHEMA,
        },
        "window": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_WINDOW,
            "default": DEFAULT_WINDOW,
            "description": "seconds from a visitor's first step to its last",
        },
        "sampling": {
            "description": 'as the Stats API\'s: "auto" (default), "exact" or 0.01–1',
            "oneOf": [{"type": "string", "enum": ["auto", "exact"]}, {"type": "number"}],
        },
    },
}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "type": {"type": "string", "enum": ["page", "event"]},
                    "visitors": {"type": "integer"},
                    "conversion_rate": {"type": "number", "description": "% of step 1"},
                    "conversion_rate_step": {
                        "type": "number",
                        "description": "% of the previous step",
                    },
                    "dropoff": {"type": "integer", "description": "lost since the previous step"},
                    "dropoff_percentage": {"type": "number"},
                },
            },
        },
        "entered": {"type": "integer"},
        "converted": {"type": "integer"},
        "conversion_rate": {"type": "number"},
        "meta": {"type": "object"},
    },
}


class FunnelQueryView(TrailApiView):
    required_scope = Scope.STATS_READ.value
    parser_classes = [RawBody]

    @extend_schema(
        summary="Query a funnel",
        request={"application/json": REQUEST_SCHEMA},
        responses={
            200: OpenApiResponse(response=RESPONSE_SCHEMA, description="the funnel"),
            400: OpenApiResponse(description='{"error": "steps[2].pattern: ..."}'),
            404: OpenApiResponse(description="no such site for this key or user"),
        },
        examples=[
            OpenApiExample(
                "blog to signup",
                value={
                    "site_id": "example.com",
                    "date_range": "30d",
                    "steps": [
                        {"type": "page", "pattern": "/blog/*"},
                        {"type": "page", "pattern": "/pricing"},
                        {"type": "event", "name": "Signup"},
                    ],
                    "window": 1800,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body, site = body_and_site(request)
        query = funnels.parse(body, site=site, context=load_context(site, body))
        return Response(funnels.compute(site=site, query=query))
