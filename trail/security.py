"""Security headers Django's own middleware does not set: the Content-Security-Policy.

Every page's scripts and styles come from Trail's static files (no inline `<script>`, no
`on…=` attribute, no `style=` attribute); data for scripts travels in `data-*` attributes
or `<script type="application/json">` blocks, which the policy does not run. Nothing is
framed, not even the shared dashboard (docs/architecture.md, "Security headers").

`X-Forwarded-Proto` is believed only from a peer in `TRAIL_TRUSTED_PROXIES` (the rule of
`X-Forwarded-For`), so that `request.is_secure()` cannot be forged by a client that
reaches Trail directly.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.clients import ip_within

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """First in MIDDLEWARE: it vets the forwarded scheme before SecurityMiddleware reads it
    and adds the policy to every answer Django gives (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        peer = request.META.get("REMOTE_ADDR", "")
        if not ip_within(peer, settings.TRAIL.ingest.trusted_proxies):
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
