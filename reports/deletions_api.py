"""Deletion on request over the API and for the dashboard (docs/deletions.md):

- `POST /api/v1/sites/{domain}/deletions` `{"date_range", "filters", "preview": true}` →
  `200 {"rows": n}`, the events that would be deleted; without `preview` → `202` and a
  job of kind `deletion` (events/deletions.py does the work and keeps the audit entry);
- `GET /api/v1/deletions/{id}` → the job;
- `GET /api/v1/deletions` → the organization's audit entries (owners only).

The filter is compiled here, by the reports' query layer, as a raw export compiles it
(`reports.raw_export`: the site's local days, the Stats API's filters, `visit:*` ones through
the guarded sessions subquery); the job compiles it again from its parameters when it runs.
A request that would match every event of the site (no filters, `date_range` "all") must
say `"all": true`.

Who: API keys with `sites:manage`; signed-in owners and admins of the site's organization
(viewers 403). Another tenant's site or job is 404, as a made-up one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView, actor
from accounts.api_members import acting_user, organization_of
from accounts.api_shared import error_responses
from accounts.errors import Forbidden, NotFound, ServiceError
from accounts.models import Organization, Role, Scope, User
from accounts.selectors import membership_get
from events import data_jobs, deletions
from events.models import DataJob, DeletionAudit
from reports import raw_export
from reports.api import json_object
from reports.sql.builder import all_of
from reports.sql.catalog import Binder
from sites.models import Site
from sites.selectors import site_get_for_actor

FIELDS = ("date_range", "filters", "preview", "all")
MAX_BODY = 64 * 1024  # bytes: a deletion's filter is a few lines
MAX_FILTERS = 20
KIND = deletions.KIND
TooManyJobs = data_jobs.TooManyJobs


# --- the service (the API and the dashboard's page) -------------------------------------------


def _no_nul(value: Any, field: str) -> None:
    """A NUL anywhere in the filter is refused (no page or property holds one)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ServiceError("must not contain a NUL character", field=field)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item, field)


def check(
    site: Site, *, date_range: object, filters: object, everything: object = False
) -> tuple[list[str], list[Any]]:
    """The request's days (resolved now, `[first, last]` in the site's time zone) and
    filters; `ServiceError` naming the field on bad input or an unconfirmed delete-all."""
    if date_range is None or date_range == "":
        raise ServiceError(
            'required: "all", "30d", … or ["YYYY-MM-DD", "YYYY-MM-DD"]', field="date_range"
        )
    if filters is None:
        filters = []
    if not isinstance(filters, list):
        raise ServiceError("expected an array of the Stats API's filters", field="filters")
    if len(filters) > MAX_FILTERS:
        raise ServiceError(f"at most {MAX_FILTERS} filters", field="filters")
    if not isinstance(everything, bool):
        raise ServiceError("expected true or false", field="all")
    _no_nul(date_range, "date_range")
    _no_nul(filters, "filters")
    if not filters and date_range == "all" and not everything:
        raise ServiceError(
            'this would delete every event of the site: send "all": true to confirm,'
            " or narrow it with filters or a date range",
            field="all",
        )
    request = raw_export.parse_request(
        site, date_range=date_range, format="ndjson", filters=filters
    )
    return [request.span.first.isoformat(), request.span.last.isoformat()], filters


def condition(site: Site, *, date_range: Any, filters: Any) -> deletions.Condition:
    """The events of `site` the deletion is about, compiled as a raw export's WHERE."""
    request = raw_export.parse_request(
        site, date_range=date_range, format="ndjson", filters=filters
    )
    binder = Binder()
    compiled = all_of(raw_export.where_conditions(request, binder))
    params = {**binder.params, **compiled.params}
    return deletions.Condition(sql=compiled.sql, params=params)


def preview(site: Site, *, date_range: object, filters: object, everything: object = False) -> int:
    """How many events a deletion of this filter would delete now."""
    days, checked = check(site, date_range=date_range, filters=filters, everything=everything)
    return deletions.count(
        site_id=site.pk, condition=condition(site, date_range=days, filters=checked)
    )


def start(
    site: Site, *, actor: Any, date_range: object, filters: object, everything: object = False
) -> DataJob:
    """Queue the deletion (`TooManyJobs` when the organization's jobs are running)."""
    days, checked = check(site, date_range=date_range, filters=filters, everything=everything)
    job, _ = deletions.create(site=site, actor=actor, date_range=days, filters=checked)
    return job


