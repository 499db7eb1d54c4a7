"""django-allauth's adapter for Trail (settings.ACCOUNT_ADAPTER).

- Rate limits: allauth keys its login, sign-up and password-reset limits by
  `get_client_ip`. Its own guess reads `X-Forwarded-For` by a proxy count, or
  `REMOTE_ADDR`, which behind a proxy is the proxy: ten failed logins a minute from anyone
  would lock everyone out. Trail answers with the one rule of `common.clients`, the same
  address ingest and the guessing limits use.
- E-mails greet from "Trail" (`TRAIL_SITE`), not from the host the request came in on
  (without Django's sites framework allauth names the request's host, "127.0.0.1:8102").
- Invitations: an anonymous visitor who opened an invitation (`accounts.sessions`) has it
  accepted as soon as they are signed in, whether by confirming the address they signed up
  with (`ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION`) or by logging in; the inviting
  organization becomes the current one and they land on its sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

from accounts import sessions
from accounts.errors import ServiceError
from accounts.models import Membership, User
from accounts.services import invitation_accept
from common.clients import request_client_ip


@dataclass(frozen=True)
class MailSite:
    """What allauth's e-mail templates call `current_site`: a name and a domain."""

    name: str
    domain: str


def mail_site() -> MailSite:
    return MailSite(name="Trail", domain=urlsplit(settings.TRAIL.base_url).netloc)


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        ip = request_client_ip(request.META)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        super().send_mail(template_prefix, email, {**context, "current_site": mail_site()})

    def post_login(
        self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
    ) -> HttpResponse:
        if _accept_pending_invitation(request, user) is not None:
            kwargs["redirect_url"] = resolve_url(settings.LOGIN_REDIRECT_URL)
        return super().post_login(request, user, **kwargs)


def _accept_pending_invitation(request: HttpRequest, user: AbstractBaseUser) -> Membership | None:
    """Accept the invitation this browser opened before signing in, if any. A token that no
    longer works (used, expired, sent to another address) is reported and forgotten."""
    token = sessions.take_invitation(request)
    if not token or not isinstance(user, User):
        return None
    try:
        membership = invitation_accept(token=token, user=user)
    except ServiceError as exc:
        messages.error(request, f"The invitation was not accepted: {exc.message}.")
        return None
    request.session[sessions.ORGANIZATION_KEY] = membership.organization_id
    messages.success(request, f"You joined {membership.organization.name}.")
    return membership
