"""Tenant isolation: every page and API operation, for every kind of actor, on both tenants.

Two organizations, A ("Alpha Corp", alpha-site.com) and B ("Beta Corp", beta-site.com), each
with a site, a goal, a shared link, an API key, a pending invitation and a passive member.
The actors: A's owner, A's viewer, B's owner, B's API key, anonymous (and, for the API,
A's key, a revoked key of A and a key of A without `sites:manage`).

What must hold in every cell:
- an actor of one tenant gets 404 on anything of the other (the API: `{"error": ...}`),
  never 403 and never data; anonymous gets the login page (HTML) or 401 (API);
- no response to an actor outside a tenant contains that tenant's domain, site public id,
  goal, shared link slug, name, people's addresses or key prefix;
- A's viewer reads A (200) but every write is 403 and changes nothing;
- owners (and keys with `sites:manage`) can do every write, so the negative cells are not
  merely broken endpoints;
- every write is checked in the database: the intended change happened, nothing else did.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.test.client import ClientHandler

from accounts import services as accounts
from accounts.models import ApiKey, Invitation, Membership, Organization, Role, Scope, User
from accounts.sessions import ORGANIZATION_KEY
from sites import services as sites
from sites.models import Goal, SharedLink, Site
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "login"  # expected outcome: a redirect to the login page

ALPHA = "alpha-site.com"
BETA = "beta-site.com"


@dataclass
class Tenant:
    name: str  # "a" or "b"
    org: Organization
    owner: User
    extra: User  # a passive viewer: the target of role changes, removal and transfer
    site: Site
    goal: Goal
    link: SharedLink
    key: ApiKey
    raw_key: str
    invitation: Invitation

    def secrets(self) -> list[str]:
        """Strings that only someone inside this tenant may ever see."""
        return [
            self.site.domain,
            str(self.site.public_id),
            self.site.public_id.hex,
            self.goal.value,
            self.link.slug,
            self.org.name,
            f"{self.name}-corp.example.org",  # every address of the tenant's people
            self.key.prefix,
        ]


@dataclass
class World:
    a: Tenant
    b: Tenant
    viewer_a: User
    revoked_key_a: str
    noscope_key_a: str

    def tenant(self, name: str) -> Tenant:
        return self.a if name == "a" else self.b


def _tenant(name: str, domain: str) -> Tenant:
    word = {"a": "alpha", "b": "beta"}[name]
    owner = factories.user(f"owner@{name}-corp.example.org")
    org = accounts.organization_create(name=f"{word.title()} Corp", owner=owner)
    extra = factories.member(org, Role.VIEWER, f"extra@{name}-corp.example.org")
    site = sites.site_create(organization=org, domain=domain)
    goal = sites.goal_create(site=site, kind="pageview", value=f"/{word}-secret-goal")
    link = sites.shared_link_create(site=site, name=f"{word} board")
    key, raw = accounts.api_key_create(
        organization=org, actor=owner, name=f"{word} key", scopes=Scope.values
    )
    invitation, _ = accounts.invitation_create(
        organization=org, actor=owner, email=f"invitee@{name}-corp.example.org", role=Role.VIEWER
    )
    return Tenant(name, org, owner, extra, site, goal, link, key, raw, invitation)


def _make_world() -> World:
    a = _tenant("a", ALPHA)
    b = _tenant("b", BETA)
    viewer_a = factories.member(a.org, Role.VIEWER, "viewer@a-corp.example.org")
    revoked, revoked_raw = accounts.api_key_create(
        organization=a.org, actor=a.owner, name="revoked", scopes=Scope.values
    )
    accounts.api_key_revoke(key=revoked, actor=a.owner)
    _, noscope_raw = accounts.api_key_create(
        organization=a.org,
        actor=a.owner,
        name="no sites",
        scopes=[Scope.STATS_READ, Scope.EVENTS_WRITE],
    )
    return World(a, b, viewer_a, revoked_raw, noscope_raw)


@pytest.fixture(scope="module")
def _module_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """The world, made once for the module inside a transaction that is rolled back at the
    end. Each test's own transaction (pytest-django's) nests in it as a savepoint, so every
    test starts from this world, whatever the previous test wrote. Tests only read the
    objects' ids and attributes; what they check is always read back from the database.
    (So no test in this module may use `transaction=True`.)"""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            made = _make_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield made
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def world(_module_world: World, db: None) -> World:
    return _module_world


# Actors

USERS = {"owner_a": "a", "viewer_a": "a", "owner_b": "b"}
KEYS = {"key_a": "a", "key_b": "b"}
ORG_OF = {**USERS, **KEYS}  # the tenant an actor belongs to; anonymous and bad keys: none

HTML_ACTORS = ["owner_a", "viewer_a", "owner_b", "key_b", "anon"]
API_ACTORS = [
    "owner_a",
    "viewer_a",
    "owner_b",
    "key_a",
    "key_b",
    "anon",
    "revoked_key_a",
    "noscope_key_a",
]
TARGETS = ["a", "b"]


@functools.cache
def _handler() -> ClientHandler:
    """One request handler for every client of this module: building the middleware chain
    (WhiteNoise indexes every static file) per client would cost more than the requests."""
    return ClientHandler(enforce_csrf_checks=False)


def _client(**headers: str) -> Client:
    client = Client(**headers)
    client.handler = _handler()
    return client


def client_for(world: World, actor: str) -> Client:
    users = {"owner_a": world.a.owner, "viewer_a": world.viewer_a, "owner_b": world.b.owner}
    raw_keys = {
        "key_a": world.a.raw_key,
        "key_b": world.b.raw_key,
        "revoked_key_a": world.revoked_key_a,
        "noscope_key_a": world.noscope_key_a,
    }
    if actor in users:
        client = _client()
        client.force_login(users[actor])
        return client
    if actor in raw_keys:
        return _client(HTTP_AUTHORIZATION=f"Bearer {raw_keys[actor]}")
    assert actor == "anon"
    return _client()


def assert_no_leak(world: World, actor: str, response: HttpResponse) -> None:
    """Nothing of a tenant reaches anyone outside it (including anonymous)."""
    body = response.content.decode()
    for tenant in (world.a, world.b):
        if ORG_OF.get(actor) == tenant.name:
            continue
        for secret in tenant.secrets():
            assert secret not in body, f"{actor} sees {secret!r} of tenant {tenant.name}"


def assert_login_redirect(response: HttpResponse) -> None:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith("/accounts/login/")


def assert_status(response: HttpResponse, expected: int | str) -> None:
    if expected == LOGIN:
        assert_login_redirect(response)
    else:
        assert response.status_code == expected, response.content[:500]


def html_expectation(actor: str, target: str, *, write: bool, success: int) -> int | str:
    if actor not in USERS:  # HTML pages know sessions only: a key is anonymous there
        return LOGIN
    if USERS[actor] != target:
        return 404
    if write and actor == "viewer_a":
        return 403
    return success


# State snapshots: a write that must not happen is caught by comparing them


def site_state(site: Site) -> dict[str, Any]:
    fresh = Site.objects.get(pk=site.pk)
    return {
        "domain": fresh.domain,
        "organization": fresh.organization_id,
        "deleted": fresh.deleted_at is not None,
        "settings": (
            fresh.timezone,
            fresh.extra_hostnames,
            fresh.excluded_ips,
            fresh.excluded_paths,
            fresh.honor_dnt,
            fresh.is_public,
        ),
        "goals": sorted(Goal.objects.filter(site=fresh).values_list("id", "kind", "value")),
        "links": sorted(SharedLink.objects.filter(site=fresh).values_list("id", "slug")),
    }


def org_state(org: Organization) -> dict[str, Any]:
    return {
        "members": sorted(
            Membership.objects.filter(organization=org).values_list("user_id", "role")
        ),
        "invitations": sorted(
            Invitation.objects.filter(organization=org).values_list("id", "email", "accepted_at")
        ),
        "keys": sorted(
            ApiKey.objects.filter(organization=org).values_list("id", "name", "revoked_at")
        ),
        "sites": sorted(Site.objects.filter(organization=org).values_list("domain", "deleted_at")),
    }


def tenant_state(tenant: Tenant) -> dict[str, Any]:
    return {"org": org_state(tenant.org), "site": site_state(tenant.site)}


def snapshot(world: World) -> dict[str, dict[str, Any]]:
    return {"a": tenant_state(world.a), "b": tenant_state(world.b)}


def assert_unchanged_except(
    world: World, before: dict[str, dict[str, Any]], changed: str | None
) -> dict[str, dict[str, Any]]:
    """Every tenant but `changed` is exactly as before; `changed` (if any) is different."""
    after = snapshot(world)
    for name in TARGETS:
        if name == changed:
            assert after[name] != before[name], f"the write did not change tenant {name}"
        else:
            assert after[name] == before[name], f"tenant {name} changed"
    return after


# HTML: the pages of one site


SITE_PAGES = [
    "overview",
    "installation",
    "installation/box",
    "settings",
    "goals",
    "funnels",
    "shared-links",
    "panel/top",
    "panel/pages",
    "panel/funnels",
    "export/pages?tab=pages",
]
# pages that read ClickHouse, and those whose body is not a page about the site
READS_EVENTS = {
    "overview",
    "installation",
    "installation/box",
    "panel/top",
    "panel/pages",
    "panel/funnels",
    "export/pages?tab=pages",
}
NOT_A_PAGE = {
    "installation",
    "installation/box",
    "panel/top",
    "panel/pages",
    "panel/funnels",
    "export/pages?tab=pages",
}


def site_url(site: Site, page: str) -> str:
    return f"/sites/{site.domain}/" if page == "overview" else f"/sites/{site.domain}/{page}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", HTML_ACTORS)
@pytest.mark.parametrize("page", SITE_PAGES)
def test_site_page_read(
    world: World, request: pytest.FixtureRequest, page: str, actor: str, target: str
) -> None:
    if page in READS_EVENTS:
        request.getfixturevalue("clickhouse")
    site = world.tenant(target).site
    before = snapshot(world)

    response = client_for(world, actor).get(site_url(site, page))

    success = 200
    if page == "installation/box" and response.status_code == 286:
        success = 286  # htmx's "stop polling": the site has events (see "installation" below)
    expected = html_expectation(actor, target, write=False, success=success)
    assert_status(response, expected)
    if expected == 200:
        if page == "installation":
            # (other test modules may have sent events for a site with the same row id)
            assert set(response.json()) == {"installed", "first_event_at"}
        elif page not in NOT_A_PAGE:
            assert site.domain in response.content.decode()
    assert_no_leak(world, actor, response)
    assert_unchanged_except(world, before, None)


@dataclass(frozen=True)
class SiteWrite:
    page: str
    data: Callable[[Tenant], dict[str, Any]]
    done: Callable[[Tenant, dict[str, Any]], bool]  # did it happen, given the site's new state
    redirect: Callable[[Tenant], str]


SITE_WRITES = {
    "settings": SiteWrite(
        "settings",
        lambda t: {"timezone": "Asia/Tokyo", "excluded_paths": "/private/*", "honor_dnt": "on"},
        lambda t, s: s["settings"] == ("Asia/Tokyo", [], [], ["/private/*"], True, False),
        lambda t: f"/sites/{t.site.domain}/settings",
    ),
    "goal-add": SiteWrite(
        "goals",
        lambda t: {"kind": "event", "value": "Added Goal"},
        lambda t, s: (
            sorted(g[1:] for g in s["goals"])
            == sorted([("event", "Added Goal"), ("pageview", t.goal.value)])
        ),
        lambda t: f"/sites/{t.site.domain}/goals",
    ),
    "goal-delete": SiteWrite(
        "goals",
        lambda t: {"delete": t.goal.id},
        lambda t, s: s["goals"] == [],
        lambda t: f"/sites/{t.site.domain}/goals",
    ),
    "link-add": SiteWrite(
        "shared-links",
        lambda t: {"name": "For the board", "password": "long enough password"},
        lambda t, s: len(s["links"]) == 2 and (t.link.id, t.link.slug) in s["links"],
        lambda t: f"/sites/{t.site.domain}/shared-links",
    ),
    "link-delete": SiteWrite(
        "shared-links",
        lambda t: {"delete": t.link.id},
        lambda t, s: s["links"] == [],
        lambda t: f"/sites/{t.site.domain}/shared-links",
    ),
    "allow-hostname": SiteWrite(
        "allow-hostname",
        lambda t: {"host": "shop.example.com"},
        lambda t, s: s["settings"][1] == ["shop.example.com"],
        lambda t: f"/sites/{t.site.domain}/",
    ),
    "delete": SiteWrite(
        "delete",
        lambda t: {"confirm": t.site.domain},
        lambda t, s: s["deleted"],
        lambda t: "/sites/",
    ),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", HTML_ACTORS)
@pytest.mark.parametrize("operation", list(SITE_WRITES))
def test_site_page_write(world: World, operation: str, actor: str, target: str) -> None:
    write = SITE_WRITES[operation]
    tenant = world.tenant(target)
    before = snapshot(world)

    response = client_for(world, actor).post(site_url(tenant.site, write.page), write.data(tenant))

    expected = html_expectation(actor, target, write=True, success=302)
    assert_status(response, expected)
    assert_no_leak(world, actor, response)
    if expected == 302:
        assert response["Location"] == write.redirect(tenant)
        after = assert_unchanged_except(world, before, target)
        assert write.done(tenant, after[target]["site"]), after[target]["site"]
    else:
        assert_unchanged_except(world, before, None)


# HTML: the pages of the current organization


ORG_PAGES = {
    "/sites/": lambda t: t.site.domain,
    "/sites/new": lambda t: "Add a site",
    "/organization/": lambda t: t.extra.email,
    "/settings/api-keys": lambda t: t.key.prefix,
}


@pytest.mark.parametrize("actor", HTML_ACTORS)
@pytest.mark.parametrize("path", list(ORG_PAGES))
def test_organization_page_read(world: World, path: str, actor: str) -> None:
    before = snapshot(world)

    response = client_for(world, actor).get(path)

    if actor in USERS:
        assert response.status_code == 200
        assert ORG_PAGES[path](world.tenant(USERS[actor])) in response.content.decode()
    else:
        assert_login_redirect(response)
    assert_no_leak(world, actor, response)
    assert_unchanged_except(world, before, None)


@dataclass(frozen=True)
class OrgWrite:
    path: str
    data: Callable[[Tenant, User], dict[str, Any]]  # the tenant and the acting user
    done: Callable[[Tenant, User], bool]
    owner: int = 302  # the owner's answer
    viewer: int = 403  # the viewer's answer
    changes: bool = True  # whether success changes the tenant's state


def _role(org: Organization, user: User) -> str | None:
    membership = Membership.objects.filter(organization=org, user=user).first()
    return membership.role if membership else None


ORG_WRITES = {
    "site-new": OrgWrite(
        "/sites/new",
        lambda t, u: {"domain": "https://www.Created-Here.com/", "timezone": "UTC"},
        lambda t, u: Site.objects.filter(organization=t.org, domain="created-here.com").exists(),
    ),
    "invite": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "invite", "email": "new@elsewhere.example.net", "role": "admin"},
        lambda t, u: t.org.invitations.filter(email="new@elsewhere.example.net").exists(),
    ),
    "revoke-invitation": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "revoke-invitation", "invitation": t.invitation.id},
        lambda t, u: not Invitation.objects.filter(pk=t.invitation.pk).exists(),
    ),
    "role": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "role", "user": t.extra.id, "role": "admin"},
        lambda t, u: _role(t.org, t.extra) == Role.ADMIN,
    ),
    "remove": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "remove", "user": t.extra.id},
        lambda t, u: _role(t.org, t.extra) is None,
    ),
    "transfer": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "transfer", "user": t.extra.id},
        lambda t, u: _role(t.org, t.extra) == Role.OWNER and _role(t.org, u) == Role.ADMIN,
    ),
    # Anyone may leave, except the last owner.
    "leave": OrgWrite(
        "/organization/",
        lambda t, u: {"action": "leave"},
        lambda t, u: _role(t.org, u) is None,
        owner=400,
        viewer=302,
    ),
    "switch": OrgWrite(
        "/organization/switch",
        lambda t, u: {"organization": t.org.id},
        lambda t, u: True,
        viewer=302,
        changes=False,
    ),
    "key-create": OrgWrite(
        "/settings/api-keys",
        lambda t, u: {"name": "made here", "scopes": ["stats:read", "sites:manage"]},
        lambda t, u: t.org.api_keys.filter(
            name="made here", scopes=["sites:manage", "stats:read"]
        ).exists(),
        owner=200,  # the page shows the new key once
    ),
    "key-revoke": OrgWrite(
        "/settings/api-keys",
        lambda t, u: {"revoke": t.key.id},
        lambda t, u: ApiKey.objects.get(pk=t.key.pk).revoked_at is not None,
    ),
}


@pytest.mark.parametrize("actor", HTML_ACTORS)
@pytest.mark.parametrize("operation", list(ORG_WRITES))
def test_organization_page_write(world: World, operation: str, actor: str) -> None:
    write = ORG_WRITES[operation]
    client = client_for(world, actor)
    tenant = world.tenant(ORG_OF.get(actor, "a"))  # anonymous and keys aim at A
    acting = {"owner_a": world.a.owner, "viewer_a": world.viewer_a}.get(actor, tenant.owner)
    before = snapshot(world)

    response = client.post(write.path, write.data(tenant, acting))

    assert_no_leak(world, actor, response)
    if actor not in USERS:
        assert_login_redirect(response)
        assert_unchanged_except(world, before, None)
        return
    expected = write.viewer if actor == "viewer_a" else write.owner
    assert response.status_code == expected, response.content[:500]
    succeeded = expected in (200, 302)
    assert_unchanged_except(world, before, tenant.name if succeeded and write.changes else None)
    if succeeded:
        assert write.done(tenant, acting)
    if operation == "switch":
        assert response["Location"] == "/sites/"
        assert client.session[ORGANIZATION_KEY] == tenant.org.id


# The API


API_DETAIL = {
    "get": (lambda c, url: c.get(url), 200),
    "put": (
        lambda c, url: c.put(
            url,
            data=json.dumps({"timezone": "Asia/Tokyo", "is_public": True}),
            content_type="application/json",
        ),
        200,
    ),
    "delete": (lambda c, url: c.delete(url), 200),  # {"deleted": true}, as Plausible
}


def api_expectation(actor: str, target: str | None, *, write: bool, success: int) -> int:
    """`target` None: the actor's own organization (a create without organization_id)."""
    if actor in ("anon", "revoked_key_a"):
        return 401
    if actor == "noscope_key_a":
        return 403
    if target is not None and ORG_OF[actor] != target:
        return 404
    if write and actor == "viewer_a":
        return 403
    return success


