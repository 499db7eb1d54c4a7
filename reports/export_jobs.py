"""Export jobs: the exports API's and the dashboard's long downloads, as data jobs
(`events.data_jobs`) of two kinds this layer registers at app ready:

- `export.report`: the report as a zip of CSVs, written by `reports.report_zip` (the code
  of the dashboard's synchronous zip);
- `export.events`: every stored event of the range in one of `reports.raw_export.FORMATS`,
  ClickHouse's own output streamed into the file.

`start()` checks a request (400 naming the field), then queues the job; the date range is
resolved to days when the job is created, so the file is the range asked for even when the
job waits. docs/exports.md, "Export jobs".
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from accounts.errors import NotFound, ServiceError
from events import data_jobs
from events.models import DataJob
from reports import raw_export, report_zip
from reports.context import load_context, site_range
from reports.parse import parse
from sites.models import Site
from sites.selectors import site_get_for_actor

REPORT = "export.report"
EVENTS = "export.events"
KINDS = {"report": REPORT, "events": EVENTS}  # the API's word → the job kind
NAMES = {kind: name for name, kind in KINDS.items()}
REPORT_FORMATS = ("zip",)
INTERVALS = ("hour", "day", "week", "month")
# Parquet gives no row count as it streams: its progress is its bytes against this many
# bytes a row (compressed columns of a typical site), capped below 1 until the end.
PARQUET_BYTES_PER_ROW = 40


def start(
    *,
    site: Site,
    actor: Any,
    kind: object,
    format: object = None,  # noqa: A002 (the API's field)
    date_range: object = None,
    filters: object = None,
    metric: str = "visitors",
    interval: str = "",
) -> DataJob:
    """Queue an export of `site`; `ServiceError` naming the field on bad input,
    `data_jobs.TooManyJobs` when the organization has enough running already."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise ServiceError(f"expected one of {', '.join(KINDS)}", field="kind")
    if date_range is None:
        raise ServiceError("required", field="date_range")
    if filters is None:
        filters = []
    parameters: dict[str, Any]
    if kind == "report":
        parameters = _report_parameters(site, format, date_range, filters, metric, interval)
    else:
        chosen = format if isinstance(format, str) else ""  # anything else: 400 naming it
        request = raw_export.parse_request(
            site, date_range=date_range, format=chosen, filters=filters
        )
        parameters = {
            "format": request.format,
            "date_range": [request.span.first.isoformat(), request.span.last.isoformat()],
            "filters": filters,
        }
    return data_jobs.create(
        organization=site.organization,
        site=site,
        kind=KINDS[str(kind)],
        parameters=parameters,
        created_by=actor,
    )


def _report_parameters(
    site: Site, format: object, date_range: object, filters: object, metric: str, interval: str
) -> dict[str, Any]:
    if format not in (None, *REPORT_FORMATS):
        raise ServiceError("a report export is a zip of CSVs: expected zip", field="format")
    if interval and interval not in INTERVALS:
        raise ServiceError(f"expected one of {', '.join(INTERVALS)}", field="interval")
    body: dict[str, Any] = {"site_id": site.domain, "metrics": [metric], "date_range": date_range}
    if filters:
        body["filters"] = filters
    parse(site=site, body=body, context=load_context(site, body))  # 400s name the field
    span = site_range(site, date_range, timezone=site.timezone)
    return {
        "format": "zip",
        "date_range": [span.first.isoformat(), span.last.isoformat()],
        "filters": filters,
        "metric": metric,
        "interval": interval,
    }


def _site(ctx: data_jobs.JobContext) -> Site:
    site = ctx.job.site
    if site is None or site.deleted_at is not None:
        raise LookupError("the site of this export was deleted")
    return site


