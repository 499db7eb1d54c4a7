"""Who calls Umami's read API: a token from `POST /api/auth/login`, or a Trail API key.

Umami's clients sign in with a user name and password and send the token they get back as
`Authorization: Bearer <token>`; Umami Cloud's clients send an API key the same way. Here
the user name is the Trail account's e-mail address, and the token is signed by Django
(`django.core.signing`, its own salt) and expires after `TOKEN_AGE`: it names the user and
carries a digest of the password hash, so changing the password ends every token made
before. A bearer value that starts with `trail_` is a Trail API key and goes to
`accounts.api.ApiKeyAuthentication` (its scopes, rate limit and guessing limits); so does
the value of Umami Cloud's `x-umami-api-key` header, checked the same way.

Sign-in attempts are limited as Trail's own login limits them (ten failures a minute per
client, five per address in five minutes: allauth's defaults), with the guessing guard of
`accounts.guessing`; over a limit, `429` with `Retry-After`, and the password is not
checked. Only an active account with a verified address signs in (Trail's login demands
verification too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import guessing
from accounts.api import ApiKeyAuthentication
from accounts.guessing import Guard
from accounts.models import ApiKey, User
from accounts.ratelimit import Window
from accounts.services import api_key_authenticate, api_key_prefix
from common.clients import request_client_ip

SALT = "trail.reports.umami.token"
TOKEN_AGE = 24 * 3600  # seconds
KEY_START = "trail_"
API_KEY_HEADER = "HTTP_X_UMAMI_API_KEY"  # Umami Cloud's `x-umami-api-key`

LOGINS = Guard(
    "umami-login",
    per_client=Window(limit=10, seconds=60),
    per_target=Window(limit=5, seconds=300),
)


@dataclass(frozen=True)
class Token:
    """request.auth of a request signed in with an Umami token."""

    user_id: int


def _password_tag(user: User) -> str:
    return hashlib.sha256(f"{SALT}:{user.password}".encode()).hexdigest()[:16]


def token_for(user: User) -> str:
    return signing.dumps({"u": user.pk, "p": _password_tag(user)}, salt=SALT, compress=True)


def user_for(token: str) -> User | None:
    """The active user a live token names, else None (forged, expired, password changed)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=TOKEN_AGE)
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"], is_active=True).first()
    if user is None or data.get("p") != _password_tag(user):
        return None
    return user


def login(*, request: HttpRequest, email: str, password: str) -> User | None:
    """The user these credentials sign in, or None; Throttled over the guessing limits."""
    address = email.strip().lower()
    # The address is counted (and logged) by a digest: cache keys stay plain ASCII, logs
    # name no person.
    client, target = (
        request_client_ip(request.META),
        hashlib.sha256(address.encode()).hexdigest()[:16],
    )
    wait = LOGINS.wait(client_ip=client, target=target)
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail="too many failed sign-ins.")
    user = authenticate(request, email=address, password=password)
    verified = (
        user is not None
        and user.is_active
        and EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
    )
    if not verified or not isinstance(user, User):
        LOGINS.failed(client_ip=client, target=target)
        return None
    return user


def _api_key(request: Request, raw: str) -> tuple[AnonymousUser, ApiKey]:
    """`x-umami-api-key: <Trail API key>` (Umami Cloud's header), checked as a bearer key is:
    the same guessing limits per client and key prefix, the same 401."""
    client, target = request_client_ip(request.META), api_key_prefix(raw)
    wait = guessing.API_KEYS.wait(client_ip=client, target=target)
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail="too many wrong API keys.")
    key = api_key_authenticate(raw) if raw.startswith(KEY_START) else None
    if key is None:
        guessing.API_KEYS.failed(client_ip=client, target=target)
        raise exceptions.AuthenticationFailed("invalid or revoked API key")
    return AnonymousUser(), key


class UmamiAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token or Trail API key>`, or Umami Cloud's `x-umami-api-key:
    <Trail API key>` when there is no Authorization header; anything else bearing is a 401."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            api_key = request.META.get(API_KEY_HEADER)
            return None if api_key is None else _api_key(request, api_key.strip())
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            raise exceptions.AuthenticationFailed("expected Authorization: Bearer <token>")
        raw = raw.strip()
        if raw.startswith(KEY_START):
            found: tuple[Any, ApiKey] | None = ApiKeyAuthentication().authenticate(request)
            return found
        user = user_for(raw) if raw else None
        if user is None:
            raise exceptions.AuthenticationFailed("invalid or expired token")
        return user, Token(user_id=user.pk)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="trail"'


class UmamiTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's name for UmamiAuthentication (registered by being defined)."""

    target_class = UmamiAuthentication
    name = "umamiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Umami's read API: `Authorization: Bearer <token>` with the token"
            " from `POST /api/auth/login` (24 hours), or a Trail API key with `stats:read`.",
        }
