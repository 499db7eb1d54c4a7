"""REST API for a site's goals, funnels and shared links, through the services and
selectors the dashboard's pages use:

    GET/POST          /api/v1/sites/{domain}/goals
    GET/PUT/DELETE    /api/v1/sites/{domain}/goals/{id}
    GET/POST          /api/v1/sites/{domain}/funnels
    GET/PUT/DELETE    /api/v1/sites/{domain}/funnels/{id}
    GET/POST          /api/v1/sites/{domain}/shared-links
    DELETE            /api/v1/sites/{domain}/shared-links/{id}

Scopes for API keys: `sites:read` to read, `sites:manage` to write. Signed-in members read;
owners and admins write. A goal is written and shown in the words of Plausible's Sites API
(`goal_type` "event" or "page", `event_name` or `page_path`), so both APIs share one shape;
a funnel's steps as the funnel query's (`{"type": "page", "pattern"}` or `{"type": "event",
"name"}`), so a saved funnel's steps can be sent to `/api/v1/funnels/query` as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_shared import error_responses, object_id
from accounts.errors import NotFound, ServiceError
from accounts.models import Scope
from sites import selectors, services
from sites.api import DOMAIN
from sites.funnels import (
    BODY,
    DEFAULT_WINDOW,
    MAX_STEPS,
    MAX_TEXT,
    MAX_WINDOW,
    MIN_STEPS,
    clean_steps,
    step_body,
)
from sites.models import Funnel, Goal, SharedLink, Site

T = TypeVar("T")


def json_object(request: Request) -> dict[str, Any]:
    """The request's body (JSON, or a form's fields) as a dict; else a 400 naming `body`."""
    data = request.data
    if hasattr(data, "dict"):  # a form's QueryDict: one value per field
        data = data.dict()
    if not isinstance(data, dict):
        raise ServiceError("expected a JSON object", field="body")
    return data


def validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Goals


class GoalSerializer(serializers.Serializer[Any]):
    """A goal as both APIs show it (Plausible's fields, and Trail's currency)."""

    id = serializers.IntegerField()
    display_name = serializers.CharField()
    goal_type = serializers.ChoiceField(choices=["event", "page"])
    event_name = serializers.CharField(allow_null=True)
    page_path = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True, help_text="ISO 4217 of a revenue goal")
    domain = serializers.CharField(help_text="the site's domain")


class GoalWriteSerializer(serializers.Serializer[Any]):
    goal_type = serializers.ChoiceField(choices=["event", "page"])
    event_name = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text='for goal_type "event"'
    )
    page_path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text='for goal_type "page": a path, `*` matches any characters',
    )
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    currency = serializers.CharField(
        required=False, allow_blank=True, max_length=10, help_text="ISO 4217, for revenue"
    )


def goal_json(goal: Goal, site: Site) -> dict[str, Any]:
    event = goal.kind == Goal.Kind.EVENT
    return {
        "id": goal.pk,
        "display_name": goal.display_name,
        "goal_type": "event" if event else "page",
        "event_name": goal.value if event else None,
        "page_path": None if event else goal.value,
        "currency": goal.currency or None,
        "domain": site.domain,
    }


def goal_fields(data: dict[str, Any]) -> dict[str, str]:
    """The services' goal fields for a body in the API's words."""
    event = data["goal_type"] == "event"
    value = data.get("event_name" if event else "page_path") or ""
    if not value.strip():
        field = "event_name" if event else "page_path"
        raise ServiceError(f"required for goal_type {data['goal_type']!r}", field=field)
    return {
        "kind": Goal.Kind.EVENT if event else Goal.Kind.PAGEVIEW,
        "value": value,
        "display_name": data.get("display_name") or "",
        "currency": data.get("currency") or "",
    }


def in_api_words(fields: dict[str, str], call: Callable[[], T]) -> T:
    """Run a goal service; its errors about `value`/`kind` name the API's field instead."""
    try:
        return call()
    except ServiceError as exc:
        if exc.field in ("value", "kind"):
            word = "event_name" if fields["kind"] == Goal.Kind.EVENT else "page_path"
            raise ServiceError(exc.message, field=word) from None
        raise


