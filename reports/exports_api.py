"""Export jobs over the API (docs/exports.md, "Export jobs"):

- `POST /api/v1/sites/{domain}/exports` `{"kind", "format", "date_range", "filters"}` → 202;
- `GET /api/v1/exports/{id}` → the job: status, progress, rows, bytes, error, download URL;
- `GET /api/v1/exports/{id}/download` → the file (410 once expired);
- `DELETE /api/v1/exports/{id}` → cancels a queued or running job, removes a finished one.

Scope `stats:read` for API keys; signed-in members (any role) for their sites. Another
tenant's site or export is 404, as a made-up one.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView, actor
from accounts.errors import ServiceError
from accounts.models import Scope
from events import data_jobs
from events.models import DataJob
from reports import export_jobs, raw_export
from reports.api import json_object
from reports.stats_schema import ERROR_SCHEMA
from sites.selectors import site_get_for_actor

FIELDS = ("kind", "format", "date_range", "filters")
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["kind", "date_range"],
    "additionalProperties": False,
    "properties": {
        "kind": {
            "type": "string",
            "enum": list(export_jobs.KINDS),
            "description": "`events`: every stored event of the range (docs/exports.md, the"
            " column set); `report`: the dashboard's zip of CSVs, every panel and the time"
            " series",
        },
        "format": {
            "type": "string",
            "enum": [*raw_export.FORMATS, *export_jobs.REPORT_FORMATS],
            "description": "`ndjson`, `csv` or `parquet` for events (required); `zip` (the"
            " default) for a report",
        },
        "date_range": {
            "description": 'as the Stats API: "day", "7d", "30d", "month", "6mo", "12mo",'
            ' "year", "all" or ["YYYY-MM-DD", "YYYY-MM-DD"], in the site\'s time zone',
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ],
        },
        "filters": {
            "type": "array",
            "description": "the Stats API's filters, e.g. "
            '[["is", "visit:country", ["DE"]], ["contains", "event:page", ["/blog"]]]',
            "items": {},
        },
    },
}
DOWNLOAD_TYPES = sorted(
    {fmt.content_type for fmt in raw_export.FORMATS.values()} | {"application/zip"}
)
STATUSES = [choice.value for choice in DataJob.Status]
JOB_SCHEMA = {
    "type": "object",
    "required": ["id", "status", "progress", "rows", "bytes"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": list(export_jobs.KINDS)},
        "format": {"type": "string", "nullable": True},
        "date_range": {
            "type": "array",
            "items": {"type": "string", "format": "date"},
            "nullable": True,
            "description": "the days exported, resolved when the job was created",
        },
        "status": {"type": "string", "enum": STATUSES},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "rows": {"type": "integer", "description": "events (events) or CSV rows (report)"},
        "bytes": {"type": "integer", "description": "the file's size so far"},
        "error": {"type": "string", "nullable": True, "description": "why it failed"},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "expires_at": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "when the file is deleted (TRAIL_EXPORT_TTL_DAYS after it finished)",
        },
        "file_name": {"type": "string", "nullable": True},
        "download_url": {"type": "string", "format": "uri", "nullable": True},
    },
}
CREATED_SCHEMA = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["queued"]},
        "url": {"type": "string", "format": "uri", "description": "the job (GET it)"},
    },
}
JOB_EXAMPLE = {
    "id": "0b7f2c3e-5d0a-4c41-9a57-8d1f0e6b2a10",
    "kind": "events",
    "format": "parquet",
    "date_range": ["2026-11-01", "2026-11-30"],
    "status": "done",
    "progress": 1.0,
    "rows": 1204331,
    "bytes": 48172213,
    "error": None,
    "created_at": "2026-12-01T09:30:00.120000Z",
    "finished_at": "2026-12-01T09:30:04.871000Z",
    "expires_at": "2026-12-08T09:30:04.871000Z",
    "file_name": "example.com-events-2026-11-01-2026-11-30.parquet",
    "download_url": "https://trail.example.com/api/v1/exports/0b7f2c3e-5d0a-4c41-9a57-8d1f0e6b2a10/download",
}
ERRORS = {
    401: OpenApiResponse(response=ERROR_SCHEMA, description="no or a wrong API key"),
    403: OpenApiResponse(response=ERROR_SCHEMA, description="the key lacks stats:read"),
    404: OpenApiResponse(response=ERROR_SCHEMA, description="no such export for this key or user"),
    429: OpenApiResponse(
        response=ERROR_SCHEMA, description="over the key's rate limit (Retry-After)"
    ),
}


def job_json(request: Request, job: DataJob) -> dict[str, Any]:
    found = export_jobs.describe(job)
    found["download_url"] = (
        request.build_absolute_uri(reverse("api-export-download", args=[job.pk]))
        if job.status == DataJob.Status.DONE
        else None
    )
    return found


def too_many(field: str, jobs: str) -> Response:
    """`429` when the organization's data jobs are at `data_jobs.MAX_ACTIVE_PER_ORGANIZATION`
    (exports and imports share the bound); `field` names what was asked, `jobs` the jobs
    counted in the message."""
    return Response(
        {
            "error": f"{field}: {data_jobs.MAX_ACTIVE_PER_ORGANIZATION} {jobs} of this"
            " organization are queued or running; try again when one has finished"
        },
        status=429,
        headers={"Retry-After": str(data_jobs.RETRY_AFTER)},
    )


class ExportCreateView(TrailApiView):
    required_scope = Scope.STATS_READ
    parser_classes = [RawBody]

    @extend_schema(
        operation_id="export_create",
        summary="Start an export",
        description="Queues an export job of the site and answers at once; poll the job's"
        " URL for its progress, then download the file. At most"
        f" {data_jobs.MAX_ACTIVE_PER_ORGANIZATION} exports of an organization are queued or"
        " running at a time (429 with Retry-After beyond).",
        request={"application/json": REQUEST_SCHEMA},
        responses={
            202: OpenApiResponse(response=CREATED_SCHEMA, description="queued"),
            400: OpenApiResponse(response=ERROR_SCHEMA, description="a bad field, named"),
            **{code: answer for code, answer in ERRORS.items() if code != 429},
            429: OpenApiResponse(
                response=ERROR_SCHEMA,
                description="too many exports running, or over the key's rate limit (Retry-After)",
            ),
        },
        examples=[
            OpenApiExample(
                "A month of events as Parquet",
                value={"kind": "events", "format": "parquet", "date_range": "month"},
                request_only=True,
            ),
            OpenApiExample(
                "The report of German visitors as a zip",
                value={
                    "kind": "report",
                    "date_range": ["2026-11-01", "2026-11-30"],
                    "filters": [["is", "visit:country", ["DE"]]],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued",
                value={
                    "id": JOB_EXAMPLE["id"],
                    "status": "queued",
                    "url": f"https://trail.example.com/api/v1/exports/{JOB_EXAMPLE['id']}",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain)
        body = _body(request)
        try:
            job = export_jobs.start(site=site, actor=actor(request), **body)
        except data_jobs.TooManyJobs:
            return too_many("export", "exports")
        url = request.build_absolute_uri(reverse("api-export", args=[job.pk]))
        return Response(
            {"id": str(job.pk), "status": job.status, "url": url},
            status=202,
            headers={"Location": url},
        )


def _body(request: Request) -> dict[str, Any]:
    body = json_object(request, FIELDS)
    if "kind" not in body:
        raise ServiceError("required: events or report", field="kind")
    return {name: body[name] for name in FIELDS if name in body}


EXPORT_ID = OpenApiParameter(
    "export_id",
    str,
    OpenApiParameter.PATH,
    description="the export's id (`id` of its job)",
    examples=[OpenApiExample("an export", value=JOB_EXAMPLE["id"])],
)


class ExportDetailView(TrailApiView):
    required_scope = Scope.STATS_READ

    @extend_schema(
        operation_id="export_get",
        parameters=[EXPORT_ID],
        summary="An export's status",
        responses={200: OpenApiResponse(response=JOB_SCHEMA, description="the job"), **ERRORS},
        examples=[OpenApiExample("Done", value=JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, export_id: str) -> Response:
        job = export_jobs.export_get_for_actor(actor=actor(request), export_id=export_id)
        return Response(job_json(request, job))

    @extend_schema(
        operation_id="export_delete",
        parameters=[EXPORT_ID],
        summary="Cancel or remove an export",
        description="A queued or running export is cancelled (its status becomes"
        " `cancelled`, what it wrote is deleted); a finished one is removed with its file.",
        responses={204: OpenApiResponse(description="cancelled or removed"), **ERRORS},
    )
    def delete(self, request: Request, export_id: str) -> Response:
        job = export_jobs.export_get_for_actor(actor=actor(request), export_id=export_id)
        export_jobs.cancel_or_remove(job)
        return Response(status=204)


class ExportDownloadView(TrailApiView):
    required_scope = Scope.STATS_READ

    @extend_schema(
        operation_id="export_download",
        parameters=[EXPORT_ID],
        summary="Download an export's file",
        responses={
            **{
                (200, media): OpenApiResponse(
                    response={"type": "string", "format": "binary"},
                    description="the file: Parquet, NDJSON, CSV or a zip of CSVs"
                    " (Content-Disposition names it)",
                )
                for media in DOWNLOAD_TYPES
            },
            409: OpenApiResponse(response=ERROR_SCHEMA, description="not finished, or failed"),
            410: OpenApiResponse(response=ERROR_SCHEMA, description="expired: its file is gone"),
            **ERRORS,
        },
    )
    def get(self, request: Request, export_id: str) -> HttpResponseBase:
        job = export_jobs.export_get_for_actor(actor=actor(request), export_id=export_id)
        return download(job)


def download(job: DataJob) -> HttpResponseBase:
    """The file of a finished export; 410 once expired, 409 before it is done. (The
    dashboard's download answers the same.)"""
    storage = data_jobs.storage()
    if job.status == DataJob.Status.EXPIRED or (
        job.status == DataJob.Status.DONE and not storage.exists(job.result_name)
    ):
        return JsonResponse(
            {"error": "export: expired, its file was deleted; start the export again"},
            status=410,
        )
    if job.status != DataJob.Status.DONE:
        reason = f" ({job.error})" if job.error else ""
        return JsonResponse({"error": f"export: {job.status}{reason}, no file"}, status=409)
    return FileResponse(
        storage.open(job.result_name, "rb"),
        as_attachment=True,
        filename=job.file_name,
        content_type=content_type(job),
    )


def content_type(job: DataJob) -> str:
    fmt = str(job.parameters.get("format", ""))
    if fmt in raw_export.FORMATS:
        return raw_export.FORMATS[fmt].content_type
    return "application/zip"
