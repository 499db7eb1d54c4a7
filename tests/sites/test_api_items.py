"""The REST API for a site's goals, funnels, shared links and settings, and Plausible's
Sites API words for them: the dashboard's services behind both, its roles and the keys'
scopes and site limits in front."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, Scope
from sites import services
from sites.models import Funnel, Goal, SharedLink, Site
from tests import factories
from tests.api_client import bearer, send

pytestmark = pytest.mark.django_db


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


# Goals


def test_goals_create_list_get_update_delete(api: Client, site: Site) -> None:
    base = "/api/v1/sites/shop.example.com/goals"
    made = send(api, "post", base, {"goal_type": "event", "event_name": "Signup"})
    assert made.status_code == 201, made.content
    goal = made.json()
    assert goal == {
        "id": goal["id"],
        "display_name": "Signup",
        "goal_type": "event",
        "event_name": "Signup",
        "page_path": None,
        "currency": None,
        "domain": "shop.example.com",
    }
    page = send(api, "post", base, {"goal_type": "page", "page_path": "/thanks/*"})
    assert page.json()["display_name"] == "Visit /thanks/*"
    listed = api.get(base).json()["goals"]
    assert [g["display_name"] for g in listed] == ["Signup", "Visit /thanks/*"]
    assert api.get(f"{base}/{goal['id']}").json() == goal
    changed = send(
        api,
        "put",
        f"{base}/{goal['id']}",
        {"goal_type": "event", "event_name": "Purchase", "currency": "eur"},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["currency"] == "EUR"
    assert Goal.objects.get(pk=goal["id"]).value == "Purchase"
    assert api.delete(f"{base}/{goal['id']}").status_code == 204
    assert api.get(f"{base}/{goal['id']}").status_code == 404
    # The dashboard's goals page shows what the API made.
    assert list(site.goals.values_list("value", flat=True)) == ["/thanks/*"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "goal_type: This field is required."),
        ({"goal_type": "click"}, 'goal_type: "click" is not a valid choice.'),
        ({"goal_type": "event"}, "event_name: required for goal_type 'event'"),
        ({"goal_type": "page", "page_path": "thanks"}, "page_path: 'thanks' must start with /"),
        ({"goal_type": "event", "event_name": "x" * 121}, "event_name: an event name has 1 to"),
        ({"goal_type": "page", "page_path": "/a", "currency": "EUR"}, "currency: only a custom"),
        ({"goal_type": "event", "event_name": "A", "currency": "EURO"}, "currency: a currency"),
        ([1, 2], "body: expected a JSON object"),
        ("{nope", "body: "),
    ],
)
def test_goal_bad_input_names_the_field(api: Client, body: Any, error: str) -> None:
    answer = send(api, "post", "/api/v1/sites/shop.example.com/goals", body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error), answer.json()
    assert not Goal.objects.exists()


def test_the_same_goal_twice_is_refused(api: Client) -> None:
    body = {"goal_type": "event", "event_name": "Signup"}
    assert send(api, "post", "/api/v1/sites/shop.example.com/goals", body).status_code == 201
    again = send(api, "post", "/api/v1/sites/shop.example.com/goals", body)
    assert again.status_code == 400
    assert again.json()["error"] == "event_name: this goal exists already"


# Funnels

STEPS = [{"type": "page", "pattern": "/pricing"}, {"type": "event", "name": "Signup"}]


def test_funnels_crud_in_the_query_api_shape(api: Client, site: Site) -> None:
    base = "/api/v1/sites/shop.example.com/funnels"
    made = send(api, "post", base, {"name": "Pricing to signup", "steps": STEPS})
    assert made.status_code == 201, made.content
    funnel = made.json()
    assert funnel["steps"] == STEPS
    assert funnel["window"] == 1800
    assert Funnel.objects.get(pk=funnel["id"]).steps == [
        {"type": "page", "value": "/pricing"},
        {"type": "event", "value": "Signup"},
    ]
    assert api.get(base).json() == {"funnels": [funnel]}
    changed = send(
        api, "put", f"{base}/{funnel['id']}", {"name": "Renamed", "steps": STEPS, "window": 60}
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["window"]) == ("Renamed", 60)
    assert api.get(f"{base}/{funnel['id']}").json()["name"] == "Renamed"
    assert api.delete(f"{base}/{funnel['id']}").status_code == 204
    assert not Funnel.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "F"}, "steps: expected a list of steps"),
        ({"name": "F", "steps": STEPS[:1]}, "steps: a funnel has 2 to 8 steps"),
        ({"name": "F", "steps": [STEPS[0], {"type": "page"}]}, "steps[1].pattern: expected"),
        ({"name": "F", "steps": [STEPS[0], {"type": "x"}]}, "steps[1].type: expected"),
        ({"name": "", "steps": STEPS}, "name: a funnel name has 1 to"),
        ({"name": 5, "steps": STEPS}, "name: expected a string"),
        ({"name": "F", "steps": STEPS, "window": "60"}, "window: expected a whole number"),
        ({"name": "F", "steps": STEPS, "window": 0}, "window: expected 1 to"),
        ({"name": "\udb09\uddfc\x00m", "steps": STEPS}, "name: may not contain the NUL"),
        (
            {"name": "F", "steps": [STEPS[0], {"type": "event", "name": "K\x00"}]},
            "steps[1]: may not contain the NUL",
        ),
    ],
)
def test_funnel_bad_input_names_the_field(api: Client, body: Any, error: str) -> None:
    answer = send(api, "post", "/api/v1/sites/shop.example.com/funnels", body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error), answer.json()
    assert not Funnel.objects.exists()


def test_a_funnel_renamed_to_a_nul_is_refused_and_kept(api: Client, site: Site) -> None:
    base = "/api/v1/sites/shop.example.com/funnels"
    funnel = send(api, "post", base, {"name": "F", "steps": STEPS}).json()
    answer = send(api, "put", f"{base}/{funnel['id']}", {"name": "G\x00", "steps": STEPS})
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith("name: may not contain the NUL")
    assert Funnel.objects.get(pk=funnel["id"]).name == "F"


# Shared links


def test_shared_links_create_list_revoke(api: Client, site: Site) -> None:
    base = "/api/v1/sites/shop.example.com/shared-links"
    made = send(api, "post", base, {"name": "Board", "password": "long enough"})
    assert made.status_code == 201, made.content
    link = made.json()
    slug = SharedLink.objects.get().slug
    assert link["url"].endswith(f"/share/shop.example.com?auth={slug}")
    assert link["has_password"] is True
    assert "password" not in link
    assert api.get(base).json() == {"shared_links": [link]}
    # The link opens the read-only dashboard.
    assert Client().get(f"/share/shop.example.com?auth={slug}").status_code in (200, 401)
    assert api.delete(f"{base}/{link['id']}").status_code == 204
    assert api.delete(f"{base}/{link['id']}").status_code == 404
    short = send(api, "post", base, {"name": "x", "password": "short"})
    assert short.status_code == 400
    assert short.json()["error"].startswith("password: a link password has at least 8")


# Settings


def test_site_settings_through_the_sites_api(api: Client, site: Site) -> None:
    changed = send(
        api,
        "put",
        "/api/v1/sites/shop.example.com",
        {
            "timezone": "Europe/Berlin",
            "excluded_ips": ["203.0.113.9/24"],
            "excluded_paths": ["/admin/*"],
            "honor_dnt": True,
        },
    )
    assert changed.status_code == 200, changed.content
    site.refresh_from_db()
    assert (site.timezone, site.excluded_ips, site.excluded_paths, site.honor_dnt) == (
        "Europe/Berlin",
        ["203.0.113.0/24"],
        ["/admin/*"],
        True,
    )


# Plausible's Sites API


def test_plausible_goals_find_or_create_list_delete(api: Client, site: Site) -> None:
    body = {"site_id": "shop.example.com", "goal_type": "event", "event_name": "Signup"}
    first = send(api, "put", "/api/v1/sites/goals", body)
    assert first.status_code == 200, first.content
    again = send(api, "put", "/api/v1/sites/goals", body)
    assert again.json() == first.json()
    assert first.json()["goal_type"] == "event"
    page = send(
        api,
        "put",
        "/api/v1/sites/goals",
        {"site_id": "shop.example.com", "goal_type": "page", "page_path": "/thanks"},
    ).json()
    assert (page["page_path"], page["event_name"]) == ("/thanks", None)
    listed = api.get("/api/v1/sites/goals", {"site_id": "shop.example.com"}).json()
    assert [g["id"] for g in listed["goals"]] == [page["id"], first.json()["id"]]  # newest first
    assert listed["meta"] == {"after": None, "before": None, "limit": 100}
    gone = send(api, "delete", f"/api/v1/sites/goals/{page['id']}", {"site_id": "shop.example.com"})
    assert gone.json() == {"deleted": True}
    by_query = api.delete(f"/api/v1/sites/goals/{first.json()['id']}?site_id=shop.example.com")
    assert by_query.json() == {"deleted": True}
    assert not Goal.objects.exists()
    missing = api.delete(f"/api/v1/sites/goals/{page['id']}?site_id=shop.example.com")
    assert missing.status_code == 404


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode()


def test_plausible_goals_pages_with_cursors(api: Client, site: Site) -> None:
    for n in range(5):
        services.goal_create(site=site, kind="event", value=f"E{n}")
    first = api.get("/api/v1/sites/goals", {"site_id": "shop.example.com", "limit": 2}).json()
    assert [g["event_name"] for g in first["goals"]] == ["E4", "E3"]
    assert first["meta"]["before"] is None and first["meta"]["after"]
    second = api.get(
        "/api/v1/sites/goals",
        {"site_id": "shop.example.com", "limit": 2, "after": first["meta"]["after"]},
    ).json()
    assert [g["event_name"] for g in second["goals"]] == ["E2", "E1"]
    back = api.get(
        "/api/v1/sites/goals",
        {"site_id": "shop.example.com", "limit": 2, "before": second["meta"]["before"]},
    ).json()
    assert back["goals"] == first["goals"]
    forged = [
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"after": "%%%"}, "after"),
        ({"after": first["meta"]["after"], "before": first["meta"]["after"]}, "before"),
        ({"after": _cursor("abc")}, "after"),  # a domain's cursor where an id's belongs
        ({"before": _cursor(2**70)}, "before"),
        ({"after": _cursor(True)}, "after"),
    ]
    for params, field in forged:
        bad = api.get("/api/v1/sites/goals", {"site_id": "shop.example.com", **params})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith(f"{field}: ")
    missing = api.get("/api/v1/sites/goals")
    assert (missing.status_code, missing.json()["error"]) == (
        400,
        "site_id: required: the site's domain",
    )


def test_plausible_shared_link_find_or_create(api: Client, site: Site) -> None:
    body = {"site_id": "shop.example.com", "name": "Wordpress"}
    first = send(api, "put", "/api/v1/sites/shared-links", body)
    assert first.status_code == 200, first.content
    assert set(first.json()) == {"name", "url"}
    assert send(api, "put", "/api/v1/sites/shared-links", body).json() == first.json()
    assert SharedLink.objects.count() == 1
    form = api.put(
        "/api/v1/sites/shared-links",
        data="site_id=shop.example.com&name=Wordpress",
        content_type="application/x-www-form-urlencoded",
    )
    assert form.json() == first.json()
    no_name = send(api, "put", "/api/v1/sites/shared-links", {"site_id": "shop.example.com"})
    assert (no_name.status_code, no_name.json()["error"]) == (400, "name: This field is required.")


def test_sites_list_pages_as_plausible(org: Any) -> None:
    for name in "abcde":
        factories.site(org, f"{name}.example.org")
    _, raw = factories.api_key(org)
    api = bearer(raw)
    first = api.get("/api/v1/sites", {"limit": 3}).json()
    assert [s["domain"] for s in first["sites"]] == [
        "a.example.org",
        "b.example.org",
        "c.example.org",
    ]
    assert {"domain", "timezone"} <= set(first["sites"][0])  # Plausible's fields among Trail's
    rest = api.get("/api/v1/sites", {"limit": 3, "after": first["meta"]["after"]}).json()
    assert [s["domain"] for s in rest["sites"]] == ["d.example.org", "e.example.org"]
    assert rest["meta"]["after"] is None and rest["meta"]["before"]


# Tenancy, roles, scopes and limited keys

OTHER = "other-tenant.example.net"
MADE_UP = "made-up.example.net"


def _other_tenant() -> tuple[Site, Goal, Funnel, SharedLink]:
    other = factories.site(factories.organization(), OTHER)
    goal = services.goal_create(site=other, kind="event", value="Secret")
    funnel = services.funnel_create(
        site=other,
        name="F",
        steps=[{"type": "page", "value": "/a"}, {"type": "page", "value": "/b"}],
        window=60,
    )
    link = services.shared_link_create(site=other, name="L")
    return other, goal, funnel, link


def _calls(domain: str, goal: int, funnel: int, link: int) -> list[tuple[str, str, Any]]:
    goal_body = {"goal_type": "event", "event_name": "X"}
    funnel_body = {"name": "F", "steps": STEPS}
    return [
        ("get", f"/api/v1/sites/{domain}/goals", None),
        ("post", f"/api/v1/sites/{domain}/goals", goal_body),
        ("get", f"/api/v1/sites/{domain}/goals/{goal}", None),
        ("put", f"/api/v1/sites/{domain}/goals/{goal}", goal_body),
        ("delete", f"/api/v1/sites/{domain}/goals/{goal}", None),
        ("get", f"/api/v1/sites/{domain}/funnels", None),
        ("post", f"/api/v1/sites/{domain}/funnels", funnel_body),
        ("get", f"/api/v1/sites/{domain}/funnels/{funnel}", None),
        ("put", f"/api/v1/sites/{domain}/funnels/{funnel}", funnel_body),
        ("delete", f"/api/v1/sites/{domain}/funnels/{funnel}", None),
        ("get", f"/api/v1/sites/{domain}/shared-links", None),
        ("post", f"/api/v1/sites/{domain}/shared-links", {"name": "x"}),
        ("delete", f"/api/v1/sites/{domain}/shared-links/{link}", None),
        ("put", f"/api/v1/sites/{domain}", {"timezone": "UTC"}),
        ("get", f"/api/v1/sites/goals?site_id={domain}", None),
        ("put", "/api/v1/sites/goals", {"site_id": domain, **goal_body}),
        ("delete", f"/api/v1/sites/goals/{goal}?site_id={domain}", None),
        ("put", "/api/v1/sites/shared-links", {"site_id": domain, "name": "x"}),
    ]


def _counts() -> tuple[int, int, int]:
    return Goal.objects.count(), Funnel.objects.count(), SharedLink.objects.count()


def test_another_tenants_things_are_not_found_as_made_up_ones(api: Client) -> None:
    other, goal, funnel, link = _other_tenant()
    before = _counts()
    theirs = _calls(OTHER, goal.pk, funnel.pk, link.pk)
    made_up = _calls(MADE_UP, 999999, 999999, 999999)
    for (method, path, body), (_, fake, _) in zip(theirs, made_up, strict=True):
        answer, fake_answer = send(api, method, path, body), send(api, method, fake, body)
        assert answer.status_code == 404, (path, answer.content)
        assert answer.content == fake_answer.content
        assert "Secret" not in answer.content.decode()
    assert _counts() == before
    other.refresh_from_db()
    assert other.timezone == "UTC"


def test_ids_of_another_tenant_under_ones_own_site_are_not_found(api: Client) -> None:
    _, goal, funnel, link = _other_tenant()
    for method, path, body in _calls("shop.example.com", goal.pk, funnel.pk, link.pk):
        if "/goals/" in path or "/funnels/" in path or "/shared-links/" in path:
            answer = send(api, method, path, body)
            assert answer.status_code == 404, (path, answer.content)
            assert answer.json() == {"error": "not found"}
    for odd in ("abc", "²", "١", "9" * 40):  # not an id (int("²") would raise): not found
        assert api.get(f"/api/v1/sites/shop.example.com/goals/{odd}").status_code == 404


def test_viewers_read_but_do_not_write(org: Any, site: Site) -> None:
    goal = services.goal_create(site=site, kind="event", value="Signup")
    viewer = factories.member(org, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/v1/sites/shop.example.com/goals").status_code == 200
    assert client.get("/api/v1/sites/goals?site_id=shop.example.com").status_code == 200
    before = _counts()
    for method, path, body in _calls("shop.example.com", goal.pk, 1, 1):
        if method == "get":
            continue
        answer = send(client, method, path, body)
        assert answer.status_code == 403, (method, path, answer.content)
        assert answer.json()["error"].startswith("viewers cannot")
    assert _counts() == before


def test_keys_need_the_scope(org: Any, site: Site) -> None:
    goal = services.goal_create(site=site, kind="event", value="Signup")
    _, stats_only = factories.api_key(org, scopes=(Scope.STATS_READ,))
    _, read_only = factories.api_key(org, scopes=(Scope.SITES_READ,))
    before = _counts()
    for method, path, body in _calls("shop.example.com", goal.pk, 1, 1):
        answer = send(bearer(stats_only), method, path, body)
        assert answer.status_code == 403, (method, path)
        assert "sites:" in answer.json()["error"]
        ro = send(bearer(read_only), method, path, body)
        if method == "get":
            assert ro.status_code in (200, 404), (path, ro.content)
        else:
            assert ro.status_code == 403, (method, path)
            assert ro.json()["error"] == "this API key lacks the sites:manage scope"
    assert _counts() == before


def test_a_key_limited_to_sites_sees_the_others_as_not_found(org: Any, site: Site) -> None:
    second = factories.site(org, "blog.example.com")
    owner = org.memberships.get(role=Role.OWNER).user
    from accounts import services as accounts

    _, raw = accounts.api_key_create(
        organization=org,
        actor=owner,
        name="shop only",
        scopes=[Scope.SITES_MANAGE, Scope.STATS_READ],
        sites=[site],
    )
    limited = bearer(raw)
    assert limited.get("/api/v1/sites/shop.example.com/goals").status_code == 200
    assert [s["domain"] for s in limited.get("/api/v1/sites").json()["sites"]] == [
        "shop.example.com"
    ]
    hidden = limited.get("/api/v1/sites/blog.example.com/goals")
    made_up = limited.get(f"/api/v1/sites/{MADE_UP}/goals")
    assert (hidden.status_code, hidden.content) == (404, made_up.content)
    stats = send(
        limited,
        "post",
        "/api/v2/query",
        {"site_id": second.domain, "metrics": ["visitors"], "date_range": "7d"},
    )
    assert stats.status_code == 404
    adding = send(limited, "post", "/api/v1/sites", {"domain": "new.example.com"})
    assert adding.status_code == 403
    assert not Site.objects.filter(domain="new.example.com").exists()
    # Deleting its only site leaves the key seeing nothing, not everything.
    services.site_delete(site=site)
    assert limited.get("/api/v1/sites").json()["sites"] == []
    assert limited.get("/api/v1/sites/blog.example.com").status_code == 404


def test_plausible_form_bodies_create_and_rename_a_site(org: Any) -> None:
    _, raw = factories.api_key(org)
    api = bearer(raw)
    made = api.post("/api/v1/sites", {"domain": "form.example.com", "timezone": "Europe/London"})
    assert made.status_code == 201, made.content  # multipart, as curl -F sends
    assert (made.json()["domain"], made.json()["timezone"]) == ("form.example.com", "Europe/London")
    renamed = api.put(
        "/api/v1/sites/form.example.com",
        data="domain=renamed.example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert renamed.status_code == 200, renamed.content
    assert Site.objects.filter(domain="renamed.example.com", organization=org).exists()
