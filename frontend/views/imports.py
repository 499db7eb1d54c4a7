"""A site's Imports page (docs/imports.md, "Dashboard"): upload files of another tool (or of
Trail) to import into the site, watch each import's progress bar (htmx asks for its row
every second until it has finished), delete an import's data or cancel it.

The jobs are those of the API and the CLI (`reports.imports.services`); owners and admins
may start and delete, viewers see the list. Uploads are streamed to disk by the API's
upload handler (`var/imports/uploads/`, counted against TRAIL_IMPORT_MAX_BYTES as they
arrive), never held in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from accounts.errors import NotFound, ServiceError
from accounts.models import CAN_MANAGE_SITES
from accounts.selectors import membership_get
from frontend.views.helpers import user_of
from frontend.views.jobs import job_row, too_many_message
from reports.export_jobs import DataJob, TooManyJobs
from reports.imports import services
from reports.imports.api import ImportUploadHandler
from sites import selectors
from sites.models import Site

# The form's choices: (source, label, what to upload). The order is the select's.
SOURCES = (
    ("trail", "Trail", "Trail's own raw export of events (NDJSON, CSV or Parquet)."),
    (
        "ga4",
        "Google Analytics 4",
        "The BigQuery export's events_* rows as NDJSON (plain or gzipped) or Parquet.",
    ),
    ("umami", "Umami", "The CSV of Umami's data export, one row per website event."),
    (
        "plausible_csv",
        "Plausible (CSV export)",
        "The zip of CSV files from Plausible's Settings, Imports & Exports, Export data.",
    ),
)
LABELS = {source: label for source, label, _ in SOURCES}
LISTED = 20  # imports shown, newest first
STOP_POLLING = 286  # htmx stops a polling trigger on this status


def _url(site: Site, job: DataJob) -> str:
    return f"/sites/{site.domain}/imports/{job.pk}"


def _row(site: Site, job: DataJob, *, can_manage: bool) -> dict[str, Any]:
    row = job_row(job, services.describe(job), _url(site, job))
    row["rows_text"] = f"{job.rows:,}"
    row["label"] = LABELS.get(row["source"] or "", row["source"])
    row["can_manage"] = can_manage
    return row


def _can_manage(request: HttpRequest, site: Site) -> bool:
    membership = membership_get(user=user_of(request), organization_id=site.organization_id)
    return membership is not None and membership.role in CAN_MANAGE_SITES


def _page(
    request: HttpRequest, site: Site, *, error: str = "", source: str = "", status: int = 200
) -> HttpResponse:
    can_manage = _can_manage(request, site)
    jobs = services.imports_for_site(site=site, limit=LISTED)
    context = {
        "site": site,
        "imports": [_row(site, job, can_manage=can_manage) for job in jobs],
        "can_manage": can_manage,
        "sources": SOURCES,
        "source": source,
        "error": error,
        "max_bytes": services.max_bytes(),
    }
    return render(request, "frontend/site_imports.html", context, status=status)


def _start(request: HttpRequest, site: Site) -> tuple[str, int]:
    """Queue the import the form asks for: an error message and its status, or ("", 200).
    Every uploaded file is closed (its temporary file deleted) either way."""
    try:
        files = request.FILES.getlist("file")  # reads the body, through the handler
        if getattr(request.upload_handlers[0], "too_large", False):
            return (
                f"The files are over this Trail's limit of {services.max_bytes():,} bytes"
                " for one import (TRAIL_IMPORT_MAX_BYTES).",
                413,
            )
        # The handler's files are on disk (reports.imports.api._DiskFile).
        uploads = [(f.name or "file", Path(f.temporary_file_path())) for f in files]  # type: ignore[attr-defined]
        services.import_start(
            site=site,
            source=request.POST.get("source", ""),
            uploads=uploads,
            actor=user_of(request),
        )
    except TooManyJobs:
        return too_many_message("imports or exports"), 429
    except ServiceError as exc:
        if exc.field == "source":
            return "Choose what the files are: " + ", ".join(s[1] for s in SOURCES) + ".", 400
        return f"{(exc.field or 'import').capitalize()}: {exc.message}.", 400
    finally:
        for _, files in request.FILES.lists():
            for file in files:
                file.close()
    return "", 200


@csrf_exempt  # checked by `_imports` once the upload handler is in place
@login_required
@require_http_methods(["GET", "POST"])
def site_imports(request: HttpRequest, domain: str) -> HttpResponse:
    """GET: the page. POST (owners, admins): start an import of the uploaded files, then
    back to the page (its row polls), or the page with the reason it could not start."""
    if request.method == "POST":
        # Before anything reads the body: every file goes to disk as it arrives.
        request.upload_handlers = [ImportUploadHandler(request)]
    return _imports(request, domain)


@csrf_protect
def _imports(request: HttpRequest, domain: str) -> HttpResponse:
    write = request.method == "POST"
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=write)
    if not write:
        return _page(request, site)
    error, status = _start(request, site)
    if error:
        return _page(
            request, site, error=error, source=request.POST.get("source", ""), status=status
        )
    messages.success(request, "Import queued: its progress shows below.")
    return redirect("site-imports", domain=site.domain)


def _job(request: HttpRequest, site: Site, import_id: str, *, write: bool) -> DataJob:
    try:
        job = services.import_get_for_actor(
            actor=user_of(request), import_id=import_id, write=write
        )
    except NotFound:
        raise Http404("no such import") from None
    if job.site_id != site.pk:
        raise Http404("no such import")
    return job


@login_required
@require_http_methods(["GET", "POST"])
def site_import_job(request: HttpRequest, domain: str, import_id: str) -> HttpResponse:
    """GET: one import's row (polled every second while it runs). POST (owners, admins):
    cancel it while it runs (the row then says so), or delete its data and the import."""
    write = request.method == "POST"
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=write)
    try:
        job = _job(request, site, import_id, write=write)
    except Http404:
        if write or not request.headers.get("HX-Request"):
            raise
        # A polled row whose import is gone (deleted in another tab): htmx's "stop
        # polling" status, the row swapped for nothing. The site is the asker's (above).
        return HttpResponse("", status=STOP_POLLING)
    if write:
        services.import_delete(job=job)
        try:
            job.refresh_from_db()  # a cancelled import stays, marked so
        except ObjectDoesNotExist:
            deleted = True
        else:
            deleted = False
        if not request.headers.get("HX-Request"):
            messages.success(request, "Import deleted." if deleted else "Import cancelled.")
            return redirect("site-imports", domain=site.domain)
        if deleted:
            return HttpResponse("")
    row = _row(site, job, can_manage=_can_manage(request, site))
    return render(request, "frontend/_import_row.html", {"job": row, "site": site})
