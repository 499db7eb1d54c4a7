"""Umami's read API under `/api/`: sign-in, websites and their stats (docs/umami-api.md).

Errors answer Umami's way, `{"error": {"message": "<parameter>: …", "code": …, "status":
…}}`: 400 naming the bad parameter, 401 without or with a bad token, 403 for a key
without `stats:read`, 404 for a website that is not the caller's (another tenant's, or
none), 429 over a rate or guessing limit.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ApiKeyRateLimit, HasScope, RawBody, actor
from accounts.errors import ServiceError
from accounts.models import Scope, User
from reports.api import json_object
from reports.umami import auth, reads
from reports.umami import schema as s
from sites.models import Site
from sites.selectors import site_get_by_public_id_for_actor, sites_for_actor

CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    429: "too-many-requests",
}


class UmamiView(APIView):
    """Umami's bearer tokens or Trail keys (`stats:read`), and Umami's error shape."""

    authentication_classes = [auth.UmamiAuthentication]
    permission_classes = [HasScope, ApiKeyRateLimit]
    required_scope = Scope.STATS_READ.value

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        error = response.data.get("error") if isinstance(response.data, dict) else None
        if isinstance(error, str):
            status = response.status_code
            response.data = {
                "error": {"message": error, "code": CODES.get(status, "error"), "status": status}
            }
        return response


def _site(request: Request, website_id: str) -> Site:
    """The caller's live site whose public id is `website_id`; anything else is 404."""
    return site_get_by_public_id_for_actor(actor=actor(request), public_id=website_id)


def _user(user: User) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "username": user.email,
        "role": "admin" if user.is_superuser else "user",
        "isAdmin": bool(user.is_superuser),
        "createdAt": user.date_joined.isoformat(),
    }


