"""Call Trail's WSGI application (with its lean ingest route) the way a server would."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any
from wsgiref.util import setup_testing_defaults

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def dropped(self) -> str | None:
        return self.headers.get("X-Trail-Dropped")


@cache
def _application() -> Any:
    from django.core.wsgi import get_wsgi_application

    from events.ingest.wsgi import wrap

    return wrap(get_wsgi_application())  # without trail.wsgi's runtime (no job thread)


def post(
    path: str,
    body: bytes | str,
    *,
    content_type: str = "text/plain",
    user_agent: str = CHROME,
    remote_addr: str = "198.51.100.23",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    content_length: str | None = None,
) -> Answer:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD=method,
        PATH_INFO=path,
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(len(raw)) if content_length is None else content_length,
        REMOTE_ADDR=remote_addr,
        HTTP_USER_AGENT=user_agent,
    )
    environ["wsgi.input"] = io.BytesIO(raw)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"] = int(status.split(" ", 1)[0])
        seen["headers"] = dict(response_headers)

    content = b"".join(_application()(environ, start_response))
    return Answer(seen["status"], seen["headers"], content)
