"""`POST /api/v1/events`: the native batch API for servers (API key, scope `events:write`).

Up to 1,000 events a request, each with its own `domain`, optional `timestamp`,
`event_id`, `ip` and `user_agent`. Answers `202 {"accepted": n, "rejected": [{"index": i,
"reason": "..."}]}`: an item that is malformed, dropped by a step or for a site outside
the key's organization (`unknown_site`, as if it did not exist) is rejected alone; the
others are durable when the answer comes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import RawBody, TrailApiView
from accounts.models import ApiKey, Scope
from common.clients import request_client_ip
from events.ingest.edge import IngestUnavailable, collector
from events.ingest.request import (
    MAX_BATCH_BODY,
    BadRequest,
    batch_items,
    from_batch_item,
    parse_json,
    read_body,
)
from events.ingest.steps import Incoming


class EventBatchView(TrailApiView):
    required_scope = Scope.EVENTS_WRITE.value
    parser_classes = [RawBody]

    @extend_schema(
        summary="Send a batch of events (server-side ingest)",
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "events": {
                        "type": "array",
                        "maxItems": 1000,
                        "items": {
                            "type": "object",
                            "required": ["domain", "name", "url"],
                            "properties": {
                                "domain": {"type": "string"},
                                "name": {"type": "string", "maxLength": 120},
                                "url": {"type": "string", "maxLength": 2000},
                                "referrer": {"type": "string"},
                                "props": {"type": "object"},
                                "timestamp": {
                                    "description": "ISO-8601 or epoch ms; ≤ 5 min ahead",
                                    "oneOf": [{"type": "string"}, {"type": "integer"}],
                                },
                                "event_id": {"type": "string", "maxLength": 128},
                                "ip": {"type": "string"},
                                "user_agent": {"type": "string"},
                                "screen_width": {"type": "integer"},
                                "sd": {
                                    "type": "integer",
                                    "description": "engagement events: scroll depth 0–100",
                                },
                                "e": {
                                    "type": "integer",
                                    "description": "engagement events: engaged ms",
                                },
                                "revenue": {
                                    "type": "object",
                                    "properties": {
                                        "amount": {"type": "number"},
                                        "currency": {"type": "string"},
                                    },
                                },
                            },
                        },
                    }
                },
            }
        },
        responses={
            202: OpenApiResponse(description='{"accepted": n, "rejected": [{index, reason}]}'),
            400: OpenApiResponse(description='{"error": "..."} naming the field'),
            413: OpenApiResponse(description="over 8 MiB or over 1,000 events"),
            503: OpenApiResponse(description="backlog full: retry after Retry-After seconds"),
        },
        examples=[
            OpenApiExample(
                "one pageview",
                value={
                    "events": [
                        {
                            "domain": "example.com",
                            "name": "pageview",
                            "url": "https://example.com/pricing",
                            "event_id": "order-42-view",
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        key = request.auth
        if not isinstance(key, ApiKey):
            return _error("send an API key with the events:write scope", 403)
        try:
            raw = request.body
        except RequestDataTooBig:
            return _error(f"body too large: at most {MAX_BATCH_BODY} bytes", 413)
        meta = request.META
        try:
            body = read_body(raw, meta.get("HTTP_CONTENT_ENCODING", ""), MAX_BATCH_BODY)
            items = batch_items(parse_json(body))
        except BadRequest as exc:
            return _error(exc.message, exc.status)
        now = dt.datetime.now(dt.UTC)
        request_ip = request_client_ip(meta)
        # A key limited to some sites sends to those only (one query per batch).
        site_ids = frozenset(key.sites.values_list("pk", flat=True)) if key.site_limited else None
        rejected: list[dict[str, Any]] = []
        incomings: list[Incoming] = []
        positions: list[int] = []
        for index, item in enumerate(items):
            try:
                event = from_batch_item(item, now)
            except BadRequest as exc:
                rejected.append({"index": index, "reason": exc.message})
                continue
            incomings.append(
                Incoming(
                    event=event,
                    ip=event.ip or request_ip,
                    # No user agent given: the server's own would make every event a bot.
                    user_agent=event.user_agent,
                    received_at=now,
                    trusted=True,
                    organization_id=key.organization_id,
                    site_ids=site_ids,
                )
            )
            positions.append(index)
        try:
            outcome = collector().accept(incomings)
        except IngestUnavailable as exc:
            response = _error(exc.message, 503)
            response["Retry-After"] = str(exc.retry_after)
            return response
        rejected.extend(
            {"index": positions[index], "reason": reason} for index, reason in outcome.drops
        )
        rejected.sort(key=lambda item: item["index"])
        return Response({"accepted": outcome.accepted, "rejected": rejected}, status=202)


def _error(message: str, status: int) -> Response:
    return Response({"error": message}, status=status)