def assert_api_error(actor: str, response: HttpResponse, status: int) -> None:
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    if status == 404:
        assert body["error"] == "not found"
    if actor == "noscope_key_a":
        assert "sites:manage" in body["error"]
    if actor == "revoked_key_a":
        assert body["error"] == "invalid or revoked API key"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", API_ACTORS)
@pytest.mark.parametrize("method", list(API_DETAIL))
def test_api_site_detail(world: World, method: str, actor: str, target: str) -> None:
    call, success = API_DETAIL[method]
    tenant = world.tenant(target)
    before = snapshot(world)

    response = call(client_for(world, actor), f"/api/v1/sites/{tenant.site.domain}")

    expected = api_expectation(actor, target, write=method != "get", success=success)
    assert response.status_code == expected, response.content[:500]
    assert_no_leak(world, actor, response)
    if expected >= 400:
        assert_api_error(actor, response, expected)
        assert_unchanged_except(world, before, None)
        return
    if method == "get":
        assert response.json()["public_id"] == str(tenant.site.public_id)
        assert_unchanged_except(world, before, None)
        return
    after = assert_unchanged_except(world, before, target)[target]["site"]
    if method == "put":
        assert response.json()["timezone"] == "Asia/Tokyo"
        assert after["settings"][0] == "Asia/Tokyo" and after["settings"][-1] is True
    else:
        assert after["deleted"]