def run_report(ctx: data_jobs.JobContext) -> None:
    """The `export.report` handler: the zip, a file at a time (progress by files)."""
    site, parameters = _site(ctx), ctx.parameters
    base: dict[str, Any] = {"site_id": site.domain, "date_range": parameters["date_range"]}
    if parameters.get("filters"):
        base["filters"] = parameters["filters"]
    first, last = parameters["date_range"]
    name = f"{site.domain}-report-{first}-{last}.zip"  # as raw_export.filename names events
    with ctx.result(name) as out:

        def progress(files: int, rows: int) -> None:
            ctx.progress(files / report_zip.FILES, rows=rows, bytes=out.tell())

        rows = report_zip.write_zip(
            out,
            site,
            base,
            metric=parameters.get("metric") or "visitors",
            interval=parameters.get("interval") or "",
            progress=progress,
        )
    ctx.job.rows = rows


def run_events(ctx: data_jobs.JobContext) -> None:
    """The `export.events` handler: ClickHouse's output in the chosen format, chunk by chunk
    into the file. Progress: lines against the rows counted first (NDJSON, CSV), or bytes
    against an estimate (Parquet). Closing the stream (a cancel, a failure) stops the query."""
    site, parameters = _site(ctx), ctx.parameters
    request = raw_export.parse_request(
        site,
        date_range=parameters["date_range"],
        format=parameters["format"],
        filters=parameters.get("filters") or [],
    )
    total = raw_export.count_rows(request)
    name = raw_export.filename(request)
    by_lines = request.format != "parquet"
    header_lines = 1 if request.format == "csv" else 0
    with ctx.result(name) as out:
        lines = 0
        chunks = raw_export.stream(request)
        try:
            for chunk in chunks:
                out.write(chunk)
                written = out.tell()
                if by_lines:
                    lines += chunk.count(b"\n")
                    seen = max(lines - header_lines, 0)
                    fraction = seen / total if total else 1.0
                else:
                    seen = 0
                    fraction = min(written / max(total * PARQUET_BYTES_PER_ROW, 1), 0.99)
                ctx.progress(min(fraction, 0.99), rows=min(seen, total), bytes=written)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    ctx.job.rows = total


def describe(job: DataJob) -> dict[str, Any]:
    """A job as the API and the dashboard show it (without its download URL)."""
    expires = data_jobs.expires_at(job)
    return {
        "id": str(job.pk),
        "kind": NAMES.get(job.kind, job.kind),
        "format": job.parameters.get("format"),
        "date_range": job.parameters.get("date_range"),
        "status": job.status,
        "progress": round(job.progress, 4),
        "rows": job.rows,
        "bytes": job.bytes,
        "error": job.error or None,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(expires),
        "file_name": job.file_name or None,
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def register() -> None:
    data_jobs.register(REPORT, run_report)
    data_jobs.register(EVENTS, run_events)


# What the pages above need of the job runner (frontend reaches events through reports).
TooManyJobs = data_jobs.TooManyJobs
MAX_ACTIVE_PER_ORGANIZATION = data_jobs.MAX_ACTIVE_PER_ORGANIZATION
expires_at = data_jobs.expires_at


def cancel_or_remove(job: DataJob) -> bool:
    """Cancel a queued or running export; remove a finished one and its file (True)."""
    if data_jobs.cancel(job):
        return False
    data_jobs.remove(job)
    return True


def export_get_for_actor(*, actor: Any, export_id: object) -> DataJob:
    """An export job the actor may see: one of a site it may see (a key's organization and
    sites, a user's memberships). Anything else — another tenant's, a malformed or made-up
    id, another kind of job — is `NotFound`, the same for all."""
    try:
        pk = uuid.UUID(str(export_id))
    except ValueError:
        raise NotFound("export") from None
    job = (
        DataJob.objects.filter(pk=pk, kind__in=NAMES, site__isnull=False)
        .select_related("site", "organization")
        .first()
    )
    if job is None or job.site is None:
        raise NotFound("export")
    site_get_for_actor(actor=actor, domain=job.site.domain)  # NotFound for another tenant
    if job.site.organization_id != job.organization_id:
        raise NotFound("export")
    return job


def recent_exports(*, site: Site, limit: int = 10) -> list[DataJob]:
    """A site's latest exports, newest first (the dashboard's list)."""
    return list(DataJob.objects.filter(site=site, kind__in=NAMES).order_by("-created_at")[:limit])
