"""The destinations' REST API: create, list, read, pause/resume, delete; bad input is a 400
naming the field; SSRF refused; secrets never returned; another tenant's site 404."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Role
from events.destinations import formats
from events.destinations.models import Destination
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"  # never called here
SECRET = "a-secret-nobody-may-read"
TOKEN = "mixpanel-project-token"


@pytest.fixture
def private_allowed() -> Iterator[None]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        yield


@pytest.fixture
def site(db: None) -> Site:
    return factories.site(factories.organization(), domain="dest-api.example.org")


@pytest.fixture
def key(site: Site) -> str:
    return factories.api_key(site.organization)[1]


def call(client: Any, method: str, path: str, key: str, body: Any = None) -> Any:
    raw = body if isinstance(body, bytes | str) else json.dumps(body) if body is not None else ""
    return client.generic(
        method, path, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def base(site: Site) -> str:
    return f"/api/v1/sites/{site.domain}/destinations"


def test_create_list_read_pause_resume_delete(
    client: Any, site: Site, key: str, private_allowed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (no DNS here: Mixpanel's hosts stand in as local addresses)
    monkeypatch.setattr(formats, "MIXPANEL_URL", "http://127.0.0.1:9/import")
    made = call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK, "secret": SECRET})
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["type"] == "webhook" and body["url"] == HOOK and body["signed"] is True
    assert body["state"] == "active" and body["lag_seconds"] == 0 and body["events_sent"] == 0
    mixpanel = call(
        client, "POST", base(site), key,
        {"type": "mixpanel", "token": TOKEN, "url": "http://127.0.0.2:9/import"},
    )  # fmt: skip
    assert mixpanel.status_code == 201, mixpanel.content
    assert mixpanel.json()["url"] == "http://127.0.0.2:9/import"
    default = call(client, "POST", base(site), key, {"type": "mixpanel", "token": TOKEN})
    assert default.json()["url"] == "http://127.0.0.1:9/import"  # the default

    listed = call(client, "GET", base(site), key)
    assert [d["type"] for d in listed.json()["destinations"]] == ["webhook", "mixpanel", "mixpanel"]
    for answer in (made, mixpanel, default, listed):
        assert SECRET.encode() not in answer.content and TOKEN.encode() not in answer.content

    one = f"{base(site)}/{body['id']}"
    assert call(client, "GET", one, key).json()["id"] == body["id"]
    paused = call(client, "PATCH", one, key, {"state": "paused"})
    assert paused.json()["state"] == "paused" and paused.json()["paused_reason"]
    Destination.objects.filter(pk=body["id"]).update(failures=9, failing_since="2026-12-01T00:00Z")
    resumed = call(client, "PATCH", one, key, {"state": "active"})
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "active" and resumed.json()["failing_since"] is None
    unsigned = call(client, "PATCH", one, key, {"secret": ""})
    assert unsigned.json()["signed"] is False
    assert call(client, "DELETE", one, key).status_code == 204
    assert call(client, "GET", one, key).status_code == 404
    assert not Destination.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "webhook", "url": "ftp://example.com/x"}, "url: only http:// and https://"),
        ({"type": "webhook", "url": "javascript:alert(1)"}, "url: only http"),
        ({"type": "webhook"}, "url: required"),
        ({"type": "webhook", "url": 42}, "url: expected a string"),
        ({"type": "webhook", "url": "http://user:pw@example.com/"}, "url: the URL may not carry"),
        (
            {"type": "webhook", "url": "https://" + "a" * 2100 + ".com/"},
            "url: at most 2048 characters",
        ),
        ({"type": "kafka", "url": "https://example.com/"}, "type: expected one of"),
        ({"url": "https://example.com/"}, "type: expected one of"),
        ({"type": "mixpanel"}, "token: required"),
        ({"type": "mixpanel", "token": "t", "secret": "s"}, "secret: Mixpanel takes"),
        ({"type": "webhook", "url": "https://example.com/", "token": "t"}, "token: a webhook"),
        (
            {"type": "webhook", "url": "https://example.com/", "secret": "x" * 501},
            "secret: at most",
        ),
        (
            {"type": "webhook", "url": "https://example.com/", "secret": "a\x00b"},
            "secret: must not",
        ),
        ({"type": "webhook", "url": "https://example.com/", "state": "on"}, "state: expected"),
        ({"type": "webhook", "url": "https://example.com/", "colour": "red"}, "colour: unknown"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: Any, site: Site, key: str, body: dict[str, Any], message: str
) -> None:
    answer = call(client, "POST", base(site), key, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(message), answer.json()
    assert not Destination.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1]", b'"x"', b"\xff\xfe", b"{" + b'"a":' * 1 + b"[" * 5000 + b"]" * 5000 + b"}"],
)
def test_a_malformed_body_is_a_400_naming_body(
    client: Any, site: Site, key: str, raw: bytes
) -> None:
    answer = call(client, "POST", base(site), key, raw)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith("body:")


def test_an_oversized_body_is_refused(client: Any, site: Site, key: str) -> None:
    body = {"type": "webhook", "url": "https://example.com/", "secret": "x" * 20_000}
    answer = call(client, "POST", base(site), key, body)
    assert answer.status_code == 400 and answer.json()["error"].startswith("body: larger than")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://localhost/", "http://10.0.0.5/", "http://169.254.169.254/",
     "http://[::1]/"],
)  # fmt: skip
def test_a_private_address_is_refused_unless_allowed(
    client: Any, site: Site, key: str, url: str
) -> None:
    answer = call(client, "POST", base(site), key, {"type": "webhook", "url": url})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("url: the host") and "public" in answer.json()["error"]
    mixpanel = call(client, "POST", base(site), key, {"type": "mixpanel", "token": "t", "url": url})
    assert mixpanel.status_code == 400 and mixpanel.json()["error"].startswith("url:")


def test_a_patch_is_checked_too(client: Any, site: Site, key: str, private_allowed: None) -> None:
    made = call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK}).json()
    one = f"{base(site)}/{made['id']}"
    for body, message in (
        ({"url": "gopher://x"}, "url: only http"),
        ({"state": "deleted"}, "state: expected"),
        ({"type": "mixpanel"}, "type: cannot be changed"),
        ({"token": "t"}, "token: a webhook"),
    ):
        answer = call(client, "PATCH", one, key, body)
        assert answer.status_code == 400 and answer.json()["error"].startswith(message)
    assert Destination.objects.get(pk=made["id"]).url == HOOK


def test_another_tenants_site_and_destination_are_404(
    client: Any, site: Site, key: str, private_allowed: None
) -> None:
    made = call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK, "secret": SECRET})
    one = f"{base(site)}/{made.json()['id']}"
    stranger = factories.api_key(factories.organization())[1]
    for method, path, body in (
        ("GET", base(site), None),
        ("POST", base(site), {"type": "webhook", "url": HOOK}),
        ("GET", one, None),
        ("PATCH", one, {"state": "paused"}),
        ("DELETE", one, None),
    ):
        answer = call(client, method, path, stranger, body)
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.json() == {"error": "not found"}
    # the same organization's other site cannot reach it through its own path
    other = factories.site(site.organization, domain="dest-api-other.example.org")
    assert call(client, "GET", f"{base(other)}/{made.json()['id']}", key).status_code == 404
    assert call(client, "GET", f"{base(site)}/not-a-number", key).status_code == 404
    assert Destination.objects.get().state == "active"


def test_viewers_and_read_keys_read_but_do_not_write(
    client: Any, site: Site, key: str, private_allowed: None
) -> None:
    call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK})
    reader = factories.api_key(site.organization, scopes=("sites:read",))[1]
    assert call(client, "GET", base(site), reader).status_code == 200
    assert (
        call(client, "POST", base(site), reader, {"type": "webhook", "url": HOOK}).status_code
        == 403
    )
    viewer = factories.member(site.organization, Role.VIEWER)
    client.force_login(viewer)
    assert client.get(base(site)).status_code == 200
    refused = client.post(
        base(site), json.dumps({"type": "webhook", "url": HOOK}), content_type="application/json"
    )
    assert refused.status_code == 403
    assert Destination.objects.count() == 1


def test_at_most_ten_a_site(client: Any, site: Site, key: str, private_allowed: None) -> None:
    for _ in range(10):
        assert (
            call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK}).status_code
            == 201
        )
    answer = call(client, "POST", base(site), key, {"type": "webhook", "url": HOOK})
    assert answer.status_code == 400 and "at most 10" in answer.json()["error"]
