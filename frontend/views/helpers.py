from __future__ import annotations

from collections.abc import Collection

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.errors import ServiceError
from accounts.models import Membership, User
from frontend.context import current_membership


def user_of(request: HttpRequest) -> User:
    """The signed-in user of a `login_required` view."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("sign in first")
    return user


def require_membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:  # every account gets one at sign-up; a removed member may not
        from accounts.services import organization_ensure_for_user

        organization_ensure_for_user(user=user_of(request))
        request._trail_memberships = None  # type: ignore[attr-defined]
        membership = current_membership(request)
        if membership is None:
            raise PermissionDenied("no organization")
    return membership


def posted_id(request: HttpRequest, field: str, what: str) -> int:
    """A numeric id from the form; anything else is the same error as an unknown id."""
    value = request.POST.get(field, "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ServiceError(f"no such {what}", field=field)
    return int(value)


# `inline` for a form that shows every error it is given (e.g. the funnel form's alert).
EVERY_FIELD = frozenset({"*"})


def error_message(
    request: HttpRequest, error: ServiceError, *, inline: Collection[str] = ()
) -> dict[str, str]:
    """Show a service error once: beside its field when the page shows that field's errors
    (`inline`, the template's `errors.<field>`; `EVERY_FIELD`: the form shows them all),
    else at the top of the page (messages). The field it names is marked either way."""
    if error.field not in inline and inline is not EVERY_FIELD:
        messages.error(request, error.message)
    return {error.field or "__all__": error.message}