GOAL_EXAMPLE = {
    "id": 12,
    "display_name": "Signup",
    "goal_type": "event",
    "event_name": "Signup",
    "page_path": None,
    "currency": None,
    "domain": "example.com",
}
GOAL_REQUEST = OpenApiExample(
    "a custom event goal", value={"goal_type": "event", "event_name": "Signup"}, request_only=True
)
PAGE_GOAL_REQUEST = OpenApiExample(
    "a page goal",
    value={"goal_type": "page", "page_path": "/thanks/*", "display_name": "Thank-you pages"},
    request_only=True,
)


class GoalsList(serializers.Serializer[Any]):
    goals = GoalSerializer(many=True)


class SiteGoalsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN],
        responses={200: GoalsList, **error_responses(404)},
        operation_id="site_goals_list",
        summary="A site's goals",
        examples=[OpenApiExample("goals", value={"goals": [GOAL_EXAMPLE]}, response_only=True)],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        goals = [goal_json(goal, site) for goal in selectors.goals_for_site(site=site)]
        return Response({"goals": goals})

    @extend_schema(
        parameters=[DOMAIN],
        request=GoalWriteSerializer,
        responses={201: GoalSerializer, **error_responses(400, 404)},
        operation_id="site_goals_create",
        summary="Add a goal",
        description="A custom event goal (with `currency`: a revenue goal) or a page goal;"
        " the same goal twice is a 400 (`PUT /api/v1/sites/goals` finds it instead).",
        examples=[
            GOAL_REQUEST,
            PAGE_GOAL_REQUEST,
            OpenApiExample("the goal", value=GOAL_EXAMPLE, response_only=True, status_codes=[201]),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        fields = goal_fields(validated(GoalWriteSerializer(data=json_object(request))))
        goal = in_api_words(fields, lambda: services.goal_create(site=site, **fields))
        return Response(goal_json(goal, site), status=status.HTTP_201_CREATED)


GOAL_ID = OpenApiParameter(
    "goal_id",
    int,
    OpenApiParameter.PATH,
    description="the goal's id",
    examples=[OpenApiExample("a goal", value=12)],
)


def _goal(site: Site, goal_id: str) -> Goal:
    goal = selectors.goal_get(site=site, goal_id=object_id(goal_id, "goal"))
    if goal is None:
        raise NotFound("goal")
    return goal


class SiteGoalView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN, GOAL_ID],
        responses={200: GoalSerializer, **error_responses(404)},
        operation_id="site_goal_get",
        summary="One goal",
        examples=[OpenApiExample("a goal", value=GOAL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, domain: str, goal_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(goal_json(_goal(site, goal_id), site))

    @extend_schema(
        parameters=[DOMAIN, GOAL_ID],
        request=GoalWriteSerializer,
        responses={200: GoalSerializer, **error_responses(400, 404)},
        operation_id="site_goal_update",
        summary="Change a goal",
        description="The whole goal, as when adding it (what is left out is cleared).",
        examples=[GOAL_REQUEST, OpenApiExample("the goal", value=GOAL_EXAMPLE, response_only=True)],
    )
    def put(self, request: Request, domain: str, goal_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        goal = _goal(site, goal_id)
        fields = goal_fields(validated(GoalWriteSerializer(data=json_object(request))))
        goal = in_api_words(
            fields, lambda: services.goal_update(site=site, goal_id=goal.pk, **fields)
        )
        return Response(goal_json(goal, site))

    @extend_schema(
        parameters=[DOMAIN, GOAL_ID],
        responses={204: None, **error_responses(404)},
        operation_id="site_goal_delete",
        summary="Delete a goal",
    )
    def delete(self, request: Request, domain: str, goal_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        goal = _goal(site, goal_id)
        services.goal_delete(site=site, goal_id=goal.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Funnels

STEP_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type", "pattern"],
            "properties": {
                "type": {"type": "string", "enum": ["page"]},
                "pattern": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["type", "name"],
            "properties": {
                "type": {"type": "string", "enum": ["event"]},
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            },
            "additionalProperties": False,
        },
    ]
}
_FUNNEL_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": services.MAX_EVENT_NAME},
    "steps": {"type": "array", "minItems": MIN_STEPS, "maxItems": MAX_STEPS, "items": STEP_SCHEMA},
    "window": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_WINDOW,
        "default": DEFAULT_WINDOW,
        "description": "seconds from a visitor's first step to its last",
    },
}
FUNNEL_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name", "steps"],
    "properties": _FUNNEL_PROPERTIES,
}
FUNNEL_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "steps", "window", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        **_FUNNEL_PROPERTIES,
        "created_at": {"type": "string", "format": "date-time"},
    },
}
FUNNEL_EXAMPLE = {
    "id": 3,
    "name": "Blog to signup",
    "steps": [
        {"type": "page", "pattern": "/blog/*"},
        {"type": "page", "pattern": "/pricing"},
        {"type": "event", "name": "Signup"},
    ],
    "window": 1800,
    "created_at": "2026-12-01T09:30:00Z",
}
FUNNEL_REQUEST_EXAMPLE = OpenApiExample(
    "a funnel",
    value={key: FUNNEL_EXAMPLE[key] for key in ("name", "steps", "window")},
    request_only=True,
)


