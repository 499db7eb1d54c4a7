"""A site's retention of raw events through the Sites API and the settings page: bad values
get a 400 naming `retention_days`, and nothing changes (docs/retention.md)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> tuple[Client, Site]:
    org = factories.organization()
    _, raw = factories.api_key(org)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), factories.site(org)


def _put(client: Client, site: Site, body: Any) -> Any:
    return client.put(
        f"/api/v1/sites/{site.domain}",
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
    )


def _max_days(days: int | None) -> Any:
    return override_settings(TRAIL=dataclasses.replace(settings.TRAIL, retention_max_days=days))


def test_set_read_and_clear(api: tuple[Client, Site]) -> None:
    client, site = api
    assert client.get(f"/api/v1/sites/{site.domain}").json()["retention_days"] is None
    changed = _put(client, site, {"retention_days": 30})
    assert changed.status_code == 200, changed.content
    assert changed.json()["retention_days"] == 30
    assert client.get(f"/api/v1/sites/{site.domain}").json()["retention_days"] == 30
    # Another field alone leaves it be; null means forever again.
    assert _put(client, site, {"honor_dnt": True}).json()["retention_days"] == 30
    assert _put(client, site, {"retention_days": None}).json()["retention_days"] is None
    site.refresh_from_db()
    assert site.retention_days is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "retention_days must be at least 1 day"),
        (-5, "retention_days must be at least 1 day"),
        (36_501, "retention_days must be at most 36500 days"),
        (10**12, "retention_days must be at most 36500 days"),
        (10**30, "expected a whole number of days"),
        (30.5, "expected a whole number of days"),
        ("thirty", "expected a whole number of days"),
        ("9" * 2000, "expected a whole number of days"),
        (True, "expected a whole number of days"),
        ([30], "expected a whole number of days"),
        ({"days": 30}, "expected a whole number of days"),
    ],
)
def test_bad_values_are_refused(api: tuple[Client, Site], value: Any, message: str) -> None:
    client, site = api
    _put(client, site, {"retention_days": 90})
    answer = _put(client, site, {"retention_days": value})
    assert answer.status_code == 400, answer.content
    body = json.dumps(answer.json())
    assert "retention_days" in body and message in body, body
    site.refresh_from_db()
    assert site.retention_days == 90


def test_instance_maximum(api: tuple[Client, Site]) -> None:
    client, site = api
    with _max_days(365):
        too_long = _put(client, site, {"retention_days": 366})
        assert too_long.status_code == 400
        assert "at most 365 days (this Trail's maximum)" in too_long.json()["error"]
        assert _put(client, site, {"retention_days": 365}).json()["retention_days"] == 365
        # null is accepted: it means "as long as allowed", the maximum (events.retention).
        assert _put(client, site, {"retention_days": None}).status_code == 200


def test_another_tenants_site_is_not_found(api: tuple[Client, Site]) -> None:
    client, _ = api
    other = factories.site(factories.organization())
    assert _put(client, other, {"retention_days": 30}).status_code == 404
    other.refresh_from_db()
    assert other.retention_days is None


def test_read_only_key_cannot_set_it() -> None:
    org = factories.organization()
    site = factories.site(org)
    _, raw = factories.api_key(org, scopes=("sites:read",))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"/api/v1/sites/{site.domain}").json()["retention_days"] is None
    assert _put(client, site, {"retention_days": 30}).status_code == 403
    site.refresh_from_db()
    assert site.retention_days is None


def test_settings_page_round_trip() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    client = Client()
    client.force_login(owner)
    site = factories.site(org)
    url = f"/sites/{site.domain}/settings"
    form = {"timezone": "UTC", "retention_days": "30"}
    assert client.post(url, form).status_code == 302
    site.refresh_from_db()
    assert site.retention_days == 30
    page = client.get(url).content.decode()
    assert 'name="retention_days"' in page and 'value="30"' in page
    bad = client.post(url, {**form, "retention_days": "0"})
    assert bad.status_code == 400
    assert "retention_days must be at least 1 day" in bad.content.decode()
    for typed in ("a month", "٣٠", "30.5", "9" * 40):
        bad = client.post(url, {**form, "retention_days": typed})
        assert bad.status_code == 400, typed
        assert "retention_days must be a whole number of days" in bad.content.decode()
    with _max_days(90):
        page = client.get(url).content.decode()
        assert 'max="90"' in page and "as long as this Trail allows (90 days)" in page
        bad = client.post(url, {**form, "retention_days": "400"})
        assert bad.status_code == 400
        assert "at most 90 days" in bad.content.decode()
    site.refresh_from_db()
    assert site.retention_days == 30
    # Empty: forever.
    assert client.post(url, {**form, "retention_days": ""}).status_code == 302
    site.refresh_from_db()
    assert site.retention_days is None
