"""Plausible's custom properties allowlist, in Plausible's requests and shapes:

    GET    /api/v1/sites/custom-props?site_id=       {"custom_properties": [{"property"}, …]}
    PUT    /api/v1/sites/custom-props                {site_id, property} -> {"created": true}
    DELETE /api/v1/sites/custom-props/{property}     site_id in the query or body
                                                     -> {"deleted": true}

Trail records the list (`Site.allowed_props`, also `custom_properties` of the site object);
events keep every property whatever the list holds, and reports list every key: the list is
a record for Plausible's clients, not a filter (docs/plausible-sites-api.md). Scopes as for
goals: `sites:read` to read, `sites:manage` to write.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView
from accounts.api_shared import error_responses
from accounts.models import Scope
from sites import services
from sites.api import PARSERS, Deleted
from sites.api_items import json_object, validated
from sites.api_plausible import DELETED, SITE_ID, SITE_ID_OF_DELETE, site_named, site_of_delete


class PlausibleProperty(serializers.Serializer[Any]):
    property = serializers.CharField()


class PlausiblePropertyList(serializers.Serializer[Any]):
    custom_properties = PlausibleProperty(many=True)


class PlausiblePropertyWrite(serializers.Serializer[Any]):
    site_id = serializers.CharField(max_length=2000, help_text="the site's domain")
    property = serializers.CharField(max_length=2000, help_text="a custom property's key")


class Created(serializers.Serializer[Any]):
    created = serializers.BooleanField()


def _property_list(keys: list[str]) -> dict[str, Any]:
    return {"custom_properties": [{"property": key} for key in keys]}


class PlausiblePropsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = PARSERS

    @extend_schema(
        parameters=[SITE_ID],
        responses={200: PlausiblePropertyList, **error_responses(400, 404)},
        operation_id="plausible_custom_props_list",
        summary="A site's custom properties allowlist (Plausible)",
        description="The keys recorded with `PUT /api/v1/sites/custom-props`, sorted.",
        examples=[
            OpenApiExample(
                "two keys",
                value={"custom_properties": [{"property": "author"}, {"property": "plan"}]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        site = site_named(request, request.query_params, write=False)
        return Response(_property_list(list(site.allowed_props)))

    @extend_schema(
        request=PlausiblePropertyWrite,
        responses={200: Created, **error_responses(400, 404)},
        operation_id="plausible_custom_props_add",
        summary="Allow a custom property (Plausible)",
        description="Records the key (once; sending it again changes nothing). Trail keeps"
        " every property of every event whether or not its key is recorded.",
        examples=[
            OpenApiExample(
                "a key", value={"site_id": "example.com", "property": "plan"}, request_only=True
            ),
            OpenApiExample("created", value={"created": True}, response_only=True),
        ],
    )
    def put(self, request: Request) -> Response:
        body = json_object(request)
        site = site_named(request, body, write=True)
        data = validated(PlausiblePropertyWrite(data=body))
        services.allowed_prop_add(site=site, key=data["property"])
        return Response({"created": True})


class PlausiblePropView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = PARSERS

    @extend_schema(
        parameters=[
            OpenApiParameter("property", str, OpenApiParameter.PATH, description="the key"),
            SITE_ID_OF_DELETE,
        ],
        request=None,
        responses={200: Deleted, **error_responses(400, 404)},
        operation_id="plausible_custom_prop_delete",
        summary="Take a custom property off the allowlist (Plausible)",
        description='`{"deleted": true}`, also when the key was not on the list (as'
        " Plausible); the events' properties stay.",
        examples=[DELETED],
    )
    def delete(self, request: Request, property: str) -> Response:  # noqa: A002 (Plausible's word)
        site = site_of_delete(request)
        services.allowed_prop_remove(site=site, key=property)
        return Response({"deleted": True})
