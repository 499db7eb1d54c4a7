"""Plausible's custom properties allowlist (`/api/v1/sites/custom-props`): recorded on the
site in Plausible's shapes, shown as the site's `custom_properties`; events keep every
property whatever the list holds (real chDB). Bad input, scopes and tenancy as everywhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts import services as accounts
from accounts.models import Role, Scope
from sites import services
from sites.models import Site
from tests import factories
from tests.api_client import bearer, send

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sites/custom-props"


@pytest.fixture
def org() -> Any:
    return factories.organization()


@pytest.fixture
def site(org: Any) -> Site:
    return factories.site(org, "shop.example.com")


@pytest.fixture
def api(org: Any, site: Site) -> Client:
    _, raw = factories.api_key(org)
    return bearer(raw)


def _listed(api: Client, domain: str = "shop.example.com") -> Any:
    return api.get(BASE, {"site_id": domain}).json()


def test_allow_list_and_disallow_as_plausibles_clients(api: Client, site: Site) -> None:
    assert _listed(api) == {"custom_properties": []}
    # Plausible's documented example: PUT {site_id, property} answers {"created": true}.
    for key in ("logged_in", "author", "logged_in"):
        made = send(api, "put", BASE, {"site_id": "shop.example.com", "property": key})
        assert made.status_code == 200, made.content
        assert made.json() == {"created": True}
    assert _listed(api) == {
        "custom_properties": [{"property": "author"}, {"property": "logged_in"}]
    }
    assert api.get("/api/v1/sites/shop.example.com").json()["custom_properties"] == [
        "author",
        "logged_in",
    ]
    by_query = api.delete(f"{BASE}/author?site_id=shop.example.com")
    assert (by_query.status_code, by_query.json()) == (200, {"deleted": True})
    by_body = send(api, "delete", f"{BASE}/logged_in", {"site_id": "shop.example.com"})
    assert by_body.json() == {"deleted": True}
    again = api.delete(f"{BASE}/logged_in?site_id=shop.example.com")
    assert again.json() == {"deleted": True}  # as Plausible: nothing to take off is fine
    site.refresh_from_db()
    assert site.allowed_props == []


def test_a_form_body_and_unicode_keys(api: Client, site: Site) -> None:
    made = api.put(
        BASE, "site_id=shop.example.com&property=r%C3%B4le", "application/x-www-form-urlencoded"
    )
    assert made.status_code == 200, made.content
    quoted = api.delete(f"{BASE}/r%C3%B4le?site_id=shop.example.com")
    assert quoted.json() == {"deleted": True}
    site.refresh_from_db()
    assert site.allowed_props == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"property": "plan"}, "site_id: required"),
        ({"site_id": "", "property": "plan"}, "site_id: required"),
        ({"site_id": "shop.example.com"}, "property: "),
        ({"site_id": "shop.example.com", "property": ""}, "property: "),
        ({"site_id": "shop.example.com", "property": "   "}, "property: "),
        ({"site_id": "shop.example.com", "property": "a" * 301}, "property: "),
        ({"site_id": "shop.example.com", "property": "é" * 151}, "property: "),  # 302 bytes
        ({"site_id": "shop.example.com", "property": "nul\x00"}, "property: "),
        ({"site_id": "shop.example.com", "property": "tab\there"}, "property: "),
        ({"site_id": "shop.example.com", "property": ["plan"]}, "property: "),
        ({"site_id": "shop.example.com", "property": {"a": 1}}, "property: "),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: Client, site: Site, body: dict[str, Any], error: str
) -> None:
    answer = send(api, "put", BASE, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(error)
    site.refresh_from_db()
    assert site.allowed_props == []


def test_malformed_json_and_a_list_body(api: Client) -> None:
    assert send(api, "put", BASE, "{not json").status_code == 400
    listed = send(api, "put", BASE, ["shop.example.com"])
    assert listed.status_code == 400
    assert listed.json()["error"].startswith("body: ")
    assert api.get(BASE).json() == {"error": "site_id: required: the site's domain"}
    assert api.delete(f"{BASE}/plan").status_code == 400


def test_at_most_300_keys(api: Client, site: Site) -> None:
    for n in range(services.MAX_ALLOWED_PROPS):
        services.allowed_prop_add(site=site, key=f"k{n:03}")
    over = send(api, "put", BASE, {"site_id": site.domain, "property": "one-more"})
    assert over.status_code == 400
    assert over.json()["error"].startswith("property: ")
    known = send(api, "put", BASE, {"site_id": site.domain, "property": "k000"})
    assert known.json() == {"created": True}  # already there: nothing to add
    site.refresh_from_db()
    assert len(site.allowed_props) == services.MAX_ALLOWED_PROPS


def test_another_tenants_site_and_unknown_sites_are_not_found(api: Client) -> None:
    theirs = factories.site(factories.organization(), "theirs.example.com")
    services.allowed_prop_add(site=theirs, key="secret_key")
    for domain in ("theirs.example.com", "nowhere.example.com", "<b>x</b>"):
        listed = api.get(BASE, {"site_id": domain})
        assert (listed.status_code, listed.json()) == (404, {"error": "not found"})
        made = send(api, "put", BASE, {"site_id": domain, "property": "plan"})
        assert made.status_code == 404
        gone = api.delete(f"{BASE}/secret_key?{urlencode({'site_id': domain})}")
        assert gone.status_code == 404
    theirs.refresh_from_db()
    assert theirs.allowed_props == ["secret_key"]


def test_scopes(org: Any, site: Site) -> None:
    _, read = factories.api_key(org, scopes=(Scope.SITES_READ,))
    reader = bearer(read)
    assert reader.get(BASE, {"site_id": site.domain}).status_code == 200
    refused = send(reader, "put", BASE, {"site_id": site.domain, "property": "plan"})
    assert refused.status_code == 403
    assert "sites:manage" in refused.json()["error"]
    assert reader.delete(f"{BASE}/plan?site_id={site.domain}").status_code == 403
    _, stats = factories.api_key(org, scopes=(Scope.STATS_READ,))
    assert bearer(stats).get(BASE, {"site_id": site.domain}).status_code == 403
    site.refresh_from_db()
    assert site.allowed_props == []


def test_events_keep_every_property_whatever_the_list(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("props.example.com")
    services.allowed_prop_add(site=site, key="plan")
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).replace(microsecond=0)
    events = [
        {
            "domain": site.domain,
            "name": "Signup",
            "url": f"https://{site.domain}/",
            "timestamp": stamp.isoformat(),
            "props": props,
            "ip": f"203.0.113.{n}",
        }
        for n, props in enumerate([{"plan": "pro", "source": "ad"}, {"colour": "red"}], 1)
    ]
    seed(site, events)
    expected = sorted({key for event in events for key in event["props"]})
    _, raw = factories.api_key(site.organization, scopes=(Scope.STATS_READ,))
    keys = bearer(raw).get(
        f"/api/v1/sites/{site.domain}/property-keys", {"event": "Signup", "date_range": "7d"}
    )
    assert keys.status_code == 200, keys.content
    assert keys.json()["keys"] == expected  # "source" and "colour" too: recorded, not a filter


@pytest.mark.parametrize(
    "raw",
    [
        b'{"site_id": "shop.example.com", "property": "\\ud800"}',  # a lone surrogate
        b'{"site_id": "shop.example.com", "property": "p", "\\udc00": 1}',
        b'{"site_id": "shop.example.com", "property": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"\xff\xfe not utf-8",
    ],
)
def test_hostile_bodies_are_a_400(api: Client, site: Site, raw: bytes) -> None:
    answer = api.put(BASE, raw, content_type="application/json")
    assert answer.status_code == 400, answer.content[:300]
    assert set(answer.json()) == {"error"}
    site.refresh_from_db()
    assert site.allowed_props == []


def test_a_path_key_with_hostile_characters_is_a_400_or_nothing(api: Client, site: Site) -> None:
    services.allowed_prop_add(site=site, key="plan")
    for key in ("%00", "%0A", "a%20" * 100, "..%2F..%2Fetc"):
        answer = api.delete(f"{BASE}/{key}?site_id=shop.example.com")
        assert answer.status_code in (200, 400, 404), answer.content
    site.refresh_from_db()
    assert site.allowed_props == ["plan"]


def test_a_key_with_a_slash_is_taken_off_by_its_path(api: Client, site: Site) -> None:
    send(api, "put", BASE, {"site_id": site.domain, "property": "utm/source"})
    gone = api.delete(f"{BASE}/utm/source?site_id={site.domain}")
    assert gone.json() == {"deleted": True}
    site.refresh_from_db()
    assert site.allowed_props == []


def test_a_key_limited_to_another_site_finds_nothing(org: Any, site: Site) -> None:
    other = factories.site(org, "other.example.com")
    owner = org.memberships.get(role=Role.OWNER).user
    _, raw = accounts.api_key_create(
        organization=org, actor=owner, name="limited", scopes=[Scope.SITES_MANAGE], sites=[other]
    )
    limited = bearer(raw)
    assert limited.get(BASE, {"site_id": site.domain}).status_code == 404
    made = send(limited, "put", BASE, {"site_id": site.domain, "property": "plan"})
    assert made.status_code == 404
    assert send(limited, "put", BASE, {"site_id": other.domain, "property": "plan"}).json() == {
        "created": True
    }
    site.refresh_from_db()
    assert site.allowed_props == []
