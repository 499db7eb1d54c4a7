"""A site's "Delete data" page (docs/deletions.md): the events matching a date range and a
few filter rows (a page, a custom property, an event name, a country) are counted first
("Preview"), then deleted after a confirmation by a deletion job whose progress bar polls
(htmx asks for the job's row every second until it has finished). Owners also see the
organization's audit entries of this site.

The jobs and the rules are those of the API (`reports.deletions_api`): owners and admins
may delete, viewers are refused (403), another organization's site or job is 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.errors import NotFound, ServiceError
from accounts.models import Role
from accounts.selectors import membership_get
from frontend.views.helpers import user_of
from frontend.views.jobs import job_row, too_many_message
from reports import deletions_api
from reports.export_jobs import DataJob
from sites import selectors
from sites.models import Site

ROWS = 3  # filter rows of the form
PERIODS = (
    ("all", "All time"),
    ("12mo", "Last 12 months"),
    ("30d", "Last 30 days"),
    ("7d", "Last 7 days"),
    ("custom", "From … to …"),
)
# The filter rows' kinds: (value, label, the Stats API's dimension; "props" takes a key).
KINDS = (
    ("page", "Page", "event:page"),
    ("props", "Custom property", "event:props:"),
    ("name", "Event name", "event:name"),
    ("country", "Country (code)", "visit:country"),
)
DIMENSIONS = {value: dimension for value, _, dimension in KINDS}
LISTED = 10  # recent deletion jobs of the site
AUDITED = 50  # audit entries shown to owners
STOP_POLLING = 286  # htmx stops a polling trigger on this status


def _url(site: Site, job: DataJob) -> str:
    return f"/sites/{site.domain}/deletions/{job.pk}"


def _row(site: Site, job: DataJob) -> dict[str, Any]:
    row = job_row(job, deletions_api.describe(job), _url(site, job))
    row["rows_text"] = f"{job.rows:,}"
    return row


def _asked(post: Any) -> dict[str, Any]:
    """The form's request as the API's fields (`date_range`, `filters`, `everything`)."""
    period = post.get("period", "all")
    date_range: Any = period
    if period == "custom":
        date_range = [post.get("from", ""), post.get("to", "")]
    filters = []
    for index in range(ROWS):
        kind, value = post.get(f"kind{index}", ""), post.get(f"value{index}", "")
        if not kind or value == "":
            continue
        if kind not in DIMENSIONS:
            raise ServiceError(
                "choose a page, a custom property, an event name or a country", field="filters"
            )
        dimension = DIMENSIONS[kind]
        if kind == "props":
            key = post.get(f"key{index}", "").strip()
            if not key:
                raise ServiceError("name the custom property (its key)", field="filters")
            dimension += key
        filters.append(["is", dimension, [value]])
    return {"date_range": date_range, "filters": filters, "everything": post.get("all") == "1"}


def _is_owner(request: HttpRequest, site: Site) -> bool:
    membership = membership_get(user=user_of(request), organization_id=site.organization_id)
    return membership is not None and membership.role == Role.OWNER


def _page(
    request: HttpRequest,
    site: Site,
    *,
    error: str = "",
    preview: int | None = None,
    status: int = 200,
) -> HttpResponse:
    owner = _is_owner(request, site)
    jobs = DataJob.objects.filter(site=site, kind=deletions_api.KIND).order_by("-created_at")
    audits = []
    if owner:
        found = deletions_api.audits_for_owner(
            organization=site.organization, user=user_of(request)
        ).filter(site=site)
        audits = [deletions_api.audit_json(a) for a in found[:AUDITED]]
    form = request.POST if request.method == "POST" else {}
    context = {
        "site": site,
        "jobs": [_row(site, job) for job in jobs[:LISTED]],
        "audits": audits,
        "is_owner": owner,
        "periods": PERIODS,
        "kinds": KINDS,
        "rows": [
            {
                "index": i,
                "kind": form.get(f"kind{i}", ""),
                "key": form.get(f"key{i}", ""),
                "value": form.get(f"value{i}", ""),
            }
            for i in range(ROWS)
        ],
        "period": form.get("period", "all"),
        "from": form.get("from", ""),
        "to": form.get("to", ""),
        "all": form.get("all") == "1",
        "preview": preview,
        "error": error,
    }
    return render(request, "frontend/site_deletions.html", context, status=status)


def _message(exc: ServiceError) -> str:
    return f"{(exc.field or 'deletion').capitalize()}: {exc.message}"


@login_required
@require_http_methods(["GET", "POST"])
def site_deletions(request: HttpRequest, domain: str) -> HttpResponse:
    """GET: the page. POST `action=preview`: the page with the count and a confirmation;
    POST `action=delete`: queue the deletion, back to the page (its row polls)."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    if request.method == "GET":
        return _page(request, site)
    try:
        asked = _asked(request.POST)
        if request.POST.get("action") == "delete":
            deletions_api.start(site, actor=user_of(request), **asked)
        else:
            return _page(request, site, preview=deletions_api.preview(site, **asked))
    except deletions_api.TooManyJobs:
        return _page(request, site, error=too_many_message("jobs"), status=429)
    except ServiceError as exc:
        return _page(request, site, error=_message(exc), status=400)
    messages.success(request, "Deletion queued: its progress shows below.")
    return redirect("site-deletions", domain=site.domain)


@login_required
@require_GET
def site_deletion_job(request: HttpRequest, domain: str, deletion_id: str) -> HttpResponse:
    """One deletion's row (polled every second while it runs)."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    try:
        job = deletions_api.deletion_get_for_actor(actor=user_of(request), deletion_id=deletion_id)
    except NotFound:
        job = None
    if job is None or job.site_id != site.pk:
        if request.headers.get("HX-Request"):
            return HttpResponse("", status=STOP_POLLING)
        raise Http404("no such deletion")
    return render(request, "frontend/_deletion_row.html", {"job": _row(site, job), "site": site})