def funnel_json(funnel: Funnel) -> dict[str, Any]:
    return {
        "id": funnel.pk,
        "name": funnel.name,
        "steps": [step_body(step["type"], step["value"]) for step in funnel.steps],
        "window": funnel.window,
        "created_at": serializers.DateTimeField().to_representation(funnel.created_at),
    }


def funnel_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A body's name, steps (the query's shape, checked, then as a saved funnel keeps them)
    and window, for the services."""
    steps = [step.stored() for step in clean_steps(body.get("steps"), BODY)]
    name = body.get("name")
    if not isinstance(name, str):
        raise ServiceError("expected a string", field="name")
    return {"name": name, "steps": steps, "window": body.get("window", DEFAULT_WINDOW)}


def _funnel(site: Site, funnel_id: str) -> Funnel:
    funnel = selectors.funnel_get(site=site, funnel_id=object_id(funnel_id, "funnel"))
    if funnel is None:
        raise NotFound("funnel")
    return funnel


FUNNEL_ID = OpenApiParameter(
    "funnel_id",
    int,
    OpenApiParameter.PATH,
    description="the funnel's id",
    examples=[OpenApiExample("a funnel", value=3)],
)


class SiteFunnelsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN],
        responses={
            200: {
                "type": "object",
                "required": ["funnels"],
                "properties": {"funnels": {"type": "array", "items": FUNNEL_RESPONSE}},
            },
            **error_responses(404),
        },
        operation_id="site_funnels_list",
        summary="A site's saved funnels",
        description="Their steps can be sent to `POST /api/v1/funnels/query` as they are.",
        examples=[
            OpenApiExample("funnels", value={"funnels": [FUNNEL_EXAMPLE]}, response_only=True)
        ],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(
            {"funnels": [funnel_json(f) for f in selectors.funnels_for_site(site=site)]}
        )

    @extend_schema(
        parameters=[DOMAIN],
        request={"application/json": FUNNEL_REQUEST},
        responses={201: FUNNEL_RESPONSE, **error_responses(400, 404)},
        operation_id="site_funnels_create",
        summary="Save a funnel",
        examples=[
            FUNNEL_REQUEST_EXAMPLE,
            OpenApiExample(
                "the funnel", value=FUNNEL_EXAMPLE, response_only=True, status_codes=[201]
            ),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        with transaction.atomic():
            funnel = services.funnel_create(site=site, **funnel_fields(json_object(request)))
        return Response(funnel_json(funnel), status=status.HTTP_201_CREATED)


class SiteFunnelView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN, FUNNEL_ID],
        responses={200: FUNNEL_RESPONSE, **error_responses(404)},
        operation_id="site_funnel_get",
        summary="One saved funnel",
        examples=[OpenApiExample("a funnel", value=FUNNEL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, domain: str, funnel_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(funnel_json(_funnel(site, funnel_id)))

    @extend_schema(
        parameters=[DOMAIN, FUNNEL_ID],
        request={"application/json": FUNNEL_REQUEST},
        responses={200: FUNNEL_RESPONSE, **error_responses(400, 404)},
        operation_id="site_funnel_update",
        summary="Change a saved funnel",
        examples=[
            FUNNEL_REQUEST_EXAMPLE,
            OpenApiExample("the funnel", value=FUNNEL_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, domain: str, funnel_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        funnel = _funnel(site, funnel_id)
        funnel = services.funnel_update(
            site=site, funnel_id=funnel.pk, **funnel_fields(json_object(request))
        )
        return Response(funnel_json(funnel))

    @extend_schema(
        parameters=[DOMAIN, FUNNEL_ID],
        responses={204: None, **error_responses(404)},
        operation_id="site_funnel_delete",
        summary="Delete a saved funnel",
    )
    def delete(self, request: Request, domain: str, funnel_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        services.funnel_delete(site=site, funnel_id=_funnel(site, funnel_id).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Shared links


class SharedLinkSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="the read-only dashboard, for anyone with the link")
    has_password = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class SharedLinkWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        write_only=True,
        help_text="optional, at least 8 characters: asked before the dashboard shows",
    )


def link_json(link: SharedLink, site: Site) -> dict[str, Any]:
    return {
        "id": link.pk,
        "name": link.name,
        "url": selectors.shared_link_url(site=site, link=link),
        "has_password": link.has_password,
        "created_at": serializers.DateTimeField().to_representation(link.created_at),
    }


LINK_EXAMPLE = {
    "id": 7,
    "name": "Investors",
    "url": "https://trail.example.org/share/example.com?auth=Hk3v9QeJ0tWc2mYbXr8sLp1n",
    "has_password": True,
    "created_at": "2026-12-01T09:30:00Z",
}


class SharedLinksList(serializers.Serializer[Any]):
    shared_links = SharedLinkSerializer(many=True)


class SiteSharedLinksView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN],
        responses={200: SharedLinksList, **error_responses(404)},
        operation_id="site_shared_links_list",
        summary="A site's shared links",
        examples=[
            OpenApiExample("links", value={"shared_links": [LINK_EXAMPLE]}, response_only=True)
        ],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        links = [link_json(link, site) for link in selectors.shared_links_for_site(site=site)]
        return Response({"shared_links": links})

    @extend_schema(
        parameters=[DOMAIN],
        request=SharedLinkWriteSerializer,
        responses={201: SharedLinkSerializer, **error_responses(400, 404)},
        operation_id="site_shared_links_create",
        summary="Create a shared link",
        examples=[
            OpenApiExample(
                "a link with a password",
                value={"name": "Investors", "password": "correct horse battery"},
                request_only=True,
            ),
            OpenApiExample("the link", value=LINK_EXAMPLE, response_only=True, status_codes=[201]),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        data = validated(SharedLinkWriteSerializer(data=json_object(request)))
        link = services.shared_link_create(
            site=site, name=data.get("name", ""), password=data.get("password", "")
        )
        return Response(link_json(link, site), status=status.HTTP_201_CREATED)


class SiteSharedLinkView(TrailApiView):
    required_scope = Scope.SITES_MANAGE

    @extend_schema(
        parameters=[
            DOMAIN,
            OpenApiParameter(
                "link_id",
                int,
                OpenApiParameter.PATH,
                description="the link's id",
                examples=[OpenApiExample("a link", value=7)],
            ),
        ],
        responses={204: None, **error_responses(404)},
        operation_id="site_shared_link_delete",
        summary="Revoke a shared link",
    )
    def delete(self, request: Request, domain: str, link_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        link = selectors.shared_link_get(site=site, link_id=object_id(link_id, "link"))
        if link is None:
            raise NotFound("link")
        services.shared_link_delete(site=site, link_id=link.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
