"""The signed-in pages: what a person sees, including every error they can cause."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, Invitation, Role, User
from events.clickhouse import ClickHouse
from sites.models import Goal, SharedLink, Site
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client() -> tuple[Client, User]:
    org = factories.organization()
    owner = org.memberships.get().user
    client = Client()
    client.force_login(owner)
    return client, owner


def test_signed_out_people_are_sent_to_log_in(client: Client) -> None:
    for path in ("/sites/", "/sites/new", "/organization/", "/settings/api-keys"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_add_a_site_and_see_its_snippet(owner_client: tuple[Client, User]) -> None:
    client, _ = owner_client
    response = client.post(
        "/sites/new", {"domain": "https://www.My-Blog.org/", "timezone": "Europe/Berlin"}
    )
    assert response.status_code == 302 and response["Location"] == "/sites/my-blog.org/"
    page = html.unescape(client.get("/sites/my-blog.org/").content.decode())
    # The snippet is shown as text to copy, so it is escaped in the HTML.
    assert (
        '<script defer data-domain="my-blog.org" src="http://127.0.0.1:8000/js/trail.js">' in page
    )
    assert "/js/trail.js" in page
    assert "Waiting for the first event" in page


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("10.0.0.1", "an IP address"),
        ("", "enter a domain"),
        ("intra net", "is not a valid domain"),
        ("intranet-.lan", "is not a valid domain"),
        ("a" * 64, "is not a valid domain"),
        ("guests", "is a word of Trail's API"),
    ],
)
def test_bad_site_shows_the_reason(
    owner_client: tuple[Client, User], domain: str, message: str
) -> None:
    client, _ = owner_client
    response = client.post("/sites/new", {"domain": domain, "timezone": "UTC"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert 'aria-invalid="true"' in page and message in page
    assert not Site.objects.exists()


def test_the_new_site_form_asks_the_browser_for_its_zone(
    owner_client: tuple[Client, User],
) -> None:
    """The script is a static file (no inline script); a refused form keeps the posted zone."""
    client, _ = owner_client
    page = client.get("/sites/new").content.decode()
    assert '<script defer src="/static/trail/timezone.js"></script>' in page
    assert '<select id="timezone" name="timezone" data-browser-timezone>' in page
    assert "<script>" not in page and "onload=" not in page
    refused = client.post("/sites/new", {"domain": "my intranet", "timezone": "Asia/Tokyo"})
    page = refused.content.decode()
    assert "data-browser-timezone" not in page and "<option selected>Asia/Tokyo</option>" in page


@pytest.mark.parametrize(
    ("domain", "stored"),
    [
        ("intranet.internal", "intranet.internal"),
        ("http://app.local:8080/", "app.local"),
        ("shop.test", "shop.test"),
        ("nas.lan", "nas.lan"),
        ("intranet", "intranet"),
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_an_intranet_or_staging_name_is_a_site(
    owner_client: tuple[Client, User], domain: str, stored: str
) -> None:
    client, _ = owner_client
    response = client.post("/sites/new", {"domain": domain, "timezone": "UTC"})
    assert response.status_code == 302 and response["Location"] == f"/sites/{stored}/"
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert f'data-domain="{stored}"' in page


def test_installation_check_reads_clickhouse(
    owner_client: tuple[Client, User], clickhouse: ClickHouse, fresh_site_ids: int
) -> None:
    client, owner = owner_client
    site = factories.site(owner.memberships.get().organization)
    assert client.get(f"/sites/{site.domain}/installation").json() == {
        "installed": False,
        "first_event_at": None,
    }
    when = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    clickhouse.insert(
        "events",
        {
            "site_id": [site.id],
            "event_id": [str(uuid.uuid4())],
            "timestamp": [when],
            "name": ["pageview"],
        },
    )
    body = client.get(f"/sites/{site.domain}/installation").json()
    assert body == {"installed": True, "first_event_at": "2026-11-01T12:00:00+00:00"}


def test_settings_are_saved_and_bad_values_explained(owner_client: tuple[Client, User]) -> None:
    client, owner = owner_client
    site = factories.site(owner.memberships.get().organization)
    good = {
        "timezone": "Asia/Tokyo",
        "extra_hostnames": "shop.example.org\n*.example.net",
        "excluded_ips": "203.0.113.9, 10.0.0.0/8",
        "excluded_paths": "/admin/*",
        "honor_dnt": "on",
    }
    assert client.post(f"/sites/{site.domain}/settings", good).status_code == 302
    site.refresh_from_db()
    assert site.timezone == "Asia/Tokyo" and site.honor_dnt and not site.is_public
    assert site.extra_hostnames == ["*.example.net", "shop.example.org"]
    assert site.excluded_ips == ["10.0.0.0/8", "203.0.113.9/32"]
    bad = client.post(f"/sites/{site.domain}/settings", {**good, "excluded_ips": "not-an-ip"})
    assert bad.status_code == 400
    assert "is not an IP address or CIDR range" in bad.content.decode()
    site.refresh_from_db()
    assert site.excluded_ips == ["10.0.0.0/8", "203.0.113.9/32"]


def test_delete_needs_the_domain_typed(owner_client: tuple[Client, User]) -> None:
    client, owner = owner_client
    site = factories.site(owner.memberships.get().organization)
    client.post(f"/sites/{site.domain}/delete", {"confirm": "wrong"})
    assert Site.objects.filter(pk=site.pk, deleted_at__isnull=True).exists()
    assert client.post(f"/sites/{site.domain}/delete", {"confirm": site.domain}).status_code == 302
    assert client.get(f"/sites/{site.domain}/").status_code == 404


def test_goals_and_shared_links(owner_client: tuple[Client, User]) -> None:
    client, owner = owner_client
    site = factories.site(owner.memberships.get().organization)
    assert (
        client.post(
            f"/sites/{site.domain}/goals", {"kind": "pageview", "value": "/signup"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/sites/{site.domain}/goals", {"kind": "event", "value": "Purchase"}
        ).status_code
        == 302
    )
    assert sorted(Goal.objects.values_list("display_name", flat=True)) == [
        "Purchase",
        "Visit /signup",
    ]
    duplicate = client.post(f"/sites/{site.domain}/goals", {"kind": "event", "value": "Purchase"})
    assert duplicate.status_code == 400 and "this goal exists already" in duplicate.content.decode()
    assert (
        client.post(
            f"/sites/{site.domain}/goals", {"kind": "pageview", "value": "signup"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/sites/{site.domain}/goals", {"kind": "event", "value": "x" * 121}
        ).status_code
        == 400
    )
    assert client.post(f"/sites/{site.domain}/goals", {"delete": "not-a-number"}).status_code == 400

    short = client.post(
        f"/sites/{site.domain}/shared-links", {"name": "board", "password": "short"}
    )
    assert short.status_code == 400 and "at least 8 characters" in short.content.decode()
    assert (
        client.post(
            f"/sites/{site.domain}/shared-links", {"name": "board", "password": "long-enough"}
        ).status_code
        == 302
    )
    link = SharedLink.objects.get()
    assert link.has_password and "long-enough" not in link.password_hash
    assert link.slug in client.get(f"/sites/{site.domain}/shared-links").content.decode()
    assert (
        client.post(f"/sites/{site.domain}/shared-links", {"delete": str(link.pk)}).status_code
        == 302
    )
    assert not SharedLink.objects.exists()


def test_api_key_is_shown_once(owner_client: tuple[Client, User]) -> None:
    client, _ = owner_client
    created = client.post(
        "/settings/api-keys", {"name": "deploy", "scopes": ["stats:read", "events:write"]}
    )
    assert created.status_code == 200
    key = ApiKey.objects.get()
    page = created.content.decode()
    raw = page.split('<pre id="new-key">', 1)[1].split("</pre>", 1)[0]
    assert services.api_key_authenticate(raw) == key
    assert raw not in client.get("/settings/api-keys").content.decode()
    no_scope = client.post("/settings/api-keys", {"name": "x"})
    assert no_scope.status_code == 400 and "choose at least one scope" in no_scope.content.decode()
    assert client.post("/settings/api-keys", {"revoke": str(key.pk)}).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_invitation_page_bad_paths(client: Client) -> None:
    assert client.get("/invitations/not-a-token").status_code == 410
    org = factories.organization()
    _, token = services.invitation_create(
        organization=org,
        actor=org.memberships.get().user,
        email="guest@example.com",
        role=Role.VIEWER,
    )
    signed_out = client.get(f"/invitations/{token}")
    assert signed_out.status_code == 200 and "Sign up" in signed_out.content.decode()
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    expired = client.get(f"/invitations/{token}")
    assert expired.status_code == 410 and "expired" in expired.content.decode()


def test_organizations_switch_and_create(owner_client: tuple[Client, User]) -> None:
    client, owner = owner_client
    assert client.post("/organization/new", {"name": "Side project"}).status_code == 302
    assert "Side project" in client.get("/organization/").content.decode()
    first = owner.memberships.order_by("created_at").first()
    assert first is not None
    client.post("/organization/switch", {"organization": str(first.organization_id)})
    assert first.organization.name in client.get("/organization/").content.decode()
    # Switching to an organization one is not a member of changes nothing.
    other = factories.organization(name="Not yours")
    client.post("/organization/switch", {"organization": str(other.id)})
    assert "Not yours" not in client.get("/organization/").content.decode()
