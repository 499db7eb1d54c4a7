"""REST API for the organization's API keys, through the services the API keys page uses:

    GET     /api/v1/keys          the keys (never their secrets)
    POST    /api/v1/keys          a new key: its secret is in this answer, and only here
    DELETE  /api/v1/keys/{id}     revoke

Scopes: `members:read` to list, `members:manage` to create and revoke; organization and
acting person as for members (accounts/api_members.py). Here rather than in accounts because
a key may be limited to sites, named by domain and resolved by the site selector. A key made
by a key gets none of the scopes that key lacks; a key limited to sites cannot manage keys.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.api import TrailApiView, actor
from accounts.api_members import ORGANIZATION_ID, acting_user, organization_of
from accounts.api_shared import error_responses, object_id
from accounts.errors import NotFound
from accounts.models import ApiKey, Scope
from sites import selectors
from sites.models import Site


class ApiKeySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="the key starts trail_<prefix>_")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    sites = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="the domains a limited key may use; null: every site of the organization",
    )
    created_by = serializers.EmailField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class NewApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="the key itself: shown in this answer only")


class ApiKeyWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=2000)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), min_length=1, max_length=20
    )
    sites = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        required=False,
        max_length=1000,
        help_text="limit the key to these sites (domains); leave out for every site",
    )


def key_json(key: ApiKey) -> dict[str, Any]:
    when = serializers.DateTimeField()
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "sites": sorted(site.domain for site in key.sites.all() if site.deleted_at is None)
        if key.site_limited
        else None,
        "created_by": key.created_by.email if key.created_by else None,
        "created_at": when.to_representation(key.created_at),
        "last_used_at": when.to_representation(key.last_used_at) if key.last_used_at else None,
        "revoked_at": when.to_representation(key.revoked_at) if key.revoked_at else None,
    }


KEY_EXAMPLE = {
    "id": 5,
    "name": "Reporting script",
    "prefix": "Xq81LmZp",
    "scopes": ["stats:read"],
    "sites": ["example.com"],
    "created_by": "ada@example.com",
    "created_at": "2026-12-01T09:30:00Z",
    "last_used_at": None,
    "revoked_at": None,
}


class ApiKeysList(serializers.Serializer[Any]):
    keys = ApiKeySerializer(many=True)


class ApiKeysView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE
    read_scope = Scope.MEMBERS_READ

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        responses={200: ApiKeysList, **error_responses(400, 404)},
        operation_id="keys_list",
        summary="The organization's API keys",
        description="Revoked keys too, newest first; never a key's secret.",
        examples=[OpenApiExample("keys", value={"keys": [KEY_EXAMPLE]}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        keys = account_selectors.api_keys_for_organization(organization=organization_of(request))
        return Response({"keys": [key_json(key) for key in keys]})

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        request=ApiKeyWriteSerializer,
        responses={201: NewApiKeySerializer, **error_responses(400, 404)},
        operation_id="keys_create",
        summary="Create an API key",
        description="The answer's `key` is the only time the key is shown: store it."
        " Owners and admins create keys.",
        examples=[
            OpenApiExample(
                "a read-only key for one site",
                value={
                    "name": "Reporting script",
                    "scopes": ["stats:read"],
                    "sites": ["example.com"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "the key",
                value={**KEY_EXAMPLE, "key": "trail_Xq81LmZp_Yc0dR4nK9wq2Vt7sLb3mHa6eJf1uPz8x"},
                response_only=True,
                status_codes=[201],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        organization = organization_of(request)
        serializer = ApiKeyWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sites = _sites(request, data.get("sites", []))
        granting = request.auth if isinstance(request.auth, ApiKey) else None
        with transaction.atomic():
            key, raw = account_services.api_key_create(
                organization=organization,
                actor=acting_user(request),
                name=data["name"],
                scopes=data["scopes"],
                sites=sites,
                granting_key=granting,
            )
        return Response({**key_json(key), "key": raw}, status=status.HTTP_201_CREATED)


def _sites(request: Request, domains: list[str]) -> list[Site]:
    """The sites named, each resolved for this actor (an unknown one: 404)."""
    return [selectors.site_get_for_actor(actor=actor(request), domain=d) for d in domains]


class ApiKeyView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "key_id",
                int,
                OpenApiParameter.PATH,
                description="the key's id",
                examples=[OpenApiExample("a key", value=5)],
            ),
            ORGANIZATION_ID,
        ],
        responses={204: None, **error_responses(400, 404)},
        operation_id="key_delete",
        summary="Revoke an API key",
        description="At once and for good; the key stays listed as revoked.",
    )
    def delete(self, request: Request, key_id: str) -> Response:
        organization = organization_of(request)
        key = account_selectors.api_key_get(
            organization=organization, key_id=object_id(key_id, "key")
        )
        if key is None:
            raise NotFound("key")
        account_services.api_key_revoke(key=key, actor=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
