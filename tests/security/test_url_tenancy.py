"""Tenancy over every URL pattern of the URL conf, enumerated from the resolver.

`tests/test_tenancy.py` checks each page and operation in depth, one by one. This module
makes sure none is forgotten: it walks Django's resolver, so a view added tomorrow fails
`test_every_url_pattern_has_a_rule` until someone says here what it may show and to whom.
Then every pattern is requested, with every method, by everyone outside tenant B (A's
owner, A's viewer, A's API key, anonymous) with B's identifiers filled into the URL, and:

- nothing of B (domain, public id, goal, link slug, names, addresses, key prefix) is in
  the answer, whatever its status;
- nothing in the database changes, for either tenant;
- no answer is a server error;
- where the URL names B's site, the answer is exactly the one for a site that does not
  exist (404, or the login page / 401 for those not signed in): B's site cannot even be
  detected.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.test_tenancy import (  # noqa: F401  (the fixture of the two tenants, made once)
    World,
    _module_world,
    assert_no_leak,
    assert_unchanged_except,
    client_for,
    snapshot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(_module_world: World, db: None) -> World:  # noqa: F811 (the imported fixture)
    return _module_world


# What each URL pattern may show, and to whom.
SITE = "site"  # the URL names a site: outsiders get what a made-up site gets
SHARED = "shared"  # a shared dashboard: a public site, or a live link's slug of that site
ORG = "org"  # about the signed-in person's current organization, or their own things
BODY = "body"  # the API names its site in the query or body (checked with B's domain)
PUBLIC = "public"  # the same for everyone: sign-in flows, tracker, docs, health, schema
CAPABILITY = "capability"  # a secret token in the URL is the permission (invitations)
ADMIN = "admin"  # Django's admin: staff only

RULES: dict[str, str] = {
    "healthz": PUBLIC,
    "api/v1/events": BODY,
    "api/v1/sites": ORG,
    "api/v1/sites/<str:domain>": SITE,
    "api/v1/sites/goals": BODY,  # Plausible's Sites API: site_id in the query or body
    "api/v1/sites/goals/<str:goal_id>": BODY,
    "api/v1/sites/shared-links": BODY,
    "api/v1/sites/<str:domain>/goals": SITE,
    "api/v1/sites/<str:domain>/goals/<str:goal_id>": SITE,
    "api/v1/sites/<str:domain>/funnels": SITE,
    "api/v1/sites/<str:domain>/funnels/<str:funnel_id>": SITE,
    "api/v1/sites/<str:domain>/funnels/<str:funnel_id>/query": SITE,
    "api/v1/sites/<str:domain>/shared-links": SITE,
    "api/v1/sites/<str:domain>/shared-links/<str:link_id>": SITE,
    "api/v1/sites/<str:domain>/property-keys": SITE,
    "api/v1/sites/<str:domain>/events/export": SITE,
    "api/v1/members": ORG,
    "api/v1/members/<str:user_id>": ORG,
    "api/v1/invitations": ORG,
    "api/v1/invitations/<str:invitation_id>": ORG,
    "api/v1/keys": ORG,
    "api/v1/keys/<str:key_id>": ORG,
    "api/v1/funnels/query": BODY,
    "api/v1/sites/<str:domain>/exports": SITE,
    # an export of a site the asker may see (its id is a random UUID; another tenant's is
    # answered as a made-up one: tests/reports/test_export_jobs.py)
    "api/v1/exports/<str:export_id>": ORG,
    "api/v1/exports/<str:export_id>/download": ORG,
    "api/v1/realtime": BODY,
    "api/v2/query": BODY,
    "api/schema/": PUBLIC,
    "api/docs/": PUBLIC,
    "": PUBLIC,
    "sites/": ORG,
    "sites/new": ORG,
    "sites/<str:domain>/": SITE,
    "sites/<str:domain>/installation": SITE,
    "sites/<str:domain>/installation/box": SITE,
    "sites/<str:domain>/allow-hostname": SITE,
    "sites/<str:domain>/panel/<str:name>": SITE,
    "sites/<str:domain>/export/<str:name>": SITE,
    "sites/<str:domain>/exports": SITE,
    "sites/<str:domain>/exports/<str:export_id>": SITE,
    "sites/<str:domain>/exports/<str:export_id>/download": SITE,
    "sites/<str:domain>/settings": SITE,
    "sites/<str:domain>/goals": SITE,
    "sites/<str:domain>/funnels": SITE,
    "sites/<str:domain>/goals/<int:goal_id>": SITE,
    "sites/<str:domain>/funnels/<int:funnel_id>": SITE,
    "sites/<str:domain>/shared-links": SITE,
    "sites/<str:domain>/delete": SITE,
    "share/<str:domain>": SHARED,
    "share/<str:domain>/panel/<str:name>": SHARED,
    "share/<str:domain>/export/<str:name>": SHARED,
    "organization/": ORG,
    "organization/switch": ORG,
    "organization/new": ORG,
    "invitations/<str:token>": CAPABILITY,
    "settings/api-keys": ORG,
    "js/trail.js": PUBLIC,
    "js/trail.core.js": PUBLIC,
    "assets/s.js": PUBLIC,
    "docs/tracker": PUBLIC,
    "admin/login/": PUBLIC,  # Trail's own login (accounts/views.py), shadowing the admin's
}
PREFIX_RULES = {"accounts/": PUBLIC, "admin/": ADMIN}  # allauth's flows; the admin site


def _more_rules() -> Iterator[tuple[str, str]]:
    """Rules kept beside their feature's tests: `RULES` of every `url_rules_*.py` here."""
    here = Path(__file__).parent
    for module in sorted(here.glob("url_rules_*.py")):
        yield from importlib.import_module(f"tests.security.{module.stem}").RULES.items()


