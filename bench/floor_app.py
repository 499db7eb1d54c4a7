"""The floor for the ingest benchmark: a bare WSGI application that reads the body and
answers 202, nothing else (no parsing, no disk). `bench/ingest_load.py --floor` serves it
with granian's WSGI interface and the same number of workers as Trail, and drives it with
the same load: what this machine's server and Python can do at most, so Trail's figure can
be given as a ratio of it measured in the same run (issue 21).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = environ.get("CONTENT_LENGTH") or "0"
    environ["wsgi.input"].read(int(length) if length.isdigit() else -1)
    start_response("202 Accepted", _HEADERS)
    return [b"ok"]
