"""Import jobs over the API (docs/imports.md, "Jobs, API and CLI"):

- `POST /api/v1/sites/{domain}/imports` (multipart: `source`, one or more `file`) → 202;
- `GET /api/v1/imports/{id}` → the job: status, progress, rows, first/last day, files, error;
- `DELETE /api/v1/imports/{id}` → cancels a queued or running import (nothing of it stays),
  or removes a finished one's data and the job.

Scopes: `sites:manage` to start or delete an import (it changes the site's data), `sites:read`
to read one. Signed-in members: owners and admins may write, any member read. Another
tenant's site or import is 404, as a made-up one.

Uploads are streamed to disk (`ImportUploadHandler`: a temporary file under
`var/imports/uploads/`, never the whole file in memory), counted against
`TRAIL_IMPORT_MAX_BYTES` as they arrive (413 beyond).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.errors import ServiceError
from accounts.models import Scope
from events import data_jobs
from events.models import DataJob
from reports.exports_api import too_many
from reports.imports import services
from reports.stats_schema import ERROR_SCHEMA
from sites.selectors import site_get_for_actor

STATUSES = [choice.value for choice in DataJob.Status]
JOB_SCHEMA = {
    "type": "object",
    "required": ["id", "status", "progress", "rows", "files"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "source": {"type": "string", "enum": list(services.SOURCES)},
        "status": {"type": "string", "enum": STATUSES},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "rows": {"type": "integer", "description": "events (or daily rows) imported so far"},
        "first_day": {"type": "string", "format": "date", "nullable": True},
        "last_day": {"type": "string", "format": "date", "nullable": True},
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "bytes": {"type": "integer"},
                    "sha256": {"type": "string"},
                },
            },
        },
        "error": {
            "type": "string",
            "nullable": True,
            "description": "why it failed: the file, line and column",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}
JOB_EXAMPLE = {
    "id": "5e0c1d2a-7b3f-4e19-8a65-2c9d0f4b7e31",
    "source": "trail",
    "status": "done",
    "progress": 1.0,
    "rows": 1204331,
    "first_day": "2025-01-01",
    "last_day": "2026-11-30",
    "files": [
        {
            "name": "example.com-events-2025-01-01-2026-11-30.parquet",
            "bytes": 48172213,
            "sha256": "9f2b5c0d4e7a61b8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0",
        }
    ],
    "error": None,
    "created_at": "2026-12-01T09:30:00.120000Z",
    "finished_at": "2026-12-01T09:30:04.871000Z",
}
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["source", "file"],
    "properties": {
        "source": {
            "type": "string",
            "enum": list(services.SOURCES),
            "description": "what the files are: `trail` (Trail's raw export: NDJSON, CSV or"
            " Parquet), `ga4`, `umami`, `plausible_csv`",
        },
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "one or more files (repeat the field)",
        },
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
ERRORS = {
    401: OpenApiResponse(response=ERROR_SCHEMA, description="no or a wrong API key"),
    403: OpenApiResponse(response=ERROR_SCHEMA, description="the key lacks the scope"),
    404: OpenApiResponse(response=ERROR_SCHEMA, description="no such site or import"),
    429: OpenApiResponse(
        response=ERROR_SCHEMA, description="over the key's rate limit (Retry-After)"
    ),
}

# The requests whose body is an upload: the server's gate (trail/gate.py) spools them to
# disk instead of holding them in memory (a `POST` to the create route, or to the
# dashboard's Imports page, frontend/views/imports.py).
UPLOAD_PATH = re.compile(r"/(?:api/v1/)?sites/[^/]+/imports")


class _DiskFile(UploadedFile):
    """An upload in a named temporary file under var/imports/uploads (deleted on close),
    with the sha256 of what was written (the import keeps it: no second read of the file)."""

    def __init__(self, name: str, content_type: str, charset: str | None) -> None:
        file = tempfile.NamedTemporaryFile(suffix=".upload", dir=services.upload_dir())  # noqa: SIM115
        super().__init__(file, name, content_type, 0, charset)
        self._disk = file
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        return int(self._disk.write(data))

    def temporary_file_path(self) -> str:
        return str(self._disk.name)

    def close(self) -> None:
        try:
            self._disk.close()
        except FileNotFoundError:
            pass


class ImportUploadHandler(FileUploadHandler):
    """Every file of the request to disk as it arrives, the total counted against the cap."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.total = 0
        self.too_large = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = _DiskFile(self.file_name or "file", self.content_type or "", self.charset)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.total += len(raw_data)
        if self.total > services.max_bytes():
            self.too_large = True
            raise StopUpload(connection_reset=True)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        return self.file


