"""`GET /api/v1/sites/{domain}/property-keys?event=&date_range=`: the custom property keys a
custom event's rows carry, most used first (reports/properties.py, what the dashboard's
custom events panel offers to break an event down by).

Scope `stats:read` for API keys (it reads events); signed-in members may call it for their
sites. `date_range` is the Stats API's: a preset ("30d", the default) or two dates
`YYYY-MM-DD,YYYY-MM-DD`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_shared import error_responses
from accounts.errors import ServiceError
from accounts.models import Scope
from reports.properties import MAX_KEYS, property_keys
from sites.selectors import site_get_for_actor
from sites.services import MAX_EVENT_NAME


class PropertyKeys(serializers.Serializer[object]):
    event = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField(), max_length=MAX_KEYS)


def date_range_of(request: Request) -> object:
    """The query's `date_range` as the Stats API takes it: `30d` (the default) stays a
    preset, `first,last` becomes its pair of dates."""
    raw = request.query_params.get("date_range") or "30d"
    if "," in raw:
        return [part.strip() for part in raw.split(",", 1)]
    return raw


DATE_RANGE = OpenApiParameter(
    "date_range",
    str,
    OpenApiParameter.QUERY,
    description='a preset ("day", "7d", "30d", "month", "6mo", "12mo", "year", "all";'
    ' default "30d") or "YYYY-MM-DD,YYYY-MM-DD", in the site\'s time zone',
    examples=[OpenApiExample("last 30 days", value="30d")],
)


class PropertyKeysView(TrailApiView):
    required_scope = Scope.STATS_READ

    @extend_schema(
        parameters=[
            OpenApiParameter("domain", str, OpenApiParameter.PATH, description="the site's domain"),
            OpenApiParameter(
                "event",
                str,
                OpenApiParameter.QUERY,
                required=True,
                description="a custom event's name (`pageview` for page views)",
            ),
            DATE_RANGE,
        ],
        responses={200: PropertyKeys, **error_responses(400, 404)},
        operation_id="site_property_keys",
        summary="Custom property keys seen",
        description=f"At most {MAX_KEYS}, by how many of the event's rows carry them.",
        examples=[
            OpenApiExample(
                "keys", value={"event": "Signup", "keys": ["plan", "referrer"]}, response_only=True
            )
        ],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        event = request.query_params.get("event", "")
        if not event or len(event) > MAX_EVENT_NAME:
            raise ServiceError(
                f"required: an event name of 1 to {MAX_EVENT_NAME} characters", field="event"
            )
        keys = property_keys(site=site, date_range=date_range_of(request), event=event)
        return Response({"event": event, "keys": keys})
