"""`GET /api/v1/stats/…`: Plausible's Stats API v1, answered by Trail's Stats API v2.

Each view resolves the site (`site_id`, a domain, for this key or member: another
tenant's is 404), translates the query parameters into a v2 body
(`reports.plausible_v1.params`), asks `reports.stats.answer` and shapes its answer as v1's.
Realtime visitors reuse the realtime module's count of the last 5 minutes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.errors import ServiceError
from accounts.models import Scope
from reports import dates, realtime
from reports.context import site_goals
from reports.plausible_v1 import answers as v1_answers
from reports.plausible_v1 import params as v1
from reports.sql.builder import run
from reports.stats import answer
from reports.stats_schema import ERROR_SCHEMA
from sites.models import Site
from sites.selectors import site_get_for_actor


def _site(request: Request) -> Site:
    domain = request.query_params.get("site_id", "")
    if not domain.strip():
        raise ServiceError("required: the site's domain", field="site_id")
    return site_get_for_actor(actor=actor(request), domain=domain.strip())


def _params(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in request.query_params}


Translate = Callable[..., v1.Translation]
Shape = Callable[[v1.Translation, Any], dict[str, Any]]


def _answer(request: Request, translate: Translate, shape: Shape, dimension_param: str) -> Response:
    site = _site(request)
    params = _params(request)
    goals = site_goals(site) if v1.mentions_goals(params) else ()
    today = dates.today_in(site.timezone)
    translation = translate(params, domain=site.domain, today=today, goals=goals)
    try:
        result = answer(site=site, body=translation.body)
    except ServiceError as exc:  # v2's words for a v1 parameter
        field = v1.v1_field(exc.field, dimension_param=dimension_param)
        raise ServiceError(exc.message, field=field) from None
    return Response(shape(translation, result))


def _parameter(name: str, description: str, *, required: bool = False, **extra: Any) -> Any:
    return OpenApiParameter(
        name, str, OpenApiParameter.QUERY, required=required, description=description, **extra
    )


SITE_ID = _parameter("site_id", "the site's domain", required=True)
PERIOD = _parameter(
    "period",
    "12mo, 6mo, month, 30d (default), 7d, day or custom (with date=A,B); relative to `date`",
    enum=list(v1.PERIODS),
)
DATE = _parameter(
    "date", "YYYY-MM-DD (default today in the site's time zone); for custom: YYYY-MM-DD,YYYY-MM-DD"
)
METRICS = _parameter("metrics", f"comma-separated, default visitors; of {', '.join(v1.METRICS)}")
FILTERS = _parameter(
    "filters",
    "`property==value` joined by `;` (AND); `!=`, `~` (contains), `!~`; `a|b` any of; `*`"
    " wildcard, e.g. event:page==/blog/**;visit:country==DE|FR",
)
WITH_IMPORTED = _parameter("with_imported", "accepted; Trail holds no imported stats")
COMMON = [SITE_ID, PERIOD, DATE, METRICS, FILTERS, WITH_IMPORTED]
NUMBER = {"type": "number", "nullable": True}
ERRORS = {
    400: OpenApiResponse(response=ERROR_SCHEMA, description="a bad parameter, named"),
    401: OpenApiResponse(response=ERROR_SCHEMA, description="no or a wrong API key"),
    403: OpenApiResponse(response=ERROR_SCHEMA, description="the key lacks stats:read"),
    404: OpenApiResponse(response=ERROR_SCHEMA, description="no such site for this key or user"),
    429: OpenApiResponse(
        response=ERROR_SCHEMA, description="over the key's rate limit (Retry-After)"
    ),
}
ROWS = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": {
                    "oneOf": [{"type": "string"}, {"type": "number"}],
                    "nullable": True,
                },
            },
        }
    },
}


class _StatsV1View(TrailApiView):
    required_scope = Scope.STATS_READ.value


class RealtimeVisitorsView(_StatsV1View):
    @extend_schema(
        summary="Visitors now (Plausible Stats API v1)",
        description="The unique visitors with an event in the last 5 minutes, as a bare number.",
        parameters=[SITE_ID],
        responses={
            200: OpenApiResponse(response={"type": "integer", "example": 21}, description="now"),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        site = _site(request)
        rows = run(
            realtime.current_visitors_select(
                site=site, window=realtime.Window(now=dt.datetime.now(dt.UTC))
            )
        )
        return Response(int(rows[0]["visitors"]) if rows else 0)


class AggregateView(_StatsV1View):
    @extend_schema(
        summary="Aggregate metrics (Plausible Stats API v1)",
        description="Metrics over a period, optionally filtered and compared with the period"
        " before (`compare=previous_period`).",
        parameters=[
            *COMMON,
            _parameter("compare", "previous_period: add comparison_value and change"),
        ],
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "required": ["results"],
                    "properties": {
                        "results": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {
                                    "value": NUMBER,
                                    "comparison_value": NUMBER,
                                    "change": NUMBER,
                                },
                            },
                        }
                    },
                },
                description="each metric's value",
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Visitors and bounce rate, compared",
                value={
                    "results": {
                        "visitors": {"value": 412, "comparison_value": 380, "change": 8},
                        "bounce_rate": {"value": 41, "comparison_value": 45, "change": -4.0},
                    }
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return _answer(request, v1.aggregate, v1_answers.aggregate_results, "metrics")


class TimeseriesView(_StatsV1View):
    @extend_schema(
        summary="Time series (Plausible Stats API v1)",
        description="Metrics per hour, day, week or month of a period, every bucket listed.",
        parameters=[
            *COMMON,
            _parameter(
                "interval",
                "date (a day), month; also hour and week. Default: hour for period=day,"
                " month for 6mo and 12mo, else date",
                enum=list(v1.INTERVALS),
            ),
        ],
        responses={200: OpenApiResponse(response=ROWS, description="one row a bucket"), **ERRORS},
        examples=[
            OpenApiExample(
                "Two days",
                value={
                    "results": [
                        {"date": "2026-11-01", "visitors": 31},
                        {"date": "2026-11-02", "visitors": 0},
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return _answer(request, v1.timeseries, v1_answers.timeseries_results, "interval")


class BreakdownView(_StatsV1View):
    @extend_schema(
        summary="Breakdown (Plausible Stats API v1)",
        description="Metrics by the values of one property, best first, paged.",
        parameters=[
            *COMMON,
            _parameter(
                "property",
                "event:page, event:goal, visit:source, …, or event:props:<name>",
                required=True,
            ),
            _parameter("limit", f"1 to {v1.MAX_LIMIT} rows (default {v1.DEFAULT_LIMIT})"),
            _parameter("page", "the page of `limit` rows, from 1"),
        ],
        responses={200: OpenApiResponse(response=ROWS, description="one row a value"), **ERRORS},
        examples=[
            OpenApiExample(
                "Top sources",
                value={
                    "results": [
                        {"source": "Direct / None", "visitors": 120, "bounce_rate": 48},
                        {"source": "Google", "visitors": 64, "bounce_rate": 55},
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return _answer(request, v1.breakdown, v1_answers.breakdown_results, "property")
