"""The organization a signed-in person is working in, kept in their session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import Membership, User
from accounts.selectors import memberships_for_user
from accounts.sessions import ORGANIZATION_KEY


def memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships, fetched once per request."""
    cached = getattr(request, "_trail_memberships", None)
    if cached is None:
        user = request.user
        cached = list(memberships_for_user(user=user)) if isinstance(user, User) else []
        request._trail_memberships = cached  # type: ignore[attr-defined]
    return cached


def current_membership(request: HttpRequest) -> Membership | None:
    mine = memberships(request)
    wanted = request.session.get(ORGANIZATION_KEY)
    for membership in mine:
        if membership.organization_id == wanted:
            return membership
    return mine[0] if mine else None


def trail(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"memberships": memberships(request), "current": current_membership(request)}
