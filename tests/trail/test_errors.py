"""Every error under /api/ is `{"error": "..."}` with its status, never an HTML page; other
paths keep Django's HTML pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import get_resolver

from accounts.models import Organization
from tests import factories
from trail import errors

pytestmark = pytest.mark.django_db


def assert_json_error(response: Any, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert list(body) == ["error"] and body["error"]
    return str(body["error"])


@pytest.fixture
def stats_key() -> tuple[Organization, str]:
    organization = factories.organization()
    _, key = factories.api_key(organization, scopes=("sites:manage", "stats:read"))
    return organization, key


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/nope", "/api/v2/", "/api/v1/sites/a/b"])
def test_an_unknown_api_path_is_a_json_404(client: Client, path: str) -> None:
    assert assert_json_error(client.get(path), 404) == "not found"
    assert assert_json_error(client.post(path, {}), 404) == "not found"


def test_an_unknown_site_is_a_json_404(client: Client, stats_key: tuple[Any, str]) -> None:
    _, key = stats_key
    answer = client.get("/api/v1/sites/unknown.example", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert assert_json_error(answer, 404) == "not found"


def test_a_wrong_method_is_a_json_405(client: Client, stats_key: tuple[Any, str]) -> None:
    _, key = stats_key
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert "GET" in assert_json_error(client.get("/api/v2/query", **auth), 405)
    assert "PATCH" in assert_json_error(client.patch("/api/v1/sites", **auth), 405)


def test_a_missing_key_is_a_json_401(client: Client) -> None:
    assert "credentials" in assert_json_error(client.get("/api/v1/sites"), 401)


def test_a_session_post_without_csrf_token_is_a_json_403() -> None:
    organization = factories.organization()
    client = Client(enforce_csrf_checks=True)
    client.force_login(organization.memberships.get().user)
    answer = client.post(
        "/api/v1/sites", {"domain": "csrf-trail.com"}, content_type="application/json"
    )
    assert "CSRF" in assert_json_error(answer, 403)


def test_django_csrf_failure_view_answers_json_under_api() -> None:
    request = RequestFactory().post("/api/v1/sites")
    message = assert_json_error(errors.csrf_failure(request, reason="CSRF cookie not set."), 403)
    assert message == "CSRF check failed: CSRF cookie not set."
    page = errors.csrf_failure(RequestFactory().post("/accounts/login/"), reason="no cookie")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_handlers_answer_json_under_api_and_html_elsewhere() -> None:
    api = RequestFactory().get("/api/x")
    assert assert_json_error(errors.server_error(api), 500) == "internal error"
    assert assert_json_error(errors.page_not_found(api, Http404("x")), 404) == "not found"
    assert assert_json_error(errors.bad_request(api, SuspiciousOperation("x")), 400)
    denied = errors.permission_denied(api, PermissionDenied("not yours"))
    assert assert_json_error(denied, 403) == "not yours"

    page = RequestFactory().get("/sites/x/")
    for response in (
        errors.server_error(page),
        errors.page_not_found(page, Http404("x")),
        errors.bad_request(page, SuspiciousOperation("x")),
        errors.permission_denied(page, PermissionDenied("x")),
    ):
        assert response["Content-Type"].startswith("text/html")
        assert b"<h1>" in response.content


def test_a_bad_host_under_api_is_a_json_400(client: Client) -> None:
    answer = client.get("/api/v1/sites", HTTP_HOST="evil.example")
    assert assert_json_error(answer, 400) == "bad request"


def test_the_html_404_stays_html_outside_api(client: Client) -> None:
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")
    assert b"Not Found" in answer.content
    # "/apis" is not under /api/
    assert client.get("/apis/x")["Content-Type"].startswith("text/html")


def test_django_calls_these_handlers() -> None:
    """An unhandled exception reaches `handler500` (which is not reachable through a URL in
    tests without a view made to fail: the wiring is checked here, the view above)."""
    resolver = get_resolver()
    assert resolver.resolve_error_handler(500) is errors.server_error
    assert resolver.resolve_error_handler(404) is errors.page_not_found
    assert resolver.resolve_error_handler(403) is errors.permission_denied
    assert resolver.resolve_error_handler(400) is errors.bad_request
