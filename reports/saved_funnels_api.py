"""`GET /api/v1/sites/{domain}/funnels/{funnel_id}/query?date_range=`: a saved funnel computed
over a date range, as `POST /api/v1/funnels/query` computes the same steps (its answer).

Scope `stats:read` for API keys (it reads events); signed-in members may call it for their
sites. `date_range` is the Stats API's preset (default "30d") or `YYYY-MM-DD,YYYY-MM-DD`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView, actor
from accounts.api_shared import error_responses, object_id
from accounts.errors import NotFound
from accounts.models import Scope
from reports import funnels
from reports.context import load_context
from reports.funnels_api import RESPONSE_SCHEMA
from reports.properties_api import DATE_RANGE, date_range_of
from sites import selectors
from sites.api import DOMAIN
from sites.funnels import step_body


class SavedFunnelQueryView(TrailApiView):
    required_scope = Scope.STATS_READ

    @extend_schema(
        operation_id="site_funnel_query",
        summary="Compute a saved funnel",
        parameters=[
            DOMAIN,
            OpenApiParameter(
                "funnel_id",
                int,
                OpenApiParameter.PATH,
                description="the saved funnel's id",
                examples=[OpenApiExample("a funnel", value=3)],
            ),
            DATE_RANGE,
        ],
        responses={
            200: OpenApiResponse(response=RESPONSE_SCHEMA, description="the funnel"),
            **error_responses(400, 404),
        },
    )
    def get(self, request: Request, domain: str, funnel_id: str) -> Response:
        site = selectors.site_get_for_actor(actor=actor(request), domain=domain)
        funnel = selectors.funnel_get(site=site, funnel_id=object_id(funnel_id, "funnel"))
        if funnel is None:
            raise NotFound("funnel")
        body = {
            "site_id": site.domain,
            "date_range": date_range_of(request),
            "steps": [step_body(step["type"], step["value"]) for step in funnel.steps],
            "window": funnel.window,
        }
        query = funnels.parse(body, site=site, context=load_context(site, body))
        return Response(funnels.compute(site=site, query=query))
