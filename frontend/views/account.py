"""A person's own account page (docs/deletions.md, "Your account"): download one's account
record as JSON ("Download my data"), delete an organization one owns, delete one's account.

Deleting asks for the name (organization) or the email address (account) typed again; the
rules are the services' (`accounts.services.organization_delete`, `user_delete`): an
organization's sites go with it, and an account takes the organizations it alone owns.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors, services
from accounts.errors import Forbidden
from accounts.models import Role
from frontend.views.helpers import user_of
from reports.deletions_api import audits_by_user


def _page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    user = user_of(request)
    memberships = list(selectors.memberships_for_user(user=user))
    owned = [m.organization for m in memberships if m.role == Role.OWNER]
    alone = {
        o.pk for o in owned if selectors.owners_count(organization=o) == 1
    }  # deleted with the account
    context = {"owned": owned, "alone": alone, "error": error, "memberships": memberships}
    return render(request, "frontend/account.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST `action=delete_organization` (`organization`, `confirm`: its
    name) or `action=delete_account` (`confirm`: one's email address)."""
    if request.method == "GET":
        return _page(request)
    user = user_of(request)
    action = request.POST.get("action", "")
    typed = request.POST.get("confirm", "").strip()
    if action == "delete_organization":
        wanted = request.POST.get("organization", "")
        membership = next(
            (
                m
                for m in selectors.memberships_for_user(user=user)
                if str(m.organization_id) == wanted
            ),
            None,
        )
        if membership is None:
            return _page(request, error="No such organization of yours.", status=404)
        organization = membership.organization
        if typed != organization.name:
            return _page(request, error="Type the organization's name to delete it.", status=400)
        try:
            services.organization_delete(organization=organization, actor=user)
        except Forbidden as exc:
            return _page(request, error=str(exc), status=403)
        messages.success(request, f"Organization {organization.name} deleted with its sites.")
        return redirect("account")
    if action == "delete_account":
        if typed.lower() != user.email.lower():
            return _page(
                request, error="Type your email address to delete your account.", status=400
            )
        services.user_delete(user=user)
        logout(request)
        return redirect("/")
    return _page(request, error="Unknown action.", status=400)


@login_required
@require_GET
def account_data(request: HttpRequest) -> HttpResponse:
    """ "Download my data": the account record as a JSON file."""
    user = user_of(request)
    record = {**selectors.personal_data(user=user), "deletions": audits_by_user(user=user)}
    response = HttpResponse(
        json.dumps(record, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="trail-my-data.json"'
    return response