def run_deletion(ctx: data_jobs.JobContext) -> None:
    """The `deletion` handler: the filter compiled again, the work done by events."""
    site = ctx.job.site
    if site is None or site.deleted_at is not None:
        raise LookupError("the site of this deletion was deleted (its events went with it)")
    parameters = ctx.parameters
    compiled = condition(site, date_range=parameters["date_range"], filters=parameters["filters"])
    deletions.execute(ctx, site=site, condition=compiled)


def register() -> None:
    data_jobs.register(KIND, run_deletion)


def describe(job: DataJob) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "kind": KIND,
        "status": job.status,
        "progress": round(job.progress, 4),
        "rows": job.rows,
        "error": job.error or None,
        "date_range": job.parameters.get("date_range"),
        "filters": job.parameters.get("filters"),
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def deletion_get_for_actor(*, actor: Any, deletion_id: object) -> DataJob:
    """A deletion job of a site the actor may change; anything else (another tenant's, a
    made-up id, another kind of job) is `NotFound`; a viewer's is `Forbidden`."""
    try:
        pk = uuid.UUID(str(deletion_id))
    except ValueError:
        raise NotFound("deletion") from None
    job = (
        DataJob.objects.filter(pk=pk, kind=KIND, site__isnull=False).select_related("site").first()
    )
    if job is None or job.site is None or job.site.organization_id != job.organization_id:
        raise NotFound("deletion")
    site_get_for_actor(actor=actor, domain=job.site.domain, write=True)
    return job


def audits_for_owner(*, organization: Organization, user: User) -> QuerySet[DeletionAudit]:
    """The organization's deletion audit entries, newest first; owners only."""
    membership = membership_get(user=user, organization_id=organization.pk)
    if membership is None:
        raise NotFound("organization")
    if membership.role != Role.OWNER:
        raise Forbidden("only the organization's owners can read its deletions")
    return (
        DeletionAudit.objects.filter(organization=organization)
        .select_related("job")
        .order_by("-created_at", "-pk")
    )


def audit_json(audit: DeletionAudit) -> dict[str, Any]:
    status = audit.status
    if audit.job is not None and audit.job.status == DataJob.Status.FAILED:
        status = DeletionAudit.Status.FAILED  # a job failed by recovery (a kill) left it running
    return {
        "id": audit.pk,
        "site": audit.domain,
        "actor": audit.actor,
        "date_range": audit.date_range,
        "filters": audit.filters,
        "rows": audit.rows,
        "visits": audit.visits,
        "status": status,
        "error": audit.error or (audit.job.error if audit.job is not None else "") or None,
        "created_at": _iso(audit.created_at),
        "finished_at": _iso(audit.finished_at),
        "job_id": str(audit.job_id) if audit.job_id else None,
    }


# --- the API ----------------------------------------------------------------------------------

REQUEST_SCHEMA = {
    "type": "object",
    "required": ["date_range"],
    "additionalProperties": False,
    "properties": {
        "date_range": {
            "description": 'as the Stats API: "day", "7d", "30d", "month", "12mo", "year", "all"'
            ' or ["YYYY-MM-DD", "YYYY-MM-DD"], in the site\'s time zone',
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ],
        },
        "filters": {
            "type": "array",
            "maxItems": MAX_FILTERS,
            "description": "the Stats API's filters, e.g. "
            '[["is", "event:props:user_id", ["123"]]] or [["is", "event:page", ["/x"]]]',
            "items": {},
        },
        "preview": {"type": "boolean", "description": "count only: nothing is deleted"},
        "all": {
            "type": "boolean",
            "description": 'required (true) when there are no filters and date_range is "all"',
        },
    },
}
STATUSES = [choice.value for choice in DataJob.Status]
JOB_SCHEMA = {
    "type": "object",
    "required": ["id", "status", "progress", "rows"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": [KIND]},
        "status": {"type": "string", "enum": STATUSES},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "rows": {"type": "integer", "description": "events deleted (once done)"},
        "error": {"type": "string", "nullable": True},
        "date_range": {"type": "array", "items": {"type": "string", "format": "date"}},
        "filters": {"type": "array", "items": {}},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}
AUDIT_SCHEMA = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "site": {"type": "string"},
                    "actor": {"type": "string"},
                    "date_range": {"type": "array", "items": {"type": "string"}},
                    "filters": {"type": "array", "items": {}},
                    "rows": {"type": "integer"},
                    "visits": {"type": "integer"},
                    "status": {"type": "string"},
                    "error": {"type": "string", "nullable": True},
                    "created_at": {"type": "string", "format": "date-time"},
                    "finished_at": {"type": "string", "format": "date-time", "nullable": True},
                    "job_id": {"type": "string", "nullable": True},
                },
            },
        }
    },
}
AUDIT_LIMIT = 200


