"""Plausible's Sites API for sites and goals, as its published clients call it: site create,
get, update (`PUT` with a new domain) and delete in Plausible's request and answer shapes on
the same paths as Trail's own (whose answers are a superset), goals made with `PUT` or
`POST`, and Plausible's words never read as a domain (docs/plausible-sites-api.md).

The request bodies are paraphrases of the examples of Plausible's Sites API reference."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, Scope
from sites.models import Goal, Site
from tests import factories
from tests.api_client import bearer, send

pytestmark = pytest.mark.django_db

API_WORDS = ["goals", "shared-links", "custom-props", "guests"]


@pytest.fixture
def org() -> Any:
    return factories.organization()


@pytest.fixture
def api(org: Any) -> Client:
    _, raw = factories.api_key(org)
    return bearer(raw)


def test_a_plausible_client_creates_reads_renames_and_deletes_a_site(api: Client, org: Any) -> None:
    # Plausible's documented create: domain and timezone (and a team_id Trail ignores).
    made = send(
        api,
        "post",
        "/api/v1/sites",
        {"domain": "test-domain.com", "timezone": "Europe/London", "team_id": "abc"},
    )
    assert made.status_code == 201, made.content  # a 2xx, as Plausible's 200
    body = made.json()
    assert body["domain"] == "test-domain.com"
    assert body["timezone"] == "Europe/London"
    assert body["custom_properties"] == []
    assert body["organization_id"] == org.id  # Trail's fields ride along
    site = Site.objects.get(domain="test-domain.com", deleted_at__isnull=True)

    got = api.get("/api/v1/sites/test-domain.com")
    assert got.status_code == 200
    assert {k: got.json()[k] for k in ("domain", "timezone", "custom_properties")} == {
        "domain": "test-domain.com",
        "timezone": "Europe/London",
        "custom_properties": [],
    }

    # Plausible's update: PUT with a new domain.
    renamed = send(api, "put", "/api/v1/sites/test-domain.com", {"domain": "new.test-domain.com"})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["domain"] == "new.test-domain.com"
    assert renamed.json()["timezone"] == "Europe/London"
    site.refresh_from_db()
    assert site.domain == "new.test-domain.com"
    assert api.get("/api/v1/sites/test-domain.com").status_code == 404

    gone = api.delete("/api/v1/sites/new.test-domain.com")
    assert gone.status_code == 200
    assert gone.json() == {"deleted": True}
    site.refresh_from_db()
    assert site.deleted_at is not None
    assert api.get("/api/v1/sites/new.test-domain.com").status_code == 404
    assert api.delete("/api/v1/sites/new.test-domain.com").status_code == 404


def test_a_form_body_creates_a_site_as_plausibles_curl_example(api: Client) -> None:
    made = api.post("/api/v1/sites", {"domain": "form.example.com", "timezone": "Europe/Tallinn"})
    assert made.status_code == 201, made.content
    assert made.json()["timezone"] == "Europe/Tallinn"


@pytest.mark.parametrize("word", API_WORDS)
def test_plausibles_words_are_never_a_domain(api: Client, word: str) -> None:
    refused = send(api, "post", "/api/v1/sites", {"domain": word, "timezone": "UTC"})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("domain: ")
    assert not Site.objects.filter(domain=word).exists()
    renamed = factories.site(factories.organization(), f"{word}-not.example.com")
    assert renamed.domain == f"{word}-not.example.com"  # only the bare word is reserved


@pytest.mark.parametrize("word", API_WORDS)
def test_renaming_a_site_to_a_plausible_word_is_refused(api: Client, org: Any, word: str) -> None:
    factories.site(org, "shop.example.com")
    refused = send(api, "put", "/api/v1/sites/shop.example.com", {"domain": word})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("domain: ")
    assert Site.objects.filter(domain="shop.example.com").exists()


@pytest.mark.parametrize("word", API_WORDS)
def test_get_on_a_word_is_plausibles_endpoint_not_a_site(api: Client, org: Any, word: str) -> None:
    factories.site(org, "shop.example.com")
    answer = api.get(f"/api/v1/sites/{word}")
    # Each word's own view answers (never "not found"): without site_id, a 400 naming it;
    # shared links are only found or made with PUT (as on Plausible).
    if word == "shared-links":
        assert answer.status_code == 405, answer.content
        answer = send(api, "put", f"/api/v1/sites/{word}", {"name": "x"})
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"error": "site_id: required: the site's domain"}


@pytest.mark.parametrize("method", ["put", "post"])
def test_goals_are_made_with_put_and_post(api: Client, org: Any, method: str) -> None:
    factories.site(org, "shop.example.com")
    body = {"site_id": "shop.example.com", "goal_type": "event", "event_name": "Signup"}
    first = send(api, method, "/api/v1/sites/goals", body)
    assert first.status_code == 200, first.content
    again = send(api, method, "/api/v1/sites/goals", body)
    assert again.json() == first.json()
    assert first.json()["goal_type"] == "event"
    assert first.json()["event_name"] == "Signup"
    assert first.json()["page_path"] is None
    page = send(
        api,
        method,
        "/api/v1/sites/goals",
        {"site_id": "shop.example.com", "goal_type": "page", "page_path": "/register"},
    )
    assert page.json()["page_path"] == "/register"
    assert page.json()["display_name"] == "Visit /register"
    stored = sorted(Goal.objects.filter(site__domain="shop.example.com").values_list("value"))
    assert stored == [("/register",), ("Signup",)]


def test_goal_delete_takes_site_id_in_the_body_or_the_query(api: Client, org: Any) -> None:
    site = factories.site(org, "shop.example.com")
    made = [
        send(
            api,
            "post",
            "/api/v1/sites/goals",
            {"site_id": site.domain, "goal_type": "event", "event_name": name},
        ).json()["id"]
        for name in ("A", "B")
    ]
    by_body = send(api, "delete", f"/api/v1/sites/goals/{made[0]}", {"site_id": site.domain})
    assert by_body.json() == {"deleted": True}
    by_query = api.delete(f"/api/v1/sites/goals/{made[1]}?site_id={site.domain}")
    assert by_query.json() == {"deleted": True}
    assert not Goal.objects.filter(site=site).exists()
    missing = api.delete(f"/api/v1/sites/goals/{made[1]}")
    assert missing.status_code == 400
    assert missing.json() == {"error": "site_id: required: the site's domain"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"goal_type": "event", "event_name": "x"}, "site_id: required"),
        ({"site_id": "shop.example.com", "event_name": "x"}, "goal_type: "),
        ({"site_id": "shop.example.com", "goal_type": "event"}, "event_name: required"),
        (
            {"site_id": "shop.example.com", "goal_type": "page", "page_path": "no-slash"},
            "page_path",
        ),
        ({"site_id": "shop.example.com", "goal_type": "visit", "event_name": "x"}, "goal_type: "),
        ({"site_id": ["shop.example.com"], "goal_type": "event", "event_name": "x"}, "site_id"),
    ],
)
def test_post_goal_bad_input_is_a_400_naming_the_field(
    api: Client, org: Any, body: dict[str, Any], error: str
) -> None:
    factories.site(org, "shop.example.com")
    answer = send(api, "post", "/api/v1/sites/goals", body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(error)
    assert not Goal.objects.exists()


def test_another_tenants_site_is_not_found(api: Client) -> None:
    other = factories.site(factories.organization(), "theirs.example.com")
    assert api.get("/api/v1/sites/theirs.example.com").status_code == 404
    assert send(api, "put", f"/api/v1/sites/{other.domain}", {"domain": "x.com"}).status_code == 404
    assert api.delete(f"/api/v1/sites/{other.domain}").status_code == 404
    body = {"site_id": other.domain, "goal_type": "event", "event_name": "Signup"}
    assert send(api, "post", "/api/v1/sites/goals", body).status_code == 404
    other.refresh_from_db()
    assert other.deleted_at is None
    assert other.domain == "theirs.example.com"
    assert not Goal.objects.exists()


def test_a_key_without_sites_manage_may_read_but_not_write(org: Any) -> None:
    factories.site(org, "shop.example.com")
    _, raw = factories.api_key(org, scopes=(Scope.SITES_READ,))
    reader = bearer(raw)
    assert reader.get("/api/v1/sites/shop.example.com").status_code == 200
    body = {"site_id": "shop.example.com", "goal_type": "event", "event_name": "Signup"}
    for method in ("put", "post"):
        refused = send(reader, method, "/api/v1/sites/goals", body)
        assert refused.status_code == 403
        assert "sites:manage" in refused.json()["error"]
    assert reader.delete("/api/v1/sites/shop.example.com").status_code == 403
    assert send(reader, "post", "/api/v1/sites", {"domain": "new.example.com"}).status_code == 403
    _, stats_only = factories.api_key(org, scopes=(Scope.STATS_READ,))
    assert bearer(stats_only).get("/api/v1/sites/shop.example.com").status_code == 403
    assert Site.objects.filter(deleted_at__isnull=True).count() == 1
    assert not Goal.objects.exists()


def test_a_viewer_signed_in_cannot_delete_a_site(org: Any) -> None:
    factories.site(org, "shop.example.com")
    viewer = factories.member(org, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/v1/sites/shop.example.com").status_code == 200
    assert client.delete("/api/v1/sites/shop.example.com").status_code == 403
    assert Site.objects.filter(domain="shop.example.com", deleted_at__isnull=True).exists()


@pytest.mark.parametrize(
    "domain",
    [
        "a" * 2001,
        "<script>alert(1)</script>.com",
        "../../etc/passwd",
        "exa\x00mple.com",
        "' OR 1=1 --",
        "ex ample.com",
    ],
)
def test_hostile_domains_are_refused(api: Client, domain: str) -> None:
    answer = send(api, "post", "/api/v1/sites", {"domain": domain, "timezone": "UTC"})
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith("domain: ")
    assert not Site.objects.exists()