for _route, _rule in _more_rules():
    assert _route not in RULES, f"two rules for {_route}"
    RULES[_route] = _rule


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            assert isinstance(pattern, URLPattern)
            yield route


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))


def rule_of(route: str) -> str | None:
    if route in RULES:
        return RULES[route]
    for prefix, rule in PREFIX_RULES.items():
        if route.startswith(prefix):
            return rule
    return None


def test_every_url_pattern_has_a_rule() -> None:
    unruled = [route for route in ROUTES if rule_of(route) is None]
    assert not unruled, f"say in {__name__} who may see these URL patterns: {unruled}"
    stale = sorted(set(RULES) - set(ROUTES))
    assert not stale, f"rules for URL patterns that no longer exist: {stale}"


def test_the_walk_reaches_every_kind_of_pattern() -> None:
    """The enumeration is not vacuous: included URL confs and regular expressions count."""
    assert len(ROUTES) > 60
    assert any(route.startswith("accounts/^") for route in ROUTES)  # allauth's re_path
    assert any("<path:object_id>" in route for route in ROUTES)  # the admin's model pages
    assert {rule_of(route) for route in ROUTES} == {
        SITE,
        SHARED,
        ORG,
        BODY,
        PUBLIC,
        CAPABILITY,
        ADMIN,
    }


def fill(route: str, values: dict[str, str]) -> str:
    """A concrete path for a route: converters and named groups get `values`' entries."""

    def value(name: str) -> str:
        return values.get(name, "x1")

    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1)), path)
    return "/" + path.replace("^", "").replace("$", "")


OUTSIDERS = ["owner_a", "viewer_a", "key_a", "anon"]  # nobody here belongs to tenant B
METHODS = ["get", "post", "put", "patch", "delete"]
MADE_UP = "no-such-site.example"


def values_for(world: World, domain: str) -> dict[str, str]:
    b = world.b
    return {
        "domain": domain,
        "name": "pages",
        "goal_id": str(b.goal.pk),
        "funnel_id": str(b.goal.pk),  # B has no funnel: an id that is not A's either
        "link_id": str(b.link.pk),
        "user_id": str(b.owner.pk),
        "invitation_id": str(b.invitation.pk),
        "key_id": str(b.key.pk),
        "token": "made-up-invitation-token",
        "object_id": str(b.owner.pk),
        "content_type_id": "1",
        "app_label": "auth",
        "url": f"sites/site/{b.site.pk}/change/",
    }


def request(world: World, actor: str, method: str, path: str, body: Any = None) -> Any:
    client = client_for(world, actor)
    if body is None:
        return getattr(client, method)(path)
    if method == "get":
        return client.get(path, body)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def assert_outsider_answer(world: World, actor: str, response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    assert_no_leak(world, actor, response)


CASES = [
    pytest.param(route, actor, method, id=f"{route}-{actor}-{method}")
    for route in ROUTES
    for actor in OUTSIDERS
    for method in METHODS
]


@pytest.fixture
def _events(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("clickhouse")  # panels, exports and stats read ClickHouse


@pytest.mark.usefixtures("_events")
@pytest.mark.parametrize(("route", "actor", "method"), CASES)
def test_outsiders_get_nothing_of_tenant_b(
    world: World, route: str, actor: str, method: str
) -> None:
    rule = rule_of(route)
    before = snapshot(world)
    b = world.b
    path = fill(route, values_for(world, b.site.domain))

    if rule == BODY:
        # The API names the site in its query or body: B's site, as one made up.
        body = {
            "site_id": b.site.domain,
            "domain": b.site.domain,
            "metrics": ["visitors"],
            "date_range": "7d",
            "steps": [{"page": "/"}, {"page": "/b"}],
        }
        if route == "api/v1/events":
            body = {"events": [{"domain": b.site.domain, "name": "pageview", "url": "/"}]}
        response = request(world, actor, method, path, body)
        made_up = request(world, actor, method, path, _renamed(body, b.site.domain))
        assert response.status_code == made_up.status_code, response.content[:500]
    elif rule in (SITE, SHARED):
        response = request(world, actor, method, path)
        made_up = request(world, actor, method, fill(route, values_for(world, MADE_UP)))
        assert response.status_code == made_up.status_code, response.content[:500]
        assert response.status_code in (302, 401, 404, 405), response.content[:500]
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")
        if rule == SHARED:  # B's site is not public and no slug was given: nothing to show
            assert response.status_code in (404, 405)
            with_a_slug = client_for(world, actor).get(path, {"auth": world.a.link.slug})
            assert with_a_slug.status_code == 404  # A's link opens A's site, never B's
            assert_outsider_answer(world, actor, with_a_slug)
    elif rule == ADMIN:
        response = request(world, actor, method, path)
        assert response.status_code in (302, 404, 405), response.content[:500]
        if response.status_code == 302:  # to a login page (or the index, which sends
            # there): nobody here is staff
            assert "login" in response["Location"] or response["Location"] == "/admin/"
    elif rule == CAPABILITY:  # a token nobody was given: gone, or the login page first
        response = request(world, actor, method, path)
        assert response.status_code in (302, 404, 405, 410), response.content[:500]
    else:
        assert rule in (ORG, PUBLIC)
        response = request(world, actor, method, path)

    assert_outsider_answer(world, actor, response)
    assert_unchanged_except(world, before, None)


def _renamed(body: dict[str, Any], domain: str) -> dict[str, Any]:
    return json.loads(json.dumps(body).replace(domain, MADE_UP))