def too_large() -> Response:
    return Response(
        {
            "error": f"file: over this Trail's limit of {services.max_bytes()} bytes"
            " (TRAIL_IMPORT_MAX_BYTES)"
        },
        status=413,
    )


class ImportCreateView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        request.upload_handlers = [ImportUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="import_create",
        summary="Start an import",
        description="Uploads files (multipart, `source` and one or more `file` fields) and"
        " queues their import into the site; poll the job's URL for its progress. The data"
        " becomes visible in reports only once the whole import is done; a file imported"
        " before (the same sha256) is refused, naming the earlier import.",
        request={"multipart/form-data": REQUEST_SCHEMA},
        responses={
            202: OpenApiResponse(response=CREATED_SCHEMA, description="queued"),
            400: OpenApiResponse(response=ERROR_SCHEMA, description="a bad field, named"),
            413: OpenApiResponse(response=ERROR_SCHEMA, description="over TRAIL_IMPORT_MAX_BYTES"),
            **{code: answer for code, answer in ERRORS.items() if code != 429},
            429: OpenApiResponse(
                response=ERROR_SCHEMA,
                description="too many jobs running, or over the key's rate limit (Retry-After)",
            ),
        },
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    "id": JOB_EXAMPLE["id"],
                    "status": "queued",
                    "url": f"https://trail.example.com/api/v1/imports/{JOB_EXAMPLE['id']}",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request, domain: str) -> Response:
        site = site_get_for_actor(actor=actor(request), domain=domain, write=True)
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > services.max_bytes() + 1024 * 1024:
            return too_large()
        try:
            files = request.FILES.getlist("file")
            source = request.data.get("source")
        except ParseError as exc:
            raise ServiceError(str(exc.detail), field="body") from None
        handler = request._request.upload_handlers[0]  # noqa: SLF001
        if getattr(handler, "too_large", False):
            return too_large()
        if not isinstance(source, str) or not source:
            raise ServiceError(f"required: one of {', '.join(services.SOURCES)}", field="source")
        unknown = sorted(set(request.FILES) - {"file"})
        if unknown:
            raise ServiceError("unknown field: files go in `file`", field=unknown[0])
        uploads = [(f.name or "file", Path(f.temporary_file_path())) for f in files]
        digests = {
            Path(f.temporary_file_path()): f.digest.hexdigest()
            for f in files
            if isinstance(f, _DiskFile)
        }
        try:
            job = services.import_start(
                site=site, source=source, uploads=uploads, actor=actor(request), digests=digests
            )
        except data_jobs.TooManyJobs:
            return too_many("import", "jobs")
        finally:
            for f in files:
                f.close()
        url = request.build_absolute_uri(reverse("api-import", args=[job.pk]))
        return Response(
            {"id": str(job.pk), "status": job.status, "url": url},
            status=202,
            headers={"Location": url},
        )


IMPORT_ID = OpenApiParameter(
    "import_id",
    str,
    OpenApiParameter.PATH,
    description="the import's id (`id` of its job)",
    examples=[OpenApiExample("an import", value=JOB_EXAMPLE["id"])],
)


class ImportDetailView(TrailApiView):
    required_scope = Scope.SITES_MANAGE
    read_scope = Scope.SITES_READ

    @extend_schema(
        operation_id="import_get",
        parameters=[IMPORT_ID],
        summary="An import's status",
        responses={200: OpenApiResponse(response=JOB_SCHEMA, description="the job"), **ERRORS},
        examples=[OpenApiExample("Done", value=JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, import_id: str) -> Response:
        job = services.import_get_for_actor(actor=actor(request), import_id=import_id)
        return Response(services.describe(job))

    @extend_schema(
        operation_id="import_delete",
        parameters=[IMPORT_ID],
        summary="Cancel an import or delete its data",
        description="A queued or running import is cancelled and nothing of it stays; a"
        " finished one's data (exactly the rows it brought) is deleted with the job.",
        responses={204: OpenApiResponse(description="cancelled or deleted"), **ERRORS},
    )
    def delete(self, request: Request, import_id: str) -> Response:
        job = services.import_get_for_actor(actor=actor(request), import_id=import_id, write=True)
        services.import_delete(job=job)
        return Response(status=204)
