"""What the REST API's resource endpoints share beyond `accounts.api`: the documented error
answers, cursor pagination as Plausible's Sites API pages (`?limit=&after=&before=` →
`"meta": {"after", "before", "limit"}`), and reading a numeric id or a JSON body's field."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from accounts.errors import NotFound, ServiceError

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "example": "name: This field is required."}},
}
_ERROR_TEXT = {
    400: "bad input: the message names the field (`field: what is wrong`)",
    401: "no, a wrong or a revoked API key",
    403: "the key lacks the scope, or the member's role does not allow it",
    404: "no such object for this key or user (another organization's is not found either)",
    415: "a body in a content type other than JSON",
    429: "too many requests: retry after `Retry-After` seconds",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented `{"error": …}` answers: 401, 403, 415 and 429 always, plus `codes`."""
    return {
        code: OpenApiResponse(response=ERROR_SCHEMA, description=_ERROR_TEXT[code])
        for code in sorted({401, 403, 415, 429, *codes})
    }


class PageMeta(serializers.Serializer[Any]):
    after = serializers.CharField(
        allow_null=True, help_text="pass as `after` for the next page; null on the last"
    )
    before = serializers.CharField(
        allow_null=True, help_text="pass as `before` for the previous page; null on the first"
    )
    limit = serializers.IntegerField()


PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        int,
        OpenApiParameter.QUERY,
        description=f"items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    ),
    OpenApiParameter(
        "after", str, OpenApiParameter.QUERY, description="`meta.after` of the previous page"
    ),
    OpenApiParameter(
        "before", str, OpenApiParameter.QUERY, description="`meta.before` of the next page"
    ),
]


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


def _decode(cursor: str, field: str, *, numeric: bool) -> Any:
    """A cursor's value, of the key's type (a forged one is a 400, not a database error)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        [value] = json.loads(raw)
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError):
        raise ServiceError("not a cursor from a previous answer's meta", field=field) from None
    if numeric:
        valid = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63
    else:
        valid = isinstance(value, str) and len(value) <= 2000
    if not valid:
        raise ServiceError("not a cursor from a previous answer's meta", field=field)
    return value


def _limit(params: Mapping[str, Any]) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise ServiceError(f"expected a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(text)


def paginate(
    queryset: QuerySet[M], *, key: str, params: Mapping[str, Any]
) -> tuple[list[M], dict[str, Any]]:
    """One page of `queryset` in the order of `key` (a unique field, `-` for descending)
    and its `meta`: `after` is the cursor of the page's last item when more follow, `before`
    the cursor of its first when some precede."""
    name, descending = key.lstrip("-"), key.startswith("-")
    numeric = queryset.model._meta.get_field(name).get_internal_type().endswith("AutoField")
    limit = _limit(params)
    after, before = params.get("after") or None, params.get("before") or None
    if after is not None and before is not None:
        raise ServiceError("give after or before, not both", field="before")
    if before is not None:
        value = _decode(str(before), "before", numeric=numeric)
        lookup = "gt" if descending else "lt"
        page = queryset.filter(**{f"{name}__{lookup}": value}).order_by(
            name if descending else f"-{name}"
        )
    else:
        page = queryset.order_by(key)
        if after is not None:
            value = _decode(str(after), "after", numeric=numeric)
            page = page.filter(**{f"{name}__{'lt' if descending else 'gt'}": value})
    items = list(page[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    if before is not None:
        items.reverse()
        has_after, has_before = bool(items), more
    else:
        has_after, has_before = more, after is not None and bool(items)
    meta = {
        "after": _encode(getattr(items[-1], name)) if has_after and items else None,
        "before": _encode(getattr(items[0], name)) if has_before and items else None,
        "limit": limit,
    }
    return items, meta


def object_id(value: Any, what: str) -> int:
    """A numeric id from a path, body or query; anything else is `what` not found (the
    same answer as an id that does not exist)."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(what)
    return int(text)
