"""REST API for a site's streaming destinations (docs/destinations.md):

    GET/POST          /api/v1/sites/{domain}/destinations
    GET/PATCH/DELETE  /api/v1/sites/{domain}/destinations/{id}

`POST {"type": "webhook", "url": "…", "secret": "…"}` or `{"type": "mixpanel", "token":
"…", "url": "…"}`; `PATCH {"state": "active"}` resumes a paused destination. Secrets and
tokens are never returned. Scopes for API keys: `sites:read` to read, `sites:manage` to
write; signed-in members read, owners and admins write. Another tenant's site, or a
destination of another site, is 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView, actor
from accounts.api_shared import error_responses
from accounts.errors import ServiceError
from accounts.models import Scope
from common import strict_json
from events.destinations import services
from sites.api import DOMAIN
from sites.selectors import site_get_for_actor

MAX_BODY = 16 * 1024

DESTINATION_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string", "enum": list(services.TYPES)},
        "url": {"type": "string"},
        "signed": {"type": "boolean", "nullable": True, "description": "webhooks: a secret"},
        "state": {"type": "string", "enum": list(services.STATES)},
        "paused_reason": {"type": "string", "nullable": True},
        "lag_seconds": {"type": "number", "description": "age of the oldest unsent event"},
        "pending_events": {"type": "integer"},
        "events_sent": {"type": "integer"},
        "last_success_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_error": {"type": "string", "nullable": True},
        "last_error_at": {"type": "string", "format": "date-time", "nullable": True},
        "failing_since": {"type": "string", "format": "date-time", "nullable": True},
        "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
WRITE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(services.TYPES)},
        "url": {"type": "string", "description": "http(s); Mixpanel: default its US /import"},
        "secret": {"type": "string", "description": "webhooks: signs X-Trail-Signature"},
        "token": {"type": "string", "description": "Mixpanel: the project token"},
        "state": {"type": "string", "enum": list(services.STATES)},
    },
}
DESTINATION_ID = OpenApiParameter(
    "destination_id", int, OpenApiParameter.PATH, description="the destination's id"
)


def _body(request: Request) -> dict[str, Any]:
    try:  # malformed or nested too deeply: said first
        body = strict_json.loads(request.body)
    except strict_json.InvalidJson as exc:
        raise ServiceError(exc.message, field="body") from None
    if len(request.body) > MAX_BODY:
        raise ServiceError(f"larger than {MAX_BODY // 1024} KiB", field="body")
    if not isinstance(body, dict):
        raise ServiceError("expected a JSON object", field="body")
    return body


class SiteDestinationsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = [RawBody]

    @extend_schema(
        parameters=[DOMAIN],
        operation_id="site_destinations_list",
        summary="A site's streaming destinations",
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {"destinations": {"type": "array", "items": DESTINATION_SCHEMA}},
                }
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        return Response({"destinations": services.describe_all(site=site)})

    @extend_schema(
        parameters=[DOMAIN],
        operation_id="site_destinations_create",
        summary="Stream a site's events to an HTTP endpoint or Mixpanel",
        description="Every event stored from now on is forwarded, at least once, in batches;"
        " the event id is the dedup id (`event_id` in NDJSON, `$insert_id` for Mixpanel).",
        request={"application/json": WRITE_SCHEMA},
        responses={201: OpenApiResponse(response=DESTINATION_SCHEMA), **error_responses(400, 404)},
        examples=[
            OpenApiExample(
                "webhook",
                value={"type": "webhook", "url": "https://hooks.example.com/trail", "secret": "s3"},
                request_only=True,
            ),
            OpenApiExample(
                "Mixpanel (EU)",
                value={
                    "type": "mixpanel",
                    "token": "0123456789abcdef",
                    "url": "https://api-eu.mixpanel.com/import",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        destination = services.destination_create(site=site, fields=_body(request))
        return Response(services.describe(destination), status=status.HTTP_201_CREATED)


class SiteDestinationView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = [RawBody]

    @extend_schema(
        parameters=[DOMAIN, DESTINATION_ID],
        operation_id="site_destination_get",
        summary="A destination: state, lag, last error",
        responses={200: OpenApiResponse(response=DESTINATION_SCHEMA), **error_responses(404)},
    )
    def get(self, request: Request, domain: str, destination_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        destination = services.destination_get(site=site, destination_id=destination_id)
        return Response(services.describe(destination))

    @extend_schema(
        parameters=[DOMAIN, DESTINATION_ID],
        operation_id="site_destination_update",
        summary="Pause, resume or change a destination",
        description='`{"state": "active"}` resumes: it continues from the oldest unsent event.',
        request={"application/json": WRITE_SCHEMA},
        responses={200: OpenApiResponse(response=DESTINATION_SCHEMA), **error_responses(400, 404)},
    )
    def patch(self, request: Request, domain: str, destination_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        fields = _body(request)
        destination = services.destination_get(site=site, destination_id=destination_id)
        destination = services.destination_update(destination=destination, fields=fields)
        return Response(services.describe(destination))

    @extend_schema(
        parameters=[DOMAIN, DESTINATION_ID],
        operation_id="site_destination_delete",
        summary="Delete a destination (its unsent events with it)",
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, domain: str, destination_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        destination = services.destination_get(site=site, destination_id=destination_id)
        services.destination_delete(destination=destination)
        return Response(status=status.HTTP_204_NO_CONTENT)
