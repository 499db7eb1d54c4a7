"""REST API for a site's alert rules (docs/alerts.md):

    GET/POST            /api/v1/sites/{domain}/alerts
    GET/PATCH/DELETE    /api/v1/sites/{domain}/alerts/{id}
    GET                 /api/v1/sites/{domain}/alerts/{id}/firings
    POST                /api/v1/sites/{domain}/alerts/{id}/test

Who: as the other site APIs — API keys with `sites:read` to read and `sites:manage` to
write; signed-in members read, owners and admins write; another tenant's site or rule is
404, as a made-up one. Bad input is a 400 naming the field (`metric`, `window`,
`filters[0][1]`, `channels[1].url`…). A webhook's secret is never shown again.
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
from alerts import evaluate, rules
from alerts.models import AlertFiring, AlertRule
from notify.models import Delivery
from reports.api import json_object
from sites.api import DOMAIN
from sites.selectors import site_get_for_actor

MAX_BODY = 64 * 1024  # bytes: a rule is a few lines
FIRINGS_LISTED = 100

RULE_ID = OpenApiParameter("alert_id", int, OpenApiParameter.PATH, description="the rule's id")
EXAMPLE_REQUEST = {
    "name": "spike",
    "metric": "visitors",
    "window": "5m",
    "condition": "above",
    "threshold": 3,
    "filters": [],
    "channels": [
        {"type": "email", "to": "ops@example.com"},
        {"type": "webhook", "url": "https://hooks.example.com/trail", "secret": "s3cret-value"},
    ],
}
CHANNEL_SCHEMA = {
    "type": "object",
    "description": '{"type": "email", "to": "…"} or {"type": "webhook", "url": "…", "secret":'
    ' "…", "format": "json" | "slack"}; a secret is never shown back',
    "properties": {
        "type": {"type": "string", "enum": ["email", "webhook"]},
        "to": {"type": "string"},
        "url": {"type": "string", "format": "uri"},
        "secret": {"type": "string", "writeOnly": True},
        "format": {"type": "string", "enum": ["json", "slack"]},
    },
}
REQUEST_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": list(rules.REQUIRED),
    "properties": {
        "name": {"type": "string", "maxLength": rules.MAX_NAME},
        "metric": {"type": "string", "enum": list(rules.METRICS)},
        "goal": {
            "oneOf": [{"type": "string"}, {"type": "integer"}],
            "description": "conversions / conversion_rate: the goal's name or id",
        },
        "filters": {
            "type": "array",
            "maxItems": rules.MAX_FILTERS,
            "items": {},
            "description": "the Stats API's filters",
        },
        "window": {
            "type": "string",
            "pattern": "^[1-9][0-9]*[mhd]$",
            "description": 'the last N minutes, hours or days: "5m", "2h", "7d" (≤ 31 days;'
            ' current_visitors: "5m")',
        },
        "condition": {"type": "string", "enum": list(rules.CONDITIONS)},
        "threshold": {
            "type": "number",
            "description": "a value (above/below) or a percentage (change_up/change_down)",
        },
        "cooldown": {
            "type": "integer",
            "minimum": 0,
            "maximum": rules.MAX_COOLDOWN,
            "description": f"minutes without a repeat (default {rules.DEFAULT_COOLDOWN})",
        },
        "channels": {"type": "array", "maxItems": rules.MAX_CHANNELS, "items": CHANNEL_SCHEMA},
        "enabled": {"type": "boolean"},
    },
}
PATCH_SCHEMA = {key: value for key, value in REQUEST_SCHEMA.items() if key != "required"}
RULE_SCHEMA = {
    "type": "object",
    "properties": {
        **REQUEST_SCHEMA["properties"],  # type: ignore[dict-item]
        "id": {"type": "integer"},
        "goal": {"type": "string", "nullable": True},
        "state": {"type": "string", "enum": ["ok", "firing"]},
        "last_value": {"type": "number", "nullable": True},
        "last_baseline": {"type": "number", "nullable": True},
        "last_evaluated_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_fired_at": {"type": "string", "format": "date-time", "nullable": True},
        "error": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
FIRING_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": [k.value for k in AlertFiring.Kind]},
        "value": {"type": "number", "nullable": True},
        "threshold": {"type": "number", "nullable": True},
        "baseline": {"type": "number", "nullable": True},
        "at": {"type": "string", "format": "date-time"},
        "deliveries": {"type": "array", "items": {"type": "object"}},
    },
}


def _body(request: Request) -> dict[str, Any]:
    body = json_object(request, rules.FIELDS)  # malformed or nested too deeply: said first
    if len(request.body) > MAX_BODY:
        raise ServiceError(f"larger than {MAX_BODY // 1024} KiB", field="body")
    return body


def deliveries_of(firings: list[AlertFiring]) -> dict[str, Delivery]:
    """notify's deliveries of these firings, by id (one query)."""
    ids = {pk for firing in firings for pk in firing.deliveries}
    return {str(d.pk): d for d in Delivery.objects.filter(pk__in=ids)} if ids else {}


class AlertsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = [RawBody]

    @extend_schema(
        parameters=[DOMAIN],
        operation_id="site_alerts_list",
        summary="A site's alert rules",
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {"alerts": {"type": "array", "items": RULE_SCHEMA}},
                }
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        found = AlertRule.objects.filter(site=site).order_by("pk")
        return Response({"alerts": [rules.rule_json(rule) for rule in found]})

    @extend_schema(
        parameters=[DOMAIN],
        operation_id="site_alerts_create",
        summary="Add an alert rule",
        description="A metric over the last N minutes, hours or days, above/below a threshold"
        " or changed by ±X % against the window before; evaluated every minute, it fires once"
        " when it starts to hold and once when it clears (docs/alerts.md).",
        request={"application/json": REQUEST_SCHEMA},
        responses={201: OpenApiResponse(response=RULE_SCHEMA), **error_responses(400, 404)},
        examples=[OpenApiExample("a traffic spike", value=EXAMPLE_REQUEST, request_only=True)],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        rule = rules.rule_create(site=site, body=_body(request))
        return Response(rules.rule_json(rule), status=status.HTTP_201_CREATED)


class AlertView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = [RawBody]

    @extend_schema(
        parameters=[DOMAIN, RULE_ID],
        operation_id="site_alert_get",
        summary="One alert rule",
        responses={200: OpenApiResponse(response=RULE_SCHEMA), **error_responses(404)},
    )
    def get(self, request: Request, domain: str, alert_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        return Response(rules.rule_json(rules.rule_get(site=site, rule_id=alert_id)))

    @extend_schema(
        parameters=[DOMAIN, RULE_ID],
        operation_id="site_alert_update",
        summary="Change an alert rule",
        description="The fields given; a change of what it watches starts it again from ok."
        " `channels`, when given, replaces all of them (secrets included).",
        request={"application/json": PATCH_SCHEMA},
        responses={200: OpenApiResponse(response=RULE_SCHEMA), **error_responses(400, 404)},
    )
    def patch(self, request: Request, domain: str, alert_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        body = _body(request)  # a malformed body is said first, as on create
        rule = rules.rule_get(site=site, rule_id=alert_id)
        rule = rules.rule_update(rule=rule, body=body)
        return Response(rules.rule_json(rule))

    @extend_schema(
        parameters=[DOMAIN, RULE_ID],
        operation_id="site_alert_delete",
        summary="Delete an alert rule (and its firings)",
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, domain: str, alert_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        rules.rule_get(site=site, rule_id=alert_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertFiringsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN, RULE_ID],
        operation_id="site_alert_firings",
        summary="What a rule sent",
        description=f"The latest {FIRINGS_LISTED} firings, newest first, each with its"
        " deliveries' status (notify's delivery log).",
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {"firings": {"type": "array", "items": FIRING_SCHEMA}},
                }
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, domain: str, alert_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        rule = rules.rule_get(site=site, rule_id=alert_id)
        firings = list(rule.firings.order_by("-at", "-pk")[:FIRINGS_LISTED])
        found = deliveries_of(firings)
        return Response({"firings": [rules.firing_json(f, found) for f in firings]})


class AlertTestView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = [RawBody]

    @extend_schema(
        parameters=[DOMAIN, RULE_ID],
        request=None,
        operation_id="site_alert_test",
        summary="Send a test message through the rule's channels",
        responses={201: OpenApiResponse(response=FIRING_SCHEMA), **error_responses(400, 404)},
    )
    def post(self, request: Request, domain: str, alert_id: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        rule = rules.rule_get(site=site, rule_id=alert_id)
        if not rule.channels:
            raise ServiceError("this rule has no channel to send through", field="channels")
        firing = evaluate.send_test(rule)
        return Response(
            rules.firing_json(firing, deliveries_of([firing])), status=status.HTTP_201_CREATED
        )
