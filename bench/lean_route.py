"""In-process cost of one browser-endpoint request, against Django's own request handling.

    .venv/bin/python bench/lean_route.py

Calls Trail's WSGI application (the lean ingest route in front of Django, as
`trail/wsgi.py` builds it, without the job thread) on one thread, with the test settings (a
throw-away var/ directory):
- lean: `POST /api/event` for a domain no site has: the body is read, parsed and checked,
  the drop steps run, and the answer is `202` with `X-Trail-Dropped: unknown_site` (no
  spool write, so no fsync is timed);
- django: `GET /api/nothing`: Django's request object, middleware, URL resolver and JSON
  404, not logged (about the least any view costs).
Prints the best of five rounds, in µs per request (docs/ingest.md, "The lean route").
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from events.ingest.wsgi import wrap  # noqa: E402

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
EVENT = json.dumps(
    {"n": "pageview", "u": "https://nobody-bench.com/a?utm_source=x", "r": "https://google.com/"}
).encode()


def environ(method: str, path: str, body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "81.2.69.142",
        "HTTP_USER_AGENT": UA,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def per_request(app: Callable[..., Any], method: str, path: str, body: bytes, n: int) -> float:
    statuses: list[str] = []
    for _ in range(200):  # warm up: the site directory, caches
        b"".join(app(environ(method, path, body), lambda status, _: statuses.append(status)))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            b"".join(app(environ(method, path, body), lambda *_: None))
        best = min(best, (time.perf_counter() - start) / n)
    print(f"  ({method} {path}: {statuses[-1]})")
    return best * 1e6


def main() -> None:
    logging.getLogger("django.request").setLevel(logging.ERROR)  # a logged 404 is not timed
    call_command("migrate", verbosity=0)
    app = wrap(get_wsgi_application())
    lean = per_request(app, "POST", "/api/event", EVENT, 3000)
    through_django = per_request(app, "GET", "/api/nothing", b"", 1000)
    print(f"lean route {lean:.1f} µs/request; through Django {through_django:.1f} µs/request")


if __name__ == "__main__":
    main()