def _body(request: Request) -> dict[str, Any]:
    body = json_object(request, FIELDS)  # malformed or nested too deeply: said first
    if len(request.body) > MAX_BODY:
        raise ServiceError(f"larger than {MAX_BODY // 1024} KiB", field="body")
    if not isinstance(body.get("preview", False), bool):
        raise ServiceError("expected true or false", field="preview")
    return body


class DeletionCreateView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = [RawBody]

    @extend_schema(
        operation_id="deletion_create",
        summary="Delete a site's events matching a filter (or count them)",
        description="With `preview: true` answers how many events match; otherwise queues a"
        " deletion job (202) that deletes them, rewrites their visits and leaves an audit"
        " entry. docs/deletions.md.",
        request={"application/json": REQUEST_SCHEMA},
        responses={
            200: OpenApiResponse(
                response={"type": "object", "properties": {"rows": {"type": "integer"}}},
                description="the preview: events that would be deleted",
            ),
            202: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"type": "string"},
                        "url": {"type": "string", "format": "uri"},
                    },
                },
                description="queued",
            ),
            **error_responses(400, 404),
        },
        examples=[
            OpenApiExample(
                "Preview: one user's events",
                value={
                    "date_range": "all",
                    "filters": [["is", "event:props:user_id", ["123"]]],
                    "preview": True,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        who = actor(request)
        site = site_get_for_actor(actor=who, domain=domain, write=True)
        body = _body(request)
        asked = {
            "date_range": body.get("date_range"),
            "filters": body.get("filters"),
            "everything": body.get("all", False),
        }
        if body.get("preview"):
            return Response({"rows": preview(site, **asked)})
        try:
            job = start(site, actor=who, **asked)
        except TooManyJobs:
            return Response(
                {
                    "error": f"deletion: {data_jobs.MAX_ACTIVE_PER_ORGANIZATION} jobs of this"
                    " organization are queued or running; try again when one has finished"
                },
                status=429,
                headers={"Retry-After": str(data_jobs.RETRY_AFTER)},
            )
        url = request.build_absolute_uri(reverse("api-deletion", args=[job.pk]))
        return Response(
            {"id": str(job.pk), "status": job.status, "url": url},
            status=202,
            headers={"Location": url},
        )


class DeletionDetailView(TrailApiView):
    required_scope = Scope.SITES_MANAGE

    @extend_schema(
        operation_id="deletion_get",
        parameters=[
            OpenApiParameter("deletion_id", str, OpenApiParameter.PATH, description="the job's id")
        ],
        summary="A deletion job",
        responses={200: OpenApiResponse(response=JOB_SCHEMA), **error_responses(404)},
    )
    def get(self, request: Request, deletion_id: str) -> Response:
        job = deletion_get_for_actor(actor=actor(request), deletion_id=deletion_id)
        return Response(describe(job))


class DeletionAuditView(TrailApiView):
    required_scope = Scope.SITES_MANAGE

    @extend_schema(
        operation_id="deletion_audit_list",
        summary="The organization's deletions (owners)",
        description=f"The latest {AUDIT_LIMIT} audit entries, newest first. For an API key,"
        " its maker must be an owner of the key's organization now.",
        responses={200: OpenApiResponse(response=AUDIT_SCHEMA), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        audits = audits_for_owner(organization=organization, user=acting_user(request))
        return Response({"results": [audit_json(a) for a in audits[:AUDIT_LIMIT]]})


def audits_by_user(*, user: User) -> list[dict[str, Any]]:
    """The deletions a person asked for, for their own "Download my data"."""
    found = DeletionAudit.objects.filter(user=user).select_related("job").order_by("created_at")
    return [audit_json(a) for a in found]
