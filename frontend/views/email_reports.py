"""Site settings → Email reports: who receives the weekly or monthly mail (any address),
"send the last report now", and the public one-click unsubscribe page the mails link to
(docs/email-reports.md)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import NotFound
from digests import periods, services
from digests.models import EmailReport
from frontend.views.helpers import posted_id, user_of
from frontend.views.sites import _site_items_page
from sites import selectors
from sites.models import Site


def _create(site: Site, form: QueryDict) -> str:
    week_start = form.get("week_start", "0")
    report = services.subscribe(
        site,
        email=form.get("email", ""),
        frequency=form.get("frequency", ""),
        week_start=int(week_start) if week_start in ("0", "6") else week_start,
    )
    return f"{report.email} will receive the {report.frequency} report."


def _delete(site: Site, report_id: int) -> str:
    report = site.email_reports.filter(pk=report_id).first()
    if report is None:
        raise NotFound("email report")
    report.delete()
    return f"{report.email} will no longer receive the {report.frequency} report."


@login_required
@require_http_methods(["GET", "POST"])
def site_email_reports(request: HttpRequest, domain: str) -> HttpResponse:
    return _site_items_page(
        request,
        domain,
        url_name="site-email-reports",
        create=_create,
        delete=_delete,
        what="email report",
        inline=("email", "frequency", "week_start"),
        context=lambda site: {"reports": site.email_reports.all()},
    )


@login_required
@require_POST
def site_email_report_send(request: HttpRequest, domain: str) -> HttpResponse:
    """Mail the last whole period's report to one subscription now (its schedule stays)."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    report = site.email_reports.filter(pk=posted_id(request, "report", "email report")).first()
    if report is None:
        raise NotFound("email report")
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo(site.timezone)).date()
    period = periods.last_complete(report.frequency, today, report.week_start)
    services.send_report(report, period)
    messages.success(request, f"The report for {period.label()} is on its way to {report.email}.")
    return redirect("site-email-reports", domain=site.domain)


@csrf_exempt  # the mail client's one-click POST (RFC 8058) carries no CSRF token
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a link scanner must not unsubscribe anyone); POST unsubscribes."""
    report: EmailReport | None = services.report_for_token(token)
    if report is None:  # a made-up link, or one already used: the same answer
        return render(request, "frontend/unsubscribe.html", {"report": None}, status=404)
    if request.method == "POST":
        report.delete()
        return render(request, "frontend/unsubscribed.html", {"report": report})
    return render(request, "frontend/unsubscribe.html", {"report": report})
