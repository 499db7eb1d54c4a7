"""The one reader of JSON request bodies: the ingest endpoints, the batch events API, the
report APIs (`body`) and every other DRF view (`StrictJSONParser`) parse through `loads`.

It refuses, as a 400 at the edge, what Python's `json` lets through to fail later as a 500:
- bytes that are not UTF-8 (`json.loads(bytes)` would guess UTF-16 or UTF-32);
- a string with an unpaired UTF-16 surrogate escape (`"\\ud800"`): Python holds it, but it
  cannot be encoded for ClickHouse, PostgreSQL or a log line;
- nesting deeper than `MAX_DEPTH` levels (`[[[[…]]]]`): Python's parser recurses once per
  level and raises `RecursionError`;
- `NaN` and `Infinity`, which JSON does not have.

orjson (already Trail's spool format) checks all of this while it parses, in one pass.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DEPTH = 1024  # orjson's own limit on nested arrays and objects


class InvalidJson(ValueError):
    """What is wrong with a body, worded to follow its name: "body is " + message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def loads(body: bytes) -> Any:
    """The JSON value of a request body, or `InvalidJson`."""
    try:
        text = body.decode("utf-8")  # strict: refuses invalid bytes and encoded surrogates
    except UnicodeDecodeError:
        raise InvalidJson("not valid UTF-8") from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        reason, _, where = str(exc).partition(": line ")
        if "surrogate" in reason:
            raise InvalidJson(
                f"not valid JSON: an unpaired UTF-16 surrogate escape (\\ud800 to \\udfff)"
                f" at line {where}"
            ) from None
        if "depth limit" in reason:
            raise InvalidJson(f"nested too deeply: at most {MAX_DEPTH} levels") from None
        raise InvalidJson(f"not valid JSON ({str(exc)[:80]})") from None


class StrictJSONParser(BaseParser):
    """DRF's JSON parser, through `loads` (REST_FRAMEWORK's default parser)."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return loads(stream.read() if stream is not None else b"")
        except InvalidJson as exc:
            raise ParseError(f"body: {exc.message}") from None
