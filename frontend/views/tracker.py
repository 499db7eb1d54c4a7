"""`/js/trail.js` (and its neutral alias `/assets/s.js`), `/js/trail.core.js`: the tracker."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import etag, require_GET

from frontend.tracker_assets import script, script_etag


@require_GET
@etag(lambda request, name: script_etag(name))
def tracker_script(request: HttpRequest, name: str) -> HttpResponse:
    response = HttpResponse(script(name), content_type="application/javascript; charset=utf-8")
    # An hour: a Trail upgrade reaches every page within it; browsers revalidate by ETag.
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response
