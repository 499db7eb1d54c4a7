"""REST API for sites: `GET/POST /api/v1/sites`, `GET/PUT/DELETE /api/v1/sites/{domain}`.

Scope `sites:manage` for API keys; signed-in users may call it for their organizations.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.errors import Forbidden, ServiceError
from accounts.models import CAN_MANAGE_SITES, ApiKey, Scope
from accounts.selectors import memberships_for_user
from sites import selectors, services
from sites.models import Site


class SiteSerializer(serializers.ModelSerializer[Site]):
    organization_id = serializers.IntegerField(read_only=True)

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
    honor_dnt = serializers.BooleanField(required=False)
    is_public = serializers.BooleanField(required=False)


def _validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SiteListView(TrailApiView):
    required_scope = Scope.SITES_MANAGE

    @extend_schema(responses=SiteSerializer(many=True), summary="List the sites you can see")
    def get(self, request: Request) -> Response:
        sites = selectors.sites_for_actor(actor=actor(request))
        return Response({"sites": SiteSerializer(sites, many=True).data})

    @extend_schema(
        request=SiteWriteSerializer, responses={201: SiteSerializer}, summary="Register a site"
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


DOMAIN = OpenApiParameter("domain", str, OpenApiParameter.PATH, description="the site's domain")


class SiteDetailView(TrailApiView):
    required_scope = Scope.SITES_MANAGE

    @extend_schema(parameters=[DOMAIN], responses=SiteSerializer, summary="One site")
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(SiteSerializer(site).data)

    @extend_schema(
        parameters=[DOMAIN],
        request=SiteWriteSerializer(partial=True),
        responses=SiteSerializer,
        summary="Change a site",
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
        parameters=[DOMAIN], responses={204: None}, summary="Delete a site and its events"
    )
    def delete(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        with transaction.atomic():
            services.site_delete(site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)
