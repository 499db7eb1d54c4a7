"""REST API of a site's email reports (docs/email-reports.md):

    GET/POST     /api/v1/sites/{domain}/email-reports
    GET/DELETE   /api/v1/sites/{domain}/email-reports/{id}

Scopes for API keys: `sites:read` to read, `sites:manage` to write; signed-in members read,
owners and admins write (as the site's goals). Another tenant's site is a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_members import acting_user
from accounts.api_shared import error_responses, object_id
from accounts.errors import NotFound, ServiceError
from accounts.models import Scope
from digests import services
from digests.models import EmailReport
from sites import selectors
from sites.api import DOMAIN
from sites.api_items import json_object
from sites.models import Site

FIELDS = ("email", "frequency", "week_start")


class EmailReportSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    frequency = serializers.ChoiceField(choices=["weekly", "monthly"])
    week_start = serializers.IntegerField(help_text="0: Monday, 6: Sunday")
    last_period = serializers.DateField(
        allow_null=True, help_text="the first day of the last period mailed (or skipped)"
    )
    created_at = serializers.DateTimeField()


class EmailReportWrite(serializers.Serializer[Any]):
    email = serializers.EmailField()
    frequency = serializers.ChoiceField(choices=["weekly", "monthly"])
    week_start = serializers.IntegerField(
        required=False, help_text="0: Monday (default), 6: Sunday"
    )


class EmailReportsList(serializers.Serializer[Any]):
    email_reports = EmailReportSerializer(many=True)


def report_json(report: EmailReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "email": report.email,
        "frequency": report.frequency,
        "week_start": report.week_start,
        "last_period": report.last_period.isoformat() if report.last_period else None,
        "created_at": report.created_at.isoformat().replace("+00:00", "Z"),
    }


EXAMPLE = {
    "id": 3,
    "email": "team@example.com",
    "frequency": "weekly",
    "week_start": 0,
    "last_period": "2026-11-30",
    "created_at": "2026-12-07T09:12:00Z",
}
REPORT_ID = OpenApiParameter("report_id", int, OpenApiParameter.PATH, description="the report's id")


def _report(site: Site, report_id: str) -> EmailReport:
    found = site.email_reports.filter(pk=object_id(report_id, "email report")).first()
    if found is None:
        raise NotFound("email report")
    return found


class SiteEmailReportsView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN],
        responses={200: EmailReportsList, **error_responses(404)},
        operation_id="site_email_reports_list",
        summary="A site's email reports",
        examples=[
            OpenApiExample("reports", value={"email_reports": [EXAMPLE]}, response_only=True)
        ],
    )
    def get(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response({"email_reports": [report_json(r) for r in site.email_reports.all()]})

    @extend_schema(
        parameters=[DOMAIN],
        request=EmailReportWrite,
        responses={201: EmailReportSerializer, **error_responses(400, 404)},
        operation_id="site_email_reports_create",
        summary="Mail a weekly or monthly report to an address",
        description="Any address, member or not; each mail has a one-click unsubscribe link."
        " The first report is the next whole week's or month's.",
        examples=[
            OpenApiExample(
                "weekly",
                value={"email": "team@example.com", "frequency": "weekly"},
                request_only=True,
            ),
            OpenApiExample("the report", value=EXAMPLE, response_only=True, status_codes=[201]),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        body = json_object(request)
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise ServiceError(f"unknown field; expected {', '.join(FIELDS)}", field=unknown[0])
        report = services.subscribe(
            site,
            email=body.get("email"),
            frequency=body.get("frequency"),
            week_start=body.get("week_start", 0),
            by=acting_user(request),
        )
        return Response(report_json(report), status=status.HTTP_201_CREATED)


class SiteEmailReportView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        parameters=[DOMAIN, REPORT_ID],
        responses={200: EmailReportSerializer, **error_responses(404)},
        operation_id="site_email_report_get",
        summary="One email report",
    )
    def get(self, request: Request, domain: str, report_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        return Response(report_json(_report(site, report_id)))

    @extend_schema(
        parameters=[DOMAIN, REPORT_ID],
        responses={204: None, **error_responses(404)},
        operation_id="site_email_report_delete",
        summary="Stop an email report",
    )
    def delete(self, request: Request, domain: str, report_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain, write=True)
        _report(site, report_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
