"""REST API for sites: `GET/POST /api/v1/sites`, `GET/PUT/DELETE /api/v1/sites/{domain}`
(the site's settings: time zone, hostnames, excluded IPs and paths, DNT/GPC, public,
retention of raw events).

Scopes for API keys: `sites:read` to read, `sites:manage` to write; signed-in users may call
it for their organizations (viewers read, owners and admins write). The list pages as
Plausible's Sites API does (`meta` with cursors), with Trail's site objects (docs/api.md).
A site object is a superset of Plausible's (`domain`, `timezone`, `custom_properties`), PUT
is Plausible's update and DELETE answers Plausible's `{"deleted": true}`, so Plausible's
clients work on these paths unchanged (docs/plausible-sites-api.md).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_shared import PAGE_PARAMETERS, PageMeta, error_responses, paginate
from accounts.errors import Forbidden, ServiceError
from accounts.models import CAN_MANAGE_SITES, ApiKey, Scope
from accounts.selectors import memberships_for_user
from common.strict_json import StrictJSONParser
from sites import selectors, services
from sites.models import Site


class SiteSerializer(serializers.ModelSerializer[Site]):
    organization_id = serializers.IntegerField(read_only=True)
    custom_properties = serializers.ListField(
        source="allowed_props",
        child=serializers.CharField(),
        read_only=True,
        help_text="Plausible's custom properties allowlist (`PUT /api/v1/sites/custom-props`)",
    )

    class Meta:
        model = Site
        fields = [
            "domain",
            "public_id",
            "organization_id",
            "timezone",
            "extra_hostnames",
            "excluded_ips",
            "excluded_paths",
            "honor_dnt",
            "is_public",
            "custom_properties",
            "retention_days",
            "created_at",
        ]
        read_only_fields = fields


class SiteWriteSerializer(serializers.Serializer[Any]):
    domain = serializers.CharField(max_length=2000)
    timezone = serializers.CharField(max_length=64, required=False)
    organization_id = serializers.IntegerField(
        required=False, help_text="for users in several organizations"
    )
    extra_hostnames = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=100
    )
    excluded_ips = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=100
    )
    excluded_paths = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=100
    )
    honor_dnt = serializers.BooleanField(
        required=False, help_text="drop events of browsers sending `DNT: 1` or `Sec-GPC: 1`"
    )
    is_public = serializers.BooleanField(
        required=False, help_text="anyone may see the dashboard at /share/<domain>"
    )
    retention_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        error_messages={
            "invalid": "expected a whole number of days, or null to keep raw events as long"
            " as allowed",
            "max_string_length": "expected a whole number of days",
        },
        help_text="days raw events are kept (1 to the instance's maximum); null: forever, or"
        " the instance's maximum when it has one. Rollups are kept regardless"
        " (docs/retention.md)",
    )


class Deleted(serializers.Serializer[Any]):
    deleted = serializers.BooleanField()


class SitePage(serializers.Serializer[Any]):
    sites = SiteSerializer(many=True)
    meta = PageMeta()


SITE_EXAMPLE = {
    "domain": "example.com",
    "public_id": "5f0c6e2a-8d5e-4c1b-9a57-2f7d0e1c9b43",
    "organization_id": 1,
    "timezone": "Europe/Berlin",
    "extra_hostnames": ["*.example.com"],
    "excluded_ips": ["203.0.113.0/24"],
    "excluded_paths": ["/admin/*"],
    "honor_dnt": True,
    "is_public": False,
    "custom_properties": ["plan"],
    "retention_days": None,
    "created_at": "2026-12-01T09:30:00Z",
}
ORGANIZATION_ID = OpenApiParameter(
    "organization_id",
    int,
    OpenApiParameter.QUERY,
    description="only this organization's sites (a signed-in member of several)",
)


# JSON, and the form bodies of Plausible's documentation (`curl -F domain=…`).
PARSERS = [StrictJSONParser, FormParser, MultiPartParser]


def _validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SiteListView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = PARSERS

    @extend_schema(
        parameters=[*PAGE_PARAMETERS, ORGANIZATION_ID],
        responses={200: SitePage, **error_responses(400)},
        operation_id="sites_list",
        summary="List the sites you can see",
        description="By domain, 100 a page (Plausible's Sites API pages the same way: pass"
        " `meta.after` as `after` for the next page).",
        examples=[
            OpenApiExample(
                "one page",
                value={
                    "sites": [SITE_EXAMPLE],
                    "meta": {"after": None, "before": None, "limit": 100},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        sites = selectors.sites_for_actor(actor=actor(request))
        organization_id = request.query_params.get("organization_id")
        if organization_id:
            if (
                not (organization_id.isascii() and organization_id.isdigit())
                or len(organization_id) > 18
            ):
                raise ServiceError("expected an organization's id", field="organization_id")
            sites = sites.filter(organization_id=int(organization_id))
        page, meta = paginate(sites, key="domain", params=request.query_params)
        return Response({"sites": SiteSerializer(page, many=True).data, "meta": meta})

    @extend_schema(
        request=SiteWriteSerializer,
        responses={201: SiteSerializer, **error_responses(400, 404)},
        operation_id="sites_create",
        summary="Register a site",
        examples=[
            OpenApiExample(
                "a site",
                value={"domain": "example.com", "timezone": "Europe/Berlin"},
                request_only=True,
            ),
            OpenApiExample("the site", value=SITE_EXAMPLE, response_only=True, status_codes=[201]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = _validated(SiteWriteSerializer(data=request.data))
        who = actor(request)
        organization_id = data.pop("organization_id", None)
        if organization_id is None and not isinstance(who, ApiKey):
            writable = [m for m in memberships_for_user(user=who) if m.role in CAN_MANAGE_SITES]
            if not writable:
                raise Forbidden("you are not an owner or admin of any organization")
            organization_id = writable[0].organization_id
        organization = selectors.organization_for_actor(
            actor=who, organization_id=organization_id, write=True
        )
        with transaction.atomic():
            site = services.site_create(
                organization=organization,
                domain=data.pop("domain"),
                timezone_name=data.pop("timezone", "UTC"),
                **data,
            )
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)


DOMAIN = OpenApiParameter(
    "domain",
    str,
    OpenApiParameter.PATH,
    description="the site's domain",
    examples=[OpenApiExample("a site", value="example.com")],
)


class SiteDetailView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ
    parser_classes = PARSERS

    @extend_schema(
        parameters=[DOMAIN],
        responses={200: SiteSerializer, **error_responses(404)},
        operation_id="site_get",
        summary="One site and its settings",
        examples=[OpenApiExample("a site", value=SITE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(SiteSerializer(site).data)

    @extend_schema(
        parameters=[DOMAIN],
        request=SiteWriteSerializer(partial=True),
        responses={200: SiteSerializer, **error_responses(400, 404)},
        operation_id="site_update",
        summary="Change a site's settings",
        description="Only the fields sent change: the domain, `timezone`, `extra_hostnames`,"
        " `excluded_ips` (addresses or CIDR ranges), `excluded_paths` (`*` wildcards),"
        " `honor_dnt` (DNT and GPC), `is_public`, `retention_days` (days raw events are kept,"
        " null: as long as the instance allows).",
        examples=[
            OpenApiExample(
                "settings",
                value={
                    "timezone": "Europe/Berlin",
                    "excluded_ips": ["203.0.113.0/24"],
                    "excluded_paths": ["/admin/*"],
                    "honor_dnt": True,
                },
                request_only=True,
            ),
            OpenApiExample("the site", value=SITE_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        data = _validated(SiteWriteSerializer(data=request.data, partial=True))
        if "organization_id" in data:
            raise ServiceError(
                "a site cannot move to another organization", field="organization_id"
            )
        with transaction.atomic():
            services.site_update(site=site, **data)
        return Response(SiteSerializer(site).data)

    @extend_schema(
        parameters=[DOMAIN],
        responses={200: Deleted, **error_responses(404)},
        operation_id="site_delete",
        summary="Delete a site and its events",
        description='Answers `{"deleted": true}` as Plausible\'s Sites API does (its clients'
        " read the body); the events are deleted by a job right after.",
        examples=[OpenApiExample("deleted", value={"deleted": True}, response_only=True)],
    )
    def delete(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        with transaction.atomic():
            services.site_delete(site=site)
        return Response({"deleted": True})
