"""The Sites API: bad input gets a clear `{"error"}` naming the field, and nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> tuple[Client, Any]:
    org = factories.organization()
    _, raw = factories.api_key(org)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), org


def _post(client: Client, body: Any, path: str = "/api/v1/sites", **extra: Any) -> Any:
    return client.post(
        path,
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        content_type="application/json",
        **extra,
    )


def test_create_read_update_delete(api: tuple[Client, Any]) -> None:
    client, org = api
    created = _post(
        client,
        {
            "domain": "HTTPS://www.Shop.Example.com/",
            "timezone": "America/Los_Angeles",
            "honor_dnt": True,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["domain"] == "shop.example.com"
    assert created.json()["organization_id"] == org.id
    assert client.get("/api/v1/sites/shop.example.com").json()["timezone"] == "America/Los_Angeles"
    # Lookup is as lenient as creation.
    assert client.get("/api/v1/sites/WWW.SHOP.EXAMPLE.COM").status_code == 200
    changed = client.put(
        "/api/v1/sites/shop.example.com",
        data=json.dumps(
            {
                "timezone": "Asia/Tokyo",
                "excluded_ips": ["10.1.2.3/8"],
                "excluded_paths": ["/admin/*"],
            }
        ),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["excluded_ips"] == ["10.0.0.0/8"]
    assert client.delete("/api/v1/sites/shop.example.com").json() == {"deleted": True}
    assert client.get("/api/v1/sites/shop.example.com").status_code == 404
    assert client.get("/api/v1/sites").json() == {
        "sites": [],
        "meta": {"after": None, "before": None, "limit": 100},
    }


@pytest.mark.parametrize(
    ("domain", "stored"),
    [
        ("intranet.internal", "intranet.internal"),
        ("app.local", "app.local"),
        ("shop.test", "shop.test"),
        ("www.example", "example"),
        ("nas.lan", "nas.lan"),
        ("intranet", "intranet"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_any_host_name_is_a_site(api: tuple[Client, Any], domain: str, stored: str) -> None:
    client, _ = api
    hosts = ["*.lan", "wiki.corp", "10.0.0.5", "[fd00::5]"]
    created = _post(client, {"domain": domain, "extra_hostnames": hosts})
    assert created.status_code == 201, created.content
    assert created.json()["domain"] == stored
    assert created.json()["extra_hostnames"] == ["*.lan", "10.0.0.5", "fd00::5", "wiki.corp"]
    assert client.get(f"/api/v1/sites/{domain}").json()["domain"] == stored
    assert client.delete(f"/api/v1/sites/{stored}").status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "domain: This field is required."),
        ({"domain": ""}, "domain: This field may not be blank."),
        ({"domain": "192.168.1.1"}, "domain: an IP address is not a domain"),
        ({"domain": "intra net"}, "domain: 'intra net' is not a valid domain"),
        ({"domain": "-intranet.lan"}, "domain: '-intranet.lan' is not a valid domain"),
        ({"domain": "nas_01.lan"}, "domain: 'nas_01.lan' is not a valid domain"),
        ({"domain": "a" * 64 + ".lan"}, "domain: "),
        ({"domain": "goals"}, "domain: 'goals' is a word of Trail's API"),
        ({"domain": "ok-site.com", "extra_hostnames": ["*.-x.lan"]}, "extra_hostnames: "),
        ({"domain": "x" * 300}, "domain: "),
        ({"domain": "a" * 2001}, "domain: Ensure this field has no more than 2000 characters."),
        ({"domain": "xn--zz.com"}, "domain: 'xn--zz.com' is not a valid domain"),
        ({"domain": ["a.com"]}, "domain: Not a valid string."),
        (
            {"domain": "ok-site.com", "timezone": "Mars/Olympus"},
            "timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            {"domain": "ok-site.com", "excluded_ips": ["999.1.1.1"]},
            "excluded_ips: '999.1.1.1' is not an IP address",
        ),
        (
            {"domain": "ok-site.com", "excluded_paths": ["admin"]},
            "excluded_paths: 'admin' must start with /",
        ),
        (
            {"domain": "ok-site.com", "extra_hostnames": ["[::1"]},
            "extra_hostnames: '[::1' is not a valid domain",
        ),
        ({"domain": "ok-site.com", "honor_dnt": "perhaps"}, "honor_dnt: Must be a valid boolean."),
        ({"domain": "ok-site.com", "organization_id": 999999}, "not found"),
    ],
)
def test_bad_bodies(api: tuple[Client, Any], body: dict[str, Any], error: str) -> None:
    client, _ = api
    response = _post(client, body)
    assert response.status_code in (400, 404)
    assert response.json()["error"].startswith(error), response.json()
    assert not Site.objects.exists()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("{not json", 400),
        ("[]", 400),
        ('"site"', 400),
        ("", 400),
        ('{"domain": "a.com"' + " " * 10, 400),
    ],
)
def test_malformed_json(api: tuple[Client, Any], raw: str, status: int) -> None:
    client, _ = api
    response = _post(client, raw)
    assert response.status_code == status
    assert "error" in response.json()
    assert not Site.objects.exists()


def test_wrong_content_type(api: tuple[Client, Any]) -> None:
    client, _ = api
    response = client.post("/api/v1/sites", data="<domain>a.com</domain>", content_type="text/xml")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["error"]


def test_duplicate_domain_is_refused_whoever_owns_it(api: tuple[Client, Any]) -> None:
    client, _ = api
    other = factories.organization()
    factories.site(other, "taken-domain.com")
    response = _post(client, {"domain": "https://www.TAKEN-domain.com"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "domain: taken-domain.com is already registered on this Trail"
    }


def test_a_deleted_domain_can_be_registered_again(api: tuple[Client, Any]) -> None:
    client, _ = api
    assert _post(client, {"domain": "again.com"}).status_code == 201
    assert client.delete("/api/v1/sites/again.com").status_code == 200
    assert _post(client, {"domain": "again.com"}).status_code == 201


def test_rate_limit_per_key() -> None:
    org = factories.organization()
    key, raw = factories.api_key(org)
    key.rate_limit_per_minute = 3
    key.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    statuses = [client.get("/api/v1/sites").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    limited = client.get("/api/v1/sites")
    assert limited.status_code == 429
    assert "throttled" in limited.json()["error"].lower()
    assert int(limited["Retry-After"]) <= 60


def test_openapi_schema_and_docs_are_served_without_cdn(client: Client) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in ("/api/v1/sites/{domain}", "/api/v2/query", "/api/v1/funnels/query"):
        assert path in body
    assert "/api/v1/realtime" in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "swagger-ui" in html
