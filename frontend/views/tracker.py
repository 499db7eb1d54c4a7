"""`/js/trail.js` (and its neutral alias `/assets/s.js`), `/js/trail.core.js`: the tracker;
`/docs/tracker`: its options (docs/tracker.md), linked from the snippet page."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import etag, require_GET

from frontend.assets import script, script_etag


@require_GET
@etag(lambda request, name: script_etag(name))
def tracker_script(request: HttpRequest, name: str) -> HttpResponse:
    response = HttpResponse(script(name), content_type="application/javascript; charset=utf-8")
    # An hour: a Trail upgrade reaches every page within it; browsers revalidate by ETag.
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@cache
def _tracker_docs() -> str:
    return (settings.BASE_DIR / "docs" / "tracker.md").read_text(encoding="utf-8")


@require_GET
def tracker_docs(request: HttpRequest) -> HttpResponse:
    context = {"title": "The browser tracker", "source": "docs/tracker.md", "text": _tracker_docs()}
    return render(request, "frontend/doc.html", context)