@pytest.mark.parametrize("actor", API_ACTORS)
def test_api_site_list(world: World, actor: str) -> None:
    response = client_for(world, actor).get("/api/v1/sites")

    expected = api_expectation(actor, None, write=False, success=200)
    assert response.status_code == expected, response.content[:500]
    assert_no_leak(world, actor, response)
    if expected == 200:
        own = world.tenant(ORG_OF[actor]).site
        assert [(s["domain"], s["public_id"]) for s in response.json()["sites"]] == [
            (own.domain, str(own.public_id))
        ]
    else:
        assert_api_error(actor, response, expected)


@pytest.mark.parametrize("target", [None, "a", "b"], ids=["own-org", "org-a", "org-b"])
@pytest.mark.parametrize("actor", API_ACTORS)
def test_api_site_create(world: World, actor: str, target: str | None) -> None:
    body: dict[str, Any] = {"domain": "created-by-api.com"}
    if target is not None:
        body["organization_id"] = world.tenant(target).org.id
    before = snapshot(world)

    response = client_for(world, actor).post(
        "/api/v1/sites", data=json.dumps(body), content_type="application/json"
    )

    expected = api_expectation(actor, target, write=True, success=201)
    assert response.status_code == expected, response.content[:500]
    assert_no_leak(world, actor, response)
    if expected == 201:
        into = world.tenant(target or ORG_OF[actor])
        assert response.json()["organization_id"] == into.org.id
        assert_unchanged_except(world, before, into.name)
        assert Site.objects.get(domain="created-by-api.com").organization_id == into.org.id
    else:
        assert_api_error(actor, response, expected)
        assert_unchanged_except(world, before, None)
        assert not Site.objects.filter(domain="created-by-api.com").exists()


