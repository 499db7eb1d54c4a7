"""The organization's usage page: this month's events against the quota, and events per
site per day, as the quota job last counted them (docs/limits.md). Any member may read
it; only the current organization's numbers are shown."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from frontend.views.helpers import require_membership
from reports.usage import usage_get


@login_required
@require_GET
def organization_usage(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    usage = usage_get(organization=membership.organization)
    return render(
        request,
        "frontend/organization_usage.html",
        {"organization": membership.organization, "usage": usage},
    )
