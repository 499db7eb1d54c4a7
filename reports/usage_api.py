"""`GET /api/v1/usage`: the organization's usage this month, as the usage page shows it
(docs/limits.md). Scope `stats:read`; a key limited to some sites sees no organization
totals (404), as those count every site."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView
from accounts.api_members import ORGANIZATION_ID, organization_of
from accounts.api_shared import error_responses
from accounts.errors import NotFound
from accounts.models import ApiKey, Scope
from reports.usage import Usage, usage_get


class DaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    events = serializers.IntegerField()


class SiteUsageSerializer(serializers.Serializer[Any]):
    domain = serializers.CharField()
    events = serializers.IntegerField()
    days = DaySerializer(many=True)


class UsageSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM, UTC")
    events = serializers.IntegerField()
    quota = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField(allow_null=True)
    quota_enforced = serializers.BooleanField()
    over_quota = serializers.BooleanField()
    counted_at = serializers.DateTimeField(allow_null=True)
    sites = SiteUsageSerializer(many=True)


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "month": f"{usage.month:%Y-%m}",
        "events": usage.events,
        "quota": usage.quota,
        "percent": usage.percent,
        "quota_enforced": usage.enforced,
        "over_quota": usage.over_quota,
        "counted_at": serializers.DateTimeField().to_representation(usage.counted_at)
        if usage.counted_at
        else None,
        "sites": [
            {
                "domain": site.domain,
                "events": site.total,
                "days": [
                    {"date": day.isoformat(), "events": n}
                    for day, n in zip(usage.days, site.per_day, strict=True)
                ],
            }
            for site in usage.sites
        ],
    }


class UsageView(TrailApiView):
    required_scope = Scope.STATS_READ

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        responses={200: UsageSerializer, **error_responses(400, 404)},
        operation_id="usage_get",
        summary="The organization's events this month, against its quota",
        examples=[
            OpenApiExample(
                "usage",
                value={
                    "month": "2026-12",
                    "events": 8120,
                    "quota": 10000,
                    "percent": 81,
                    "quota_enforced": False,
                    "over_quota": False,
                    "counted_at": "2026-12-07T12:05:00Z",
                    "sites": [
                        {
                            "domain": "example.com",
                            "events": 8120,
                            "days": [{"date": "2026-12-01", "events": 1200}],
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        if isinstance(request.auth, ApiKey) and request.auth.site_limited:
            raise NotFound("organization")
        return Response(usage_json(usage_get(organization=organization_of(request))))
