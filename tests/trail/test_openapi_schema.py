"""The API docs (issue 16.12): the Stats API typed, the bearer key described, the browser
endpoints written in, a way back to the app."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from reports.query import METRICS

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return dict(json.loads(response.content))


def _json_schema(part: dict[str, Any]) -> dict[str, Any]:
    return dict(part["content"]["application/json"]["schema"])


def test_the_stats_api_request_is_typed(schema: dict[str, Any]) -> None:
    body = _json_schema(schema["paths"]["/api/v2/query"]["post"]["requestBody"])
    assert body["type"] == "object"
    assert body["required"] == ["site_id", "metrics", "date_range"]
    fields = body["properties"]
    for name in ("site_id", "metrics", "date_range", "dimensions", "filters", "order_by"):
        assert name in fields
    assert {"include", "pagination"} <= set(fields)
    assert fields["metrics"]["items"]["enum"] == [*METRICS, "group_conversion_rate"]
    assert fields["pagination"]["properties"]["limit"]["type"] == "integer"
    assert "comparisons" in fields["include"]["properties"]


def test_the_stats_api_response_is_typed(schema: dict[str, Any]) -> None:
    responses = schema["paths"]["/api/v2/query"]["post"]["responses"]
    answer = _json_schema(responses["200"])
    assert answer["type"] == "object" and answer["required"] == ["results", "meta", "query"]
    row = answer["properties"]["results"]["items"]["properties"]
    assert {"metrics", "dimensions", "comparison"} <= set(row)
    assert "change" in row["comparison"]["properties"]
    assert "sampled" in answer["properties"]["meta"]["properties"]
    assert _json_schema(responses["400"])["required"] == ["error"]


def test_the_bearer_key_is_described(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "Authorization: Bearer" in scheme["description"]
    assert "stats:read" in scheme["description"]
    assert {"apiKey": []} in schema["paths"]["/api/v2/query"]["post"]["security"]
    assert "Bearer" in schema["info"]["description"]


@pytest.mark.parametrize(
    ("path", "field", "accepted"), [("/api/event", "url", "202"), ("/api/send", "payload", "200")]
)
def test_the_browser_endpoints_are_documented(
    schema: dict[str, Any], path: str, field: str, accepted: str
) -> None:
    operation = schema["paths"][path]["post"]
    assert operation["security"] == []  # no key
    assert field in _json_schema(operation["requestBody"])["properties"]
    assert {accepted, "400", "413"} <= set(operation["responses"])


def test_the_schema_validates() -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_docs_page_links_back_to_the_app(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/sites/"' in html and "Back to the app" in html
    assert "trail/favicon" in html