def test_api_site_cannot_move_to_another_tenant(world: World) -> None:
    before = snapshot(world)
    response = client_for(world, "key_a").put(
        f"/api/v1/sites/{ALPHA}",
        data=json.dumps({"organization_id": world.b.org.id}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("organization_id:")
    assert_unchanged_except(world, before, None)


def test_api_key_works_on_html_pages_as_anonymous_only(world: World) -> None:
    """A key (even a valid one with every scope) does not sign anybody in to the pages."""
    client = client_for(world, "key_a")
    for path in (f"/sites/{ALPHA}/", "/sites/", "/settings/api-keys"):
        assert_login_redirect(client.get(path))


NOT_FOUND_PROBES = [
    pytest.param("owner_b", "get", "/sites/{}/", id="owner_b-page-overview"),
    pytest.param("owner_b", "get", "/sites/{}/settings", id="owner_b-page-settings"),
    pytest.param("owner_b", "post", "/sites/{}/goals", id="owner_b-post-goals"),
    pytest.param("owner_b", "post", "/sites/{}/delete", id="owner_b-post-delete"),
    pytest.param("owner_b", "get", "/api/v1/sites/{}", id="owner_b-api-get"),
    pytest.param("owner_b", "delete", "/api/v1/sites/{}", id="owner_b-api-delete"),
    pytest.param("key_b", "get", "/api/v1/sites/{}", id="key_b-api-get"),
    pytest.param("key_b", "put", "/api/v1/sites/{}", id="key_b-api-put"),
    pytest.param("key_b", "delete", "/api/v1/sites/{}", id="key_b-api-delete"),
]


@pytest.mark.parametrize(("actor", "method", "template"), NOT_FOUND_PROBES)
def test_another_tenants_site_looks_like_no_site_at_all(
    world: World, actor: str, method: str, template: str
) -> None:
    """Nobody outside A can even learn that A's site exists: same answer as a made-up one."""
    client = client_for(world, actor)

    def answer(domain: str) -> tuple[int, bytes]:
        response = getattr(client, method)(template.format(domain))
        return response.status_code, response.content

    theirs = answer(ALPHA)
    assert theirs[0] == 404
    assert theirs == answer("no-such-site.com")


# Ids of the other tenant posted to one's own pages


CROSS_TENANT_IDS = {
    "goal-delete": (f"/sites/{ALPHA}/goals", lambda b: {"delete": b.goal.id}),
    "link-delete": (f"/sites/{ALPHA}/shared-links", lambda b: {"delete": b.link.id}),
    "key-revoke": ("/settings/api-keys", lambda b: {"revoke": b.key.id}),
    "invitation-revoke": (
        "/organization/",
        lambda b: {"action": "revoke-invitation", "invitation": b.invitation.id},
    ),
    "role-of-owner": (
        "/organization/",
        lambda b: {"action": "role", "user": b.owner.id, "role": "viewer"},
    ),
    "role-of-member": (
        "/organization/",
        lambda b: {"action": "role", "user": b.extra.id, "role": "owner"},
    ),
    "remove-owner": ("/organization/", lambda b: {"action": "remove", "user": b.owner.id}),
    "remove-member": ("/organization/", lambda b: {"action": "remove", "user": b.extra.id}),
    "transfer-to-owner": ("/organization/", lambda b: {"action": "transfer", "user": b.owner.id}),
    "transfer-to-member": ("/organization/", lambda b: {"action": "transfer", "user": b.extra.id}),
}


@pytest.mark.parametrize("operation", list(CROSS_TENANT_IDS))
def test_ids_of_another_tenant_touch_nothing(world: World, operation: str) -> None:
    path, data = CROSS_TENANT_IDS[operation]
    before = snapshot(world)

    response = client_for(world, "owner_a").post(path, data(world.b))

    assert response.status_code == 400, response.content[:500]
    assert_no_leak(world, "owner_a", response)
    assert_unchanged_except(world, before, None)


def test_switching_to_another_tenant_is_ignored(world: World) -> None:
    client = client_for(world, "owner_a")
    response = client.post("/organization/switch", {"organization": world.b.org.id})
    assert response.status_code == 302 and response["Location"] == "/sites/"
    assert client.session.get(ORGANIZATION_KEY) != world.b.org.id
    page = client.get("/sites/")
    assert ALPHA in page.content.decode()
    assert_no_leak(world, "owner_a", page)


@pytest.mark.parametrize("path", list(ORG_PAGES))
def test_forged_session_organization_falls_back_to_a_membership(world: World, path: str) -> None:
    """A session naming another tenant's organization (not one of the user's) is ignored."""
    client = client_for(world, "owner_a")
    session = client.session
    session[ORGANIZATION_KEY] = world.b.org.id
    session.save()
    assert client.session[ORGANIZATION_KEY] == world.b.org.id
    before = snapshot(world)

    response = client.get(path)

    assert response.status_code == 200
    assert ORG_PAGES[path](world.a) in response.content.decode()
    assert_no_leak(world, "owner_a", response)
    # ...and writes go to A, never to B.
    invited = client.post("/organization/", {"action": "invite", "email": "x@z.example.net"})
    assert invited.status_code == 302
    assert_unchanged_except(world, before, "a")
    assert world.a.org.invitations.filter(email="x@z.example.net").exists()


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/settings/api-keys", {"revoke": "abc"}),
        ("/organization/", {"action": "revoke-invitation", "invitation": "abc"}),
        (f"/sites/{ALPHA}/goals", {"delete": "abc"}),
        (f"/sites/{ALPHA}/shared-links", {"delete": "abc"}),
    ],
    ids=["key-revoke", "invitation-revoke", "goal-delete", "link-delete"],
)
def test_malformed_ids_are_a_bad_request(world: World, path: str, data: dict[str, str]) -> None:
    """An id that is not a number is the form's fault (400 with a message), not a 500."""
    client = client_for(world, "owner_a")
    client.raise_request_exception = False
    before = snapshot(world)

    response = client.post(path, data)

    assert response.status_code == 400
    assert_unchanged_except(world, before, None)


