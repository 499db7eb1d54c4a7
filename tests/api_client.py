"""Calling Trail's REST API from a test as a program would: a Bearer key, JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


def bearer(raw: str) -> Client:
    """A test client that sends `Authorization: Bearer <raw>` with every request."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    """`method` on `path`; `body` as JSON (a string is sent as it is, malformed or not)."""
    if body is None:
        return getattr(client, method)(path)
    data = body if isinstance(body, str) else json.dumps(body)
    return getattr(client, method)(path, data=data, content_type="application/json")
