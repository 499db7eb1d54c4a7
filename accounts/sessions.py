"""What a person's session remembers for the accounts layer.

`ORGANIZATION_KEY`: the organization a signed-in person works in (the header's switcher;
`frontend.context.current_membership` reads it). `INVITATION_KEY`: the raw token of the
invitation an anonymous visitor opened, kept across sign-up, e-mail verification and log
in, so the invitation is accepted the moment they are signed in (`accounts.adapter`).
"""

from __future__ import annotations

from django.http import HttpRequest

ORGANIZATION_KEY = "trail_organization"
INVITATION_KEY = "trail_invitation"


def remember_invitation(request: HttpRequest, token: str) -> None:
    request.session[INVITATION_KEY] = token


def take_invitation(request: HttpRequest) -> str:
    """The remembered invitation token ("" if none), forgotten as it is read."""
    token = request.session.pop(INVITATION_KEY, "")
    return token if isinstance(token, str) else ""
