"""The OpenAPI description of Umami's read API (reports/umami/views.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from reports.umami.params import FILTERS as FILTER_NAMES
from reports.umami.params import MAX_MS
from reports.umami.reads import EXPANDED_FIELDS, MAX_LIMIT, UNIT_ORDER
from reports.umami.reads import METRICS as TYPES
from reports.umami.reads import STATS as STAT_NAMES

COUNT: dict[str, Any] = {"type": "integer"}
TEXT: dict[str, Any] = {"type": "string"}
NULLABLE_TEXT: dict[str, Any] = {"type": "string", "nullable": True}

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {**TEXT, "example": "startAt: required"},
                "code": {**TEXT, "example": "bad-request"},
                "status": {**COUNT, "example": 400},
            },
        }
    },
}
LOGIN_REQUEST = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {**TEXT, "description": "the Trail account's e-mail address"},
        "password": TEXT,
    },
}
USER = {
    "type": "object",
    "properties": {
        "id": NULLABLE_TEXT,
        "username": NULLABLE_TEXT,
        "role": TEXT,
        "isAdmin": {"type": "boolean"},
        "createdAt": TEXT,
    },
}
LOGIN_RESPONSE = {"type": "object", "properties": {"token": TEXT, "user": USER}}
HEARTBEAT = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
WEBSITE = {
    "type": "object",
    "properties": {
        "id": {**TEXT, "format": "uuid", "description": "the id Umami's tracker sends"},
        "name": TEXT,
        "domain": TEXT,
        "shareId": NULLABLE_TEXT,
        "resetAt": NULLABLE_TEXT,
        "userId": NULLABLE_TEXT,
        "teamId": NULLABLE_TEXT,
        "createdBy": NULLABLE_TEXT,
        "createdAt": TEXT,
        "updatedAt": TEXT,
        "deletedAt": NULLABLE_TEXT,
    },
}


def _paged(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": item},
            "count": COUNT,
            "page": COUNT,
            "pageSize": COUNT,
        },
    }


WEBSITES = _paged(WEBSITE)
_COUNTS: dict[str, Any] = {name: COUNT for name in STAT_NAMES}
_SUMMARY = {"type": "object", "properties": _COUNTS}
STATS = {"type": "object", "properties": {**_COUNTS, "comparison": _SUMMARY}}
_POINT = {
    "type": "object",
    "properties": {"x": {**TEXT, "example": "2026-12-06 00:00:00"}, "y": COUNT},
}
PAGEVIEWS = {
    "type": "object",
    "properties": {
        "pageviews": {"type": "array", "items": _POINT},
        "sessions": {"type": "array", "items": _POINT},
    },
}
METRICS = {
    "type": "array",
    "items": {"type": "object", "properties": {"x": NULLABLE_TEXT, "y": COUNT}},
}
ACTIVE = {"type": "object", "properties": {"visitors": COUNT, "x": COUNT}}
_INSTANT: dict[str, Any] = {"type": "string", "format": "date-time", "nullable": True}
DATERANGE = {
    "type": "object",
    "properties": {
        "mindate": {**_INSTANT, "description": "the first event (null: no events)"},
        "maxdate": {**_INSTANT, "description": "the last event (null: no events)"},
        "startDate": {**_INSTANT, "description": "mindate again (Umami's client's name)"},
        "endDate": {**_INSTANT, "description": "maxdate again (Umami's client's name)"},
    },
}
EXPANDED = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"name": NULLABLE_TEXT, **{n: COUNT for n in EXPANDED_FIELDS[1:]}},
    },
}
EVENT_SERIES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "x": {**TEXT, "description": "the event name"},
            "t": {**TEXT, "example": "2026-12-06 00:00:00", "description": "the bucket"},
            "y": COUNT,
        },
    },
}
_VALUE = {"type": "object", "properties": {"value": COUNT}}
SESSION_STATS = {
    "type": "object",
    "properties": {n: _VALUE for n in ("pageviews", "visitors", "visits", "countries", "events")},
}
EVENTS = _paged(
    {
        "type": "object",
        "properties": {
            "id": TEXT,
            "websiteId": TEXT,
            "sessionId": TEXT,
            "createdAt": TEXT,
            "hostname": TEXT,
            "urlPath": TEXT,
            "urlQuery": TEXT,
            "referrerPath": TEXT,
            "referrerQuery": TEXT,
            "referrerDomain": TEXT,
            "pageTitle": TEXT,
            "eventType": {**COUNT, "description": "1 a pageview, 2 a custom event"},
            "eventName": TEXT,
        },
    }
)


def _query(name: str, kind: Any = str, **options: Any) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, **options)


WEBSITE_ID = OpenApiParameter(
    "website_id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="the website's id (Trail's site public id, the one Umami's tracker sends)",
)
_MS = {"type": "integer", "minimum": 0, "maximum": MAX_MS}
RANGE = [
    _query("startAt", _MS, required=True, description="epoch milliseconds"),
    _query("endAt", _MS, required=True, description="epoch milliseconds, after startAt"),
    _query("timezone", description="an IANA time zone (default: the site's)"),
]
COMPARE = _query("compare", enum=["prev", "yoy"], description="the comparison period")
UNIT = _query(
    "unit",
    enum=list(UNIT_ORDER),
    description="the bucket (default day); finer than the range allows: the finest allowed",
)
TYPE = _query("type", required=True, enum=list(TYPES), description="the dimension")
LIMIT = _query(
    "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, description="default 500"
)
OFFSET = _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000})
PAGE = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, description="from 1"),
    _query(
        "pageSize", {"type": "integer", "minimum": 1, "maximum": 1_000}, description="default 10"
    ),
]
SEARCH = _query("search", description="a part of the domain")
VALUE_SEARCH = _query("search", description="only the values containing it (any case)")
FILTERS = [_query(name, description=f"only {name} equal to this") for name in FILTER_NAMES]


def answer_example(name: str, value: Any) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True, status_codes=["200"])]


_WEBSITE_EXAMPLE = {
    "id": "4f0d3c1e-8a5b-4c49-9b1f-2f6a7d0e5c11",
    "name": "example.com",
    "domain": "example.com",
    "shareId": None,
    "resetAt": None,
    "userId": None,
    "teamId": None,
    "createdBy": None,
    "createdAt": "2026-01-05T09:30:00Z",
    "updatedAt": "2026-01-05T09:30:00Z",
    "deletedAt": None,
}
EXAMPLES = {
    "websites": answer_example(
        "A page of websites", {"data": [_WEBSITE_EXAMPLE], "count": 1, "page": 1, "pageSize": 10}
    ),
    "website": answer_example("A website", _WEBSITE_EXAMPLE),
    "stats": answer_example(
        "A week against the week before",
        {
            "pageviews": 1250,
            "visitors": 410,
            "visits": 520,
            "bounces": 260,
            "totaltime": 41600,
            "comparison": {
                "pageviews": 1100,
                "visitors": 380,
                "visits": 470,
                "bounces": 250,
                "totaltime": 37000,
            },
        },
    ),
    "pageviews": answer_example(
        "Two days",
        {
            "pageviews": [
                {"x": "2026-12-01 00:00:00", "y": 180},
                {"x": "2026-12-02 00:00:00", "y": 201},
            ],
            "sessions": [
                {"x": "2026-12-01 00:00:00", "y": 64},
                {"x": "2026-12-02 00:00:00", "y": 71},
            ],
        },
    ),
    "metrics": answer_example(
        "Top pages", [{"x": "/", "y": 320}, {"x": "/pricing", "y": 95}, {"x": "/blog", "y": 40}]
    ),
    "active": answer_example("Visitors now", {"visitors": 3, "x": 3}),
    "daterange": answer_example(
        "First and last event",
        {
            "mindate": "2026-01-05T09:31:02.000Z",
            "maxdate": "2026-12-06T18:10:59.867Z",
            "startDate": "2026-01-05T09:31:02.000Z",
            "endDate": "2026-12-06T18:10:59.867Z",
        },
    ),
    "expanded": answer_example(
        "Top pages with every count",
        [
            {
                "name": "/",
                "pageviews": 320,
                "visitors": 210,
                "visits": 240,
                "bounces": 130,
                "totaltime": 19200,
            }
        ],
    ),
    "event_series": answer_example(
        "Two events by day",
        [
            {"x": "Signup", "t": "2026-12-01 00:00:00", "y": 4},
            {"x": "Download", "t": "2026-12-02 00:00:00", "y": 7},
        ],
    ),
    "session_stats": answer_example(
        "A week of sessions",
        {
            "pageviews": {"value": 1250},
            "visitors": {"value": 410},
            "visits": {"value": 520},
            "countries": {"value": 23},
            "events": {"value": 88},
        },
    ),
    "events": answer_example(
        "The newest event",
        {
            "data": [
                {
                    "id": "0b6e4f5c-3d7a-4e1b-9c2d-8f1a6b5c4d3e",
                    "websiteId": _WEBSITE_EXAMPLE["id"],
                    "sessionId": "1057433701063345361",
                    "createdAt": "2026-12-06T18:10:59.867Z",
                    "hostname": "example.com",
                    "urlPath": "/pricing",
                    "urlQuery": "",
                    "referrerPath": "/",
                    "referrerQuery": "",
                    "referrerDomain": "news.ycombinator.com",
                    "pageTitle": "",
                    "eventType": 1,
                    "eventName": "",
                }
            ],
            "count": 1,
            "page": 1,
            "pageSize": 20,
        },
    ),
}
