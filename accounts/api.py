"""What every Trail API view shares: API key authentication, scopes, per-key rate limits,
and errors as `{"error": "..."}` naming the field at fault."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from accounts import guessing, ratelimit
from accounts.errors import Forbidden, NotFound, ServiceError
from accounts.models import SCOPE_INCLUDES, ApiKey
from accounts.ratelimit import Window
from accounts.services import api_key_authenticate, api_key_prefix
from common.clients import request_client_ip


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer trail_…`: request.auth is the ApiKey, request.user anonymous.

    Wrong keys are counted per client and per key prefix (`accounts.guessing`): over
    either limit, `429` with `Retry-After`, and the key is not checked."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None
        raw = raw.strip()
        client, target = request_client_ip(request.META), api_key_prefix(raw)
        wait = guessing.API_KEYS.wait(client_ip=client, target=target)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="too many wrong API keys.")
        key = api_key_authenticate(raw) if raw else None
        if key is None:
            guessing.API_KEYS.failed(client_ip=client, target=target)
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="trail"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's name for ApiKeyAuthentication (registered by being defined)."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "trail_<prefix>_<secret>",
            "description": "`Authorization: Bearer <API key>`. Keys are made in Trail under"
            " Settings → API keys (owners and admins), act for one organization, and carry"
            " scopes: `stats:read` (stats, funnels, realtime, property keys, event exports),"
            " `events:write` (the events batch), `sites:read` and `sites:manage` (sites, goals,"
            " funnels, shared links, settings), `members:read` and `members:manage` (members,"
            " invitations, API keys); a manage scope includes its read scope. A key may be"
            " limited to some sites: others answer 404. A missing, wrong or revoked key"
            " answers 401, a missing scope 403, too many requests 429 with `Retry-After`.",
        }


def actor(request: Request) -> Any:
    """Who acts: the API key when one authenticated the request, else the session user."""
    return request.auth if isinstance(request.auth, ApiKey) else request.user


class HasScope(BasePermission):
    """Keys need the view's `required_scope` (its `read_scope`, when it has one, for GET and
    HEAD); signed-in users need only be signed in (their role is checked by the site
    selector and the services)."""

    message = "authentication required: send Authorization: Bearer <API key>"

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if isinstance(key, ApiKey):
            scope = getattr(view, "required_scope", "")
            if request.method in ("GET", "HEAD", "OPTIONS"):
                scope = getattr(view, "read_scope", "") or scope
            if not key.has_scope(scope):
                wider = [w for w, included in SCOPE_INCLUDES.items() if included == scope]
                also = f" ({wider[0]} includes it)" if wider else ""
                self.message = f"this API key lacks the {scope} scope{also}"
                return False
            return True
        return bool(request.user and request.user.is_authenticated)


class ApiKeyRateLimit(BasePermission):
    """A fixed one-minute window per key, sized by the key's `rate_limit_per_minute`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        window = Window(limit=key.rate_limit_per_minute, seconds=60)
        wait = ratelimit.hit(bucket=f"key:{key.prefix}", window=window)
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        return True


class RawBody(BaseParser):
    """Leaves the body to the view, which reads it strictly itself (ingest: UTF-8 and size
    limits; reports: a malformed body is a 400 naming `body`, which DRF words otherwise)."""

    media_type = "*/*"

    def parse(
        self, stream: object, media_type: str | None = None, parser_context: object = None
    ) -> None:
        return None


class TrailApiView(APIView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasScope, ApiKeyRateLimit]
    required_scope = ""
    read_scope = ""  # for GET and HEAD, when reading needs less than writing


def _flatten(detail: Any, prefix: str = "") -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        name = field if field != "non_field_errors" else ""
        return _flatten(value, f"{prefix}.{name}" if prefix and name else name or prefix)
    if isinstance(detail, list) and detail:
        return _flatten(detail[0], prefix)
    return f"{prefix}: {detail}" if prefix else str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return Response({"error": message}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, NotFound | Http404):
        return Response({"error": "not found"}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Forbidden):
        return Response({"error": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    response = exception_handler(exc, context)
    if response is not None:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        response.data = {"error": _flatten(detail)}
    return response
