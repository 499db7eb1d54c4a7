"""Pages for the current organization: members, roles, invitations, leaving, ownership,
switching and creating organizations, accepting an invitation.

An anonymous visitor's invitation is remembered in the session (`accounts.sessions`) and
accepted by `accounts.adapter` as soon as they sign in; a signed-in person accepts with
the page's button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services, sessions
from accounts.errors import ServiceError
from accounts.models import CAN_MANAGE_MEMBERS, CAN_MANAGE_OWNERS, Organization, Role, User
from frontend.context import memberships
from frontend.views.helpers import error_message, posted_id, require_membership, user_of


def _member(request: HttpRequest, organization: Organization) -> User:
    """The member of `organization` named by the form's `user` field."""
    user = selectors.member_get(
        organization=organization, user_id=posted_id(request, "user", "member")
    )
    if user is None:
        raise ServiceError("that person is not a member", field="user")
    return user


@login_required
@require_http_methods(["GET", "POST"])
def organization(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    org = membership.organization
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "invite":
                services.invitation_create(
                    organization=org,
                    actor=user_of(request),
                    email=request.POST.get("email", ""),
                    role=request.POST.get("role", Role.VIEWER),
                )
                messages.success(
                    request, f"Invitation sent to {request.POST.get('email', '').strip()}."
                )
            elif action == "revoke-invitation":
                invitation = selectors.invitation_get_pending(
                    organization=org,
                    invitation_id=posted_id(request, "invitation", "invitation"),
                )
                if invitation is None:
                    raise ServiceError("no such invitation", field="invitation")
                services.invitation_revoke(invitation=invitation, actor=user_of(request))
                messages.success(request, "Invitation revoked.")
            elif action == "role":
                services.membership_set_role(
                    organization=org,
                    actor=user_of(request),
                    user=_member(request, org),
                    role=request.POST.get("role", ""),
                )
                messages.success(request, "Role changed.")
            elif action == "remove":
                services.membership_remove(
                    organization=org, actor=user_of(request), user=_member(request, org)
                )
                messages.success(request, "Member removed.")
            elif action == "leave":
                services.membership_remove(
                    organization=org, actor=user_of(request), user=user_of(request)
                )
                request.session.pop(sessions.ORGANIZATION_KEY, None)
                messages.success(request, f"You left {org.name}.")
                return redirect("site-list")
            elif action == "transfer":
                services.ownership_transfer(
                    organization=org, actor=user_of(request), to_user=_member(request, org)
                )
                messages.success(request, "Ownership transferred; you are now an admin.")
            else:
                raise ServiceError("unknown action", field="action")
        except ServiceError as exc:
            errors = error_message(request, exc, inline=("email",))
        else:
            return redirect("organization")
    return render(
        request,
        "frontend/organization.html",
        {
            "organization": org,
            "membership": membership,
            "members": selectors.organization_members(organization=org),
            "invitations": selectors.pending_invitations(organization=org),
            "roles": Role.choices,
            "can_manage": membership.role in CAN_MANAGE_MEMBERS,
            "is_owner": membership.role in CAN_MANAGE_OWNERS,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def organization_switch(request: HttpRequest) -> HttpResponse:
    """Work in another of one's organizations; on to `next` (a path of this site, e.g. the
    site list's "Add your first site" of another organization) or the site list."""
    wanted = request.POST.get("organization", "")
    for membership in memberships(request):
        if str(membership.organization_id) == wanted:
            request.session[sessions.ORGANIZATION_KEY] = membership.organization_id
            target = request.POST.get("next", "")
            if target.startswith("/") and url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                return redirect(target)
            return redirect("site-list")
    return redirect("site-list")


@login_required
@require_POST
def organization_create(request: HttpRequest) -> HttpResponse:
    try:
        org = services.organization_create(
            name=request.POST.get("name", ""), owner=user_of(request)
        )
    except ServiceError as exc:
        error_message(request, exc)
        return redirect("organization")
    request.session[sessions.ORGANIZATION_KEY] = org.id
    messages.success(request, f"Organization {org.name} created.")
    return redirect("site-list")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_get(token=token)
    except ServiceError as exc:
        return render(request, "frontend/invitation.html", {"error": exc.message}, status=410)
    if not request.user.is_authenticated:
        # Kept across sign-up and e-mail verification: accepted on signing in (accounts.adapter).
        sessions.remember_invitation(request, token)
        return render(
            request, "frontend/invitation.html", {"invitation": invitation, "next": request.path}
        )
    if request.method == "POST":
        sessions.take_invitation(request)
        try:
            membership = services.invitation_accept(token=token, user=user_of(request))
        except ServiceError as exc:
            return render(request, "frontend/invitation.html", {"error": exc.message}, status=400)
        request.session[sessions.ORGANIZATION_KEY] = membership.organization_id
        messages.success(request, f"You joined {membership.organization.name}.")
        return redirect("site-list")
    return render(request, "frontend/invitation.html", {"invitation": invitation})
