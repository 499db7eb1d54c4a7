"""The REST API for API keys: the secret once, in the creation's answer only; a key made by
a key gets no more scopes than it has; site limits by domain; the dashboard's form offers
the same limits; another organization's keys are not found."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts import services as accounts
from accounts.models import ApiKey, Role, Scope
from accounts.services import api_key_authenticate
from sites.models import Site
from tests import factories
from tests.api_client import bearer

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def org() -> Any:
    return factories.organization()


def test_create_list_revoke_and_the_secret_shown_once(org: Any) -> None:
    factories.site(org, "shop.example.com")
    _, raw = factories.api_key(org)
    api = bearer(raw)
    made = post(
        api,
        "/api/v1/keys",
        {"name": "Reports", "scopes": ["stats:read"], "sites": ["SHOP.example.com"]},
    )
    assert made.status_code == 201, made.content
    new = made.json()
    assert new["sites"] == ["shop.example.com"]
    assert new["scopes"] == ["stats:read"]
    key = api_key_authenticate(new["key"])
    assert key is not None and key.site_limited
    listed = api.get("/api/v1/keys").json()["keys"]
    assert new["key"] not in json.dumps(listed)
    assert [k["name"] for k in listed] == ["Reports", "test key"]
    assert listed[1]["sites"] is None
    assert api.delete(f"/api/v1/keys/{new['id']}").status_code == 204
    assert api_key_authenticate(new["key"]) is None
    assert bearer(new["key"]).get("/api/v1/sites").status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"scopes": ["stats:read"]}, "name: This field is required."),
        ({"name": "k", "scopes": []}, "scopes: Ensure this field has at least 1 elements."),
        ({"name": "k", "scopes": ["all"]}, 'scopes: "all" is not a valid choice.'),
        ({"name": " ", "scopes": ["stats:read"]}, "name: This field may not be blank."),
        (
            {"name": "k", "scopes": ["members:read"], "sites": ["shop.example.com"]},
            "scopes: a key limited to some sites cannot",
        ),
    ],
)
def test_bad_input_names_the_field(org: Any, body: Any, error: str) -> None:
    factories.site(org, "shop.example.com")
    _, raw = factories.api_key(org)
    answer = post(bearer(raw), "/api/v1/keys", body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error), answer.json()
    assert ApiKey.objects.count() == 1


def test_a_key_grants_no_scope_it_lacks(org: Any) -> None:
    _, raw = factories.api_key(org, scopes=(Scope.MEMBERS_MANAGE, Scope.STATS_READ))
    api = bearer(raw)
    assert post(api, "/api/v1/keys", {"name": "k", "scopes": ["stats:read"]}).status_code == 201
    wider = post(api, "/api/v1/keys", {"name": "k", "scopes": ["sites:manage"]})
    assert wider.status_code == 403
    assert "sites:manage" in wider.json()["error"]
    assert ApiKey.objects.count() == 2


def test_another_tenants_sites_and_keys_are_not_found(org: Any) -> None:
    _, raw = factories.api_key(org)
    api = bearer(raw)
    theirs = factories.organization()
    factories.site(theirs, "theirs.example.net")
    their_key, _ = factories.api_key(theirs)
    limited = post(
        api,
        "/api/v1/keys",
        {"name": "k", "scopes": ["stats:read"], "sites": ["theirs.example.net"]},
    )
    made_up = post(
        api, "/api/v1/keys", {"name": "k", "scopes": ["stats:read"], "sites": ["nope.example.net"]}
    )
    assert (limited.status_code, limited.content) == (404, made_up.content)
    revoke = api.delete(f"/api/v1/keys/{their_key.pk}")
    assert (revoke.status_code, revoke.content) == (404, api.delete("/api/v1/keys/999999").content)
    their_key.refresh_from_db()
    assert their_key.revoked_at is None
    assert their_key.prefix not in api.get("/api/v1/keys").content.decode()


def test_viewers_and_scopes(org: Any) -> None:
    viewer = factories.member(org, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/v1/keys").status_code == 200
    refused = post(client, "/api/v1/keys", {"name": "k", "scopes": ["stats:read"]})
    assert refused.status_code == 403
    _, read_only = factories.api_key(org, scopes=(Scope.MEMBERS_READ,))
    assert bearer(read_only).get("/api/v1/keys").status_code == 200
    assert (
        post(bearer(read_only), "/api/v1/keys", {"name": "k", "scopes": ["stats:read"]}).status_code
        == 403
    )
    assert ApiKey.objects.count() == 1


def test_the_dashboard_form_limits_keys_to_sites(org: Any) -> None:
    site = factories.site(org, "shop.example.com")
    factories.site(org, "blog.example.com")
    client = Client()
    client.force_login(org.memberships.get(role=Role.OWNER).user)
    page = client.get("/settings/api-keys")
    assert b'name="sites"' in page.content and b"shop.example.com" in page.content
    made = client.post(
        "/settings/api-keys",
        {"name": "Shop stats", "scopes": ["stats:read"], "sites": [str(site.pk)]},
    )
    assert made.status_code == 200
    key = ApiKey.objects.get(name="Shop stats")
    assert key.site_limited and list(key.sites.all()) == [site]
    assert b"shop.example.com" in made.content
    foreign = factories.site(factories.organization(), "theirs.example.net")
    refused = client.post(
        "/settings/api-keys",
        {"name": "Bad", "scopes": ["stats:read"], "sites": [str(foreign.pk)]},
    )
    assert refused.status_code == 400
    assert not ApiKey.objects.filter(name="Bad").exists()
    # Digits that are not ASCII ("²" passes str.isdigit, int() refuses it) are no id either.
    odd = client.post(
        "/settings/api-keys", {"name": "Odd", "scopes": ["stats:read"], "sites": ["²"]}
    )
    assert odd.status_code == 400
    assert client.post("/settings/api-keys", {"revoke": "²"}).status_code == 400


def test_a_site_limited_key_sends_events_to_its_sites_only(
    org: Any, make_site: Callable[..., Site]
) -> None:
    # Fresh site ids: the accepted event reaches ClickHouse, which outlives the test.
    shop = make_site("shop.example.com", organization=org)
    make_site("blog.example.com", organization=org)
    _, raw = accounts.api_key_create(
        organization=org,
        actor=org.memberships.get(role=Role.OWNER).user,
        name="shop events",
        scopes=[Scope.EVENTS_WRITE],
        sites=[shop],
    )
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    events = [
        {"domain": domain, "name": "pageview", "url": f"https://{domain}/", "user_agent": ua}
        for domain in ("shop.example.com", "blog.example.com", "nope.example.com")
    ]
    answer = post(bearer(raw), "/api/v1/events", {"events": events})
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == 1
    reasons = {item["index"]: item["reason"] for item in answer.json()["rejected"]}
    assert reasons[1] == reasons[2]  # the other site of the organization looks like none
