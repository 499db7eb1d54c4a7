"""Plausible's Sites API where Trail has the same operation, in Plausible's requests and
shapes, so that its clients work unchanged (docs/api.md):

    GET    /api/v1/sites/goals?site_id=          goals, paged: {"goals": […], "meta": {…}}
    PUT    /api/v1/sites/goals                   find or create a goal (POST alike)
    DELETE /api/v1/sites/goals/{goal_id}         site_id in the body or the query
    PUT    /api/v1/sites/shared-links            find or create a shared link by name

(`GET /api/v1/sites` pages as Plausible's and `/api/v1/sites/{site_id}` answers a superset of
Plausible's site: sites/api.py; custom properties and guests: sites/api_plausible_props.py and
sites/api_plausible_guests.py; decisions in docs/plausible-sites-api.md.) `site_id` is the
site's domain, as in Plausible. Errors are `{"error": "…"}` as Trail's, naming the field.
Same services, roles and scopes as Trail's own endpoints (sites/api_items.py).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_shared import PAGE_PARAMETERS, PageMeta, error_responses, object_id, paginate
from accounts.errors import NotFound, ServiceError
from accounts.models import Scope
from sites import selectors, services
from sites.api import PARSERS, Deleted
from sites.api_items import (
    GOAL_EXAMPLE,
    GoalSerializer,
    GoalWriteSerializer,
    goal_fields,
    goal_json,
    in_api_words,
    json_object,
    validated,
)
from sites.models import Site


def site_named(request: Request, data: Any, *, write: bool) -> Site:
    """The site of a body's or query's `site_id` (its domain), for this actor."""
    domain = data.get("site_id") if hasattr(data, "get") else None
    if not isinstance(domain, str) or not domain.strip():
        raise ServiceError("required: the site's domain", field="site_id")
    return selectors.site_get_for_actor(actor=actor(request), domain=domain, write=write)


def site_of_delete(request: Request) -> Site:
    """The site a Plausible DELETE names: `site_id` in the query, else in a JSON body (as
    Plausible's clients send it)."""
    data: Any = request.query_params
    if "site_id" not in data and request.body:
        data = json_object(request)
    return site_named(request, data, write=True)


SITE_ID = OpenApiParameter(
    "site_id", str, OpenApiParameter.QUERY, required=True, description="the site's domain"
)
SITE_ID_OF_DELETE = OpenApiParameter(
    "site_id",
    str,
    OpenApiParameter.QUERY,
    description="the site's domain (or in a JSON body, as Plausible's clients send)",
)
DELETED = OpenApiExample("deleted", value={"deleted": True}, response_only=True)


class PlausibleGoalsPage(serializers.Serializer[Any]):
    goals = GoalSerializer(many=True)
    meta = PageMeta()


class PlausibleGoalWrite(GoalWriteSerializer):
    site_id = serializers.CharField(max_length=2000, help_text="the site's domain")


class PlausibleGoalsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = PARSERS

    @extend_schema(
        parameters=[SITE_ID, *PAGE_PARAMETERS],
        responses={200: PlausibleGoalsPage, **error_responses(400, 404)},
        operation_id="plausible_goals_list",
        summary="List a site's goals (Plausible)",
        description="Newest first, 100 a page; Plausible's `GET /api/v1/sites/goals`.",
        examples=[
            OpenApiExample(
                "goals",
                value={
                    "goals": [GOAL_EXAMPLE],
                    "meta": {"after": None, "before": None, "limit": 100},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        site = site_named(request, request.query_params, write=False)
        goals, meta = paginate(
            selectors.goals_for_site(site=site), key="-id", params=request.query_params
        )
        return Response({"goals": [goal_json(goal, site) for goal in goals], "meta": meta})

    @extend_schema(
        request=PlausibleGoalWrite,
        responses={200: GoalSerializer, **error_responses(400, 404)},
        operation_id="plausible_goals_find_or_create",
        summary="Find or create a goal (Plausible)",
        description="The site's goal of this type and event name or page path, created if"
        " there is none; Plausible's `PUT /api/v1/sites/goals`.",
        examples=[
            OpenApiExample(
                "a custom event goal",
                value={"site_id": "example.com", "goal_type": "event", "event_name": "Signup"},
                request_only=True,
            ),
            OpenApiExample(
                "a page goal",
                value={"site_id": "example.com", "goal_type": "page", "page_path": "/thanks"},
                request_only=True,
            ),
            OpenApiExample("the goal", value=GOAL_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request) -> Response:
        body = json_object(request)
        site = site_named(request, body, write=True)
        data = validated(PlausibleGoalWrite(data=body))
        data.pop("site_id")
        fields = goal_fields(data)
        goal, _ = in_api_words(fields, lambda: services.goal_find_or_create(site=site, **fields))
        return Response(goal_json(goal, site))

    @extend_schema(
        request=PlausibleGoalWrite,
        responses={200: GoalSerializer, **error_responses(400, 404)},
        operation_id="plausible_goals_find_or_create_post",
        summary="Find or create a goal (Plausible, POST)",
        description="The same as `PUT /api/v1/sites/goals`: some of Plausible's published"
        " clients send POST. `200` whether the goal was found or made.",
        examples=[
            OpenApiExample(
                "a page goal",
                value={"site_id": "example.com", "goal_type": "page", "page_path": "/thanks"},
                request_only=True,
            ),
            OpenApiExample("the goal", value=GOAL_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        return self.put(request)


class PlausibleGoalView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = PARSERS

    @extend_schema(
        parameters=[
            OpenApiParameter("goal_id", int, OpenApiParameter.PATH, description="the goal's id"),
            SITE_ID_OF_DELETE,
        ],
        request=None,
        responses={200: Deleted, **error_responses(400, 404)},
        operation_id="plausible_goal_delete",
        summary="Delete a goal (Plausible)",
        examples=[DELETED],
    )
    def delete(self, request: Request, goal_id: str) -> Response:
        site = site_of_delete(request)
        goal = selectors.goal_get(site=site, goal_id=object_id(goal_id, "goal"))
        if goal is None:
            raise NotFound("goal")
        services.goal_delete(site=site, goal_id=goal.pk)
        return Response({"deleted": True})


class PlausibleLinkWrite(serializers.Serializer[Any]):
    site_id = serializers.CharField(max_length=2000, help_text="the site's domain")
    name = serializers.CharField(max_length=100)


class PlausibleLink(serializers.Serializer[Any]):
    name = serializers.CharField()
    url = serializers.CharField()


class PlausibleSharedLinksView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = PARSERS

    @extend_schema(
        request=PlausibleLinkWrite,
        responses={200: PlausibleLink, **error_responses(400, 404)},
        operation_id="plausible_shared_links_find_or_create",
        summary="Find or create a shared link (Plausible)",
        description="The site's shared link of this name, created (without a password) if"
        " there is none; Plausible's `PUT /api/v1/sites/shared-links`.",
        examples=[
            OpenApiExample(
                "a link", value={"site_id": "example.com", "name": "Wordpress"}, request_only=True
            ),
            OpenApiExample(
                "the link",
                value={
                    "name": "Wordpress",
                    "url": "https://trail.example.org/share/example.com?auth=Hk3v9QeJ0tWc2mYbXr8s",
                },
                response_only=True,
            ),
        ],
    )
    def put(self, request: Request) -> Response:
        body = json_object(request)
        site = site_named(request, body, write=True)
        data = validated(PlausibleLinkWrite(data=body))
        link, _ = services.shared_link_find_or_create(site=site, name=data["name"])
        return Response({"name": link.name, "url": selectors.shared_link_url(site=site, link=link)})