def _post_json(client: Client, path: str, body: dict[str, Any]) -> HttpResponse:
    return client.post(path, data=json.dumps(body), content_type="application/json")


STATS_CALLS: dict[str, Callable[[Client, str], HttpResponse]] = {
    "query": lambda c, domain: _post_json(
        c,
        "/api/v2/query",
        {
            "site_id": domain,
            "metrics": ["visitors"],
            "date_range": "7d",
            "dimensions": ["event:page"],
        },
    ),
    "funnel": lambda c, domain: _post_json(
        c,
        "/api/v1/funnels/query",
        {
            "site_id": domain,
            "date_range": "7d",
            "steps": [{"type": "page", "pattern": "/"}, {"type": "event", "name": "Signup"}],
        },
    ),
    "realtime": lambda c, domain: c.get("/api/v1/realtime", {"site_id": domain}),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", API_ACTORS)
@pytest.mark.parametrize("call", list(STATS_CALLS))
def test_api_stats(world: World, call: str, actor: str, target: str) -> None:
    """Reading stats needs `stats:read` (which the "no sites:manage" key has) and a member."""
    tenant = world.tenant(target)
    response = STATS_CALLS[call](client_for(world, actor), tenant.site.domain)

    as_actor = "key_a" if actor == "noscope_key_a" else actor
    expected = api_expectation(as_actor, target, write=False, success=200)
    assert response.status_code == expected, response.content[:500]
    assert_no_leak(world, as_actor, response)
    if expected >= 400:
        assert_api_error(as_actor, response, expected)
