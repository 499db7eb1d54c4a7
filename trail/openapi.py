"""What the OpenAPI schema (`/api/schema/`, `/api/docs/`) says beyond the DRF views.

`/api/event` (Plausible's Events API) and `/api/send` (Umami's) are answered in front of
Django (`events/ingest/wsgi.py`, `events/ingest/handler.py`), so drf-spectacular never sees
them; `add_ingest_paths` (a `SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]` entry) writes
them into the schema by hand: their JSON bodies and their answers. Documentation only:
the limits quoted come from the ingest's own constants.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.hooks import postprocess_schema_enums

from events.ingest.handler import UMAMI_ACCEPTED
from events.ingest.request import MAX_BODY, MAX_NAME, MAX_PROPS, MAX_URL

_PROPS = {
    "type": "object",
    "description": f"custom properties: at most {MAX_PROPS}, string values",
    "additionalProperties": {"type": "string"},
}
PLAUSIBLE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "url"],
    "description": "Plausible's Events API body; the one-letter names of its script"
    " (n, u, d, r, p, $, i, h, w) are accepted too",
    "properties": {
        "name": {"type": "string", "maxLength": MAX_NAME, "example": "pageview"},
        "url": {"type": "string", "maxLength": MAX_URL, "example": "https://example.com/pricing"},
        "domain": {
            "type": "string",
            "description": "the site's domain (comma-separated for several); the URL's host"
            " by default",
            "example": "example.com",
        },
        "referrer": {"type": "string", "maxLength": MAX_URL},
        "props": _PROPS,
        "revenue": {
            "type": "object",
            "required": ["amount", "currency"],
            "properties": {
                "amount": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                "currency": {"type": "string", "description": "ISO 4217", "example": "EUR"},
            },
        },
        "interactive": {"type": "boolean", "default": True},
        "hashMode": {"type": "boolean", "default": False},
        "screen_width": {"type": "integer"},
        "sd": {"type": "integer", "description": "engagement events: scroll depth 0–100"},
        "e": {"type": "integer", "description": "engagement events: engaged milliseconds"},
    },
}
UMAMI_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "payload"],
    "description": "Umami's `/api/send` body (type `identify` is accepted and ignored)",
    "properties": {
        "type": {"type": "string", "enum": ["event", "identify"]},
        "payload": {
            "type": "object",
            "required": ["website"],
            "properties": {
                "website": {"type": "string", "description": "the site's public id (a UUID)"},
                "url": {"type": "string", "maxLength": MAX_URL, "example": "/pricing"},
                "hostname": {"type": "string", "example": "example.com"},
                "name": {"type": "string", "maxLength": MAX_NAME, "default": "pageview"},
                "referrer": {"type": "string"},
                "title": {"type": "string"},
                "language": {"type": "string"},
                "screen": {"type": "string", "example": "1920x1080"},
                "data": _PROPS,
            },
        },
    },
}
_ERROR = {
    "application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}
}


def _ingest_operation(
    summary: str,
    description: str,
    body: dict[str, Any],
    accepted: tuple[str, str],
    answer: dict[str, Any] | None = None,
    status: str = "202",
) -> dict[str, Any]:
    content_type, example = accepted
    return {
        "post": {
            "operationId": summary.lower().replace(" ", "_").replace("'", ""),
            "summary": summary,
            "description": description,
            "tags": ["ingest"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}, "text/plain": {"schema": body}},
            },
            "responses": {
                status: {
                    "description": "accepted; `X-Trail-Dropped: <reason>` when it was dropped"
                    " on purpose (a bot, an excluded path, an unknown site, …)",
                    "content": {
                        content_type: {"schema": answer or {"type": "string"}, "example": example}
                    },
                },
                "400": {"description": "malformed: the field is named", "content": _ERROR},
                "413": {"description": f"a body over {MAX_BODY} bytes", "content": _ERROR},
                "415": {"description": "unsupported content type or encoding", "content": _ERROR},
                "503": {"description": "busy: retry after `Retry-After` seconds"},
            },
        }
    }


def add_ingest_paths(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the browser endpoints, then its enum hook."""
    paths = result.setdefault("paths", {})
    paths["/api/event"] = _ingest_operation(
        "Send a browser event (Plausible)",
        "What Trail's script (and Plausible's) sends: one event per request, no key, CORS"
        " open. Answered before Django, so no session or CSRF is involved.",
        PLAUSIBLE_EVENT,
        ("text/plain", "ok"),
    )
    paths["/api/send"] = _ingest_operation(
        "Send a browser event (Umami)",
        "What Umami's script sends: one event per request, no key, CORS open.",
        UMAMI_EVENT,
        ("application/json", UMAMI_ACCEPTED.decode()),
        {
            "type": "object",
            "properties": {name: {"type": "string"} for name in ("cache", "sessionId", "visitId")},
        },
        status="200",
    )
    return postprocess_schema_enums(result, generator, **kwargs)
