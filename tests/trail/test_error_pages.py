"""Styled error pages outside /api/ (issue 16.11): the app's header and stylesheet."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from trail import errors

pytestmark = pytest.mark.django_db


def test_the_404_page_has_the_apps_header(client: Client) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    html = page.content.decode()
    assert '<header class="topbar">' in html and "/static/trail/app.css" in html
    assert "<h1>Not Found</h1>" in html and 'href="/sites/"' in html


def test_the_500_page_has_the_apps_header_without_a_request_context() -> None:
    page = errors.server_error(RequestFactory().get("/sites/"))
    assert page.status_code == 500
    html = page.content.decode()
    assert '<header class="topbar">' in html and "/static/trail/app.css" in html
    assert "<h1>Server Error</h1>" in html


def test_api_errors_stay_json(client: Client) -> None:
    assert client.get("/api/nope")["Content-Type"] == "application/json"
    page = errors.server_error(RequestFactory().get("/api/v2/query"))
    assert page["Content-Type"] == "application/json"
