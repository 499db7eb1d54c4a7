"""The dashboard's Export menu (docs/exports.md, "Export jobs"): start an export job of the
view (its zip of CSVs, or its raw events as CSV, NDJSON or Parquet), watch its progress bar
(htmx asks for the job's row every second until it has finished), download the file.

Members of any role may export what they can see (Plausible's rule: whoever sees the
dashboard may export it); a shared link's visitors keep the synchronous zip only. The jobs
are those of the API (`reports.export_jobs`), so the API sees the dashboard's and the other
way round.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.errors import NotFound, ServiceError
from frontend import chart, dashboard
from frontend.views import access as who
from frontend.views.access import Access
from frontend.views.helpers import user_of
from frontend.views.jobs import job_row, too_many_message
from reports import export_jobs
from reports.export_jobs import DataJob
from reports.exports_api import download

RECENT = 8  # exports listed under the menu
# The menu's choices: (kind, format, label).
CHOICES = (
    ("report", "zip", "This view as a zip of CSV files"),
    ("events", "csv", "Raw events as CSV"),
    ("events", "ndjson", "Raw events as NDJSON"),
    ("events", "parquet", "Raw events as Parquet"),
)


def _row(job: DataJob, access: Access) -> dict[str, Any]:
    described = export_jobs.describe(job)
    described["expires"] = export_jobs.expires_at(job)
    return job_row(job, described, f"{access.base}/exports/{job.pk}")


def _list(
    request: HttpRequest, access: Access, *, error: str = "", status: int = 200
) -> HttpResponse:
    jobs = export_jobs.recent_exports(site=access.site, limit=RECENT)
    context = {
        "access": access,
        "exports": [_row(job, access) for job in jobs],
        "error": error,
    }
    return render(request, "frontend/_exports.html", context, status=status)


def _job(request: HttpRequest, access: Access, export_id: str) -> DataJob:
    try:
        job = export_jobs.export_get_for_actor(actor=user_of(request), export_id=export_id)
    except NotFound:
        raise Http404("no such export") from None
    if job.site_id != access.site.pk:
        raise Http404("no such export")
    return job


def _start(request: HttpRequest, access: Access) -> str:
    """Start the export the form asks for; an error message, or empty."""
    view = dashboard.view_from(request.POST)
    kind, _, fmt = request.POST.get("export", "").partition(":")
    if (kind, fmt) not in {(k, f) for k, f, _ in CHOICES}:
        return "Choose what to export."
    site = access.site
    base = dashboard.base_query(view, site)
    options: dict[str, Any] = {}
    if kind == "report":
        options = {
            "metric": view.metric,
            "interval": chart.chart_interval(view, chart.chart_span(site, view)),
        }
    try:
        export_jobs.start(
            site=site,
            actor=user_of(request),
            kind=kind,
            format=fmt,
            date_range=base["date_range"],
            filters=base.get("filters", []),
            **options,
        )
    except export_jobs.TooManyJobs:
        return too_many_message("exports")
    except ServiceError as exc:
        return f"{exc.field}: {exc.message}" if exc.field else exc.message
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def site_exports(request: HttpRequest, domain: str) -> HttpResponse:
    """GET: the menu's list of recent exports (a fragment). POST: start an export of the
    view the form carries, then the list (htmx) or back to the dashboard."""
    access = who.member(request, domain)
    if request.method == "GET":
        return _list(request, access)
    error = _start(request, access)
    if request.headers.get("HX-Request"):
        return _list(request, access, error=error)
    if error:
        return _list(request, access, error=error, status=400)
    return redirect(f"{access.base}/?{dashboard.view_from(request.POST).params()}")


@login_required
@require_http_methods(["GET", "POST"])
def site_export_job(request: HttpRequest, domain: str, export_id: str) -> HttpResponse:
    """GET: one export's row (polled every second while it runs). POST: cancel it while it
    runs, remove it (and its file) once finished."""
    access = who.member(request, domain)
    job = _job(request, access, export_id)
    if request.method == "POST":
        if export_jobs.cancel_or_remove(job):
            return HttpResponse("")
    return render(request, "frontend/_export_row.html", {"job": _row(job, access)})


@login_required
@require_GET
def site_export_download(request: HttpRequest, domain: str, export_id: str) -> HttpResponseBase:
    access = who.member(request, domain)
    return download(_job(request, access, export_id))