def _credentials(request: Request) -> tuple[str, str]:
    body = json_object(request)
    found = []
    for name in ("username", "password"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise ServiceError("required: text", field=name)
        if len(value) > 1024 or "\x00" in value:
            raise ServiceError("at most 1,024 characters, no NUL", field=name)
        found.append(value)
    return found[0], found[1]


class LoginView(UmamiView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBody]

    @extend_schema(
        summary="Sign in (Umami)",
        operation_id="umami_login",
        description="Umami's sign-in: the Trail account's e-mail address as `username` and"
        " its password. The token answers for 24 hours as `Authorization: Bearer <token>`.",
        auth=[],
        request={"application/json": s.LOGIN_REQUEST},
        responses={
            200: OpenApiResponse(response=s.LOGIN_RESPONSE, description="signed in"),
            400: OpenApiResponse(response=s.ERROR, description="a bad body, naming the field"),
            401: OpenApiResponse(response=s.ERROR, description="wrong e-mail or password"),
            429: OpenApiResponse(response=s.ERROR, description="too many failed sign-ins"),
        },
        examples=[
            OpenApiExample(
                "Sign in",
                value={"username": "me@example.com", "password": "correct horse"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        email, password = _credentials(request)
        user = auth.login(request=request._request, email=email, password=password)
        if user is None:
            return Response(
                {
                    "error": {
                        "message": "incorrect username or password",
                        "code": "unauthorized",
                        "status": 401,
                    }
                },
                status=401,
            )
        return Response({"token": auth.token_for(user), "user": _user(user)})


class HeartbeatView(UmamiView):
    """Umami's liveness check: no token; says only that Trail answers (`/healthz` is
    Trail's own, `/readyz` checks its backends)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Liveness (Umami)",
        operation_id="umami_heartbeat",
        description='Umami\'s heartbeat: `{"ok": true}` while Trail answers; no token.',
        auth=[],
        responses={200: OpenApiResponse(response=s.HEARTBEAT, description="Trail answers")},
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class VerifyView(UmamiView):
    @extend_schema(
        summary="Check a token (Umami)",
        operation_id="umami_verify",
        responses={
            200: OpenApiResponse(response=s.USER, description="the signed-in user"),
            401: OpenApiResponse(response=s.ERROR, description="no, a wrong or an expired token"),
            403: OpenApiResponse(response=s.ERROR, description="a key without stats:read"),
        },
    )
    def get(self, request: Request) -> Response:
        if isinstance(request.user, AnonymousUser):  # a Trail API key: no person
            return Response({"id": None, "username": None, "role": "api-key", "isAdmin": False})
        return Response(_user(request.user))

    @extend_schema(
        summary="Check a token (Umami)",
        operation_id="umami_verify_post",
        request=None,
        responses={
            200: OpenApiResponse(response=s.USER, description="the signed-in user"),
            401: OpenApiResponse(response=s.ERROR, description="no, a wrong or an expired token"),
            403: OpenApiResponse(response=s.ERROR, description="a key without stats:read"),
        },
    )
    def post(self, request: Request) -> Response:
        return self.get(request)


COMMON = {
    401: OpenApiResponse(response=s.ERROR, description="no, a wrong or an expired token"),
    403: OpenApiResponse(response=s.ERROR, description="a Trail key without stats:read"),
    404: OpenApiResponse(response=s.ERROR, description="no such website for this caller"),
    429: OpenApiResponse(response=s.ERROR, description="over the key's rate limit"),
}
BAD = {400: OpenApiResponse(response=s.ERROR, description="a bad parameter, named")}


class WebsitesView(UmamiView):
    @extend_schema(
        summary="Websites (Umami)",
        operation_id="umami_websites_list",
        examples=s.EXAMPLES["websites"],
        parameters=s.PAGE + [s.SEARCH],
        responses={
            200: OpenApiResponse(response=s.WEBSITES, description="a page"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request) -> Response:
        number, size = reads.p.page(request.query_params)
        sites = sites_for_actor(actor=actor(request))
        search = reads.p.text(request.query_params, "search") or reads.p.text(
            request.query_params, "query"
        )
        if search:
            sites = sites.filter(domain__icontains=search)
        count = sites.count()
        chosen = sites[(number - 1) * size : number * size]
        return Response(
            {
                "data": [reads.website(site) for site in chosen],
                "count": count,
                "page": number,
                "pageSize": size,
            }
        )


class WebsiteView(UmamiView):
    @extend_schema(
        summary="A website (Umami)",
        operation_id="umami_website",
        examples=s.EXAMPLES["website"],
        parameters=[s.WEBSITE_ID],
        responses={200: OpenApiResponse(response=s.WEBSITE, description="the website"), **COMMON},
    )
    def get(self, request: Request, website_id: str) -> Response:
        return Response(reads.website(_site(request, website_id)))


class StatsView(UmamiView):
    @extend_schema(
        summary="Website stats (Umami)",
        operation_id="umami_website_stats",
        examples=s.EXAMPLES["stats"],
        parameters=[s.WEBSITE_ID, *s.RANGE, s.COMPARE, *s.FILTERS],
        responses={
            200: OpenApiResponse(response=s.STATS, description="the summary"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.stats(site, request.query_params))


class PageviewsView(UmamiView):
    @extend_schema(
        summary="Pageviews and sessions over time (Umami)",
        operation_id="umami_website_pageviews",
        examples=s.EXAMPLES["pageviews"],
        parameters=[s.WEBSITE_ID, *s.RANGE, s.UNIT, *s.FILTERS],
        responses={
            200: OpenApiResponse(response=s.PAGEVIEWS, description="the series"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.pageviews(site, request.query_params))


class MetricsView(UmamiView):
    @extend_schema(
        summary="Top values of a dimension (Umami)",
        operation_id="umami_website_metrics",
        examples=s.EXAMPLES["metrics"],
        parameters=[s.WEBSITE_ID, *s.RANGE, s.TYPE, s.LIMIT, s.OFFSET, s.VALUE_SEARCH, *s.FILTERS],
        responses={
            200: OpenApiResponse(response=s.METRICS, description="largest first"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.metrics(site, request.query_params))


class ActiveView(UmamiView):
    @extend_schema(
        summary="Visitors in the last 5 minutes (Umami)",
        operation_id="umami_website_active",
        examples=s.EXAMPLES["active"],
        parameters=[s.WEBSITE_ID],
        responses={200: OpenApiResponse(response=s.ACTIVE, description="visitors now"), **COMMON},
    )
    def get(self, request: Request, website_id: str) -> Response:
        return Response(reads.active(_site(request, website_id)))


class EventsView(UmamiView):
    @extend_schema(
        summary="Recent events (Umami)",
        operation_id="umami_website_events",
        examples=s.EXAMPLES["events"],
        parameters=[s.WEBSITE_ID, *s.RANGE[:2], *s.PAGE],
        responses={
            200: OpenApiResponse(response=s.EVENTS, description="newest first"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.events(site, request.query_params))


class DaterangeView(UmamiView):
    @extend_schema(
        summary="First and last event (Umami)",
        operation_id="umami_website_daterange",
        examples=s.EXAMPLES["daterange"],
        parameters=[s.WEBSITE_ID],
        responses={
            200: OpenApiResponse(response=s.DATERANGE, description="the instants, UTC"),
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        return Response(reads.daterange(_site(request, website_id)))


class MetricsExpandedView(UmamiView):
    @extend_schema(
        summary="Top values of a dimension, every count (Umami)",
        operation_id="umami_website_metrics_expanded",
        examples=s.EXAMPLES["expanded"],
        parameters=[
            s.WEBSITE_ID,
            *s.RANGE,
            s.TYPE,
            s.LIMIT,
            s.OFFSET,
            s.VALUE_SEARCH,
            s.COMPARE,
            *s.FILTERS,
        ],
        responses={
            200: OpenApiResponse(response=s.EXPANDED, description="most visitors first"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.metrics_expanded(site, request.query_params))


class EventSeriesView(UmamiView):
    @extend_schema(
        summary="Custom events over time (Umami)",
        operation_id="umami_website_events_series",
        examples=s.EXAMPLES["event_series"],
        parameters=[s.WEBSITE_ID, *s.RANGE, s.UNIT, *s.FILTERS],
        responses={
            200: OpenApiResponse(response=s.EVENT_SERIES, description="oldest bucket first"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.events_series(site, request.query_params))


class SessionStatsView(UmamiView):
    @extend_schema(
        summary="Session summary (Umami)",
        operation_id="umami_website_sessions_stats",
        examples=s.EXAMPLES["session_stats"],
        parameters=[s.WEBSITE_ID, *s.RANGE, *s.FILTERS],
        responses={
            200: OpenApiResponse(response=s.SESSION_STATS, description="each count a value"),
            **BAD,
            **COMMON,
        },
    )
    def get(self, request: Request, website_id: str) -> Response:
        site = _site(request, website_id)
        return Response(reads.session_stats(site, request.query_params))
