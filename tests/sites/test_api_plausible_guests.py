"""Plausible's site guests (`/api/v1/sites/guests`) onto Trail's people: the site
organization's members (accepted) and live invitations (invited); a guest invited as
Plausible's editor is Trail's admin; removing one revokes the invitation or the membership.
Scopes are the members' (`members:read`, `members:manage`); tenancy as everywhere."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, Scope
from sites.models import Site
from tests import factories
from tests.api_client import bearer, send

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sites/guests"


@pytest.fixture
def org() -> Any:
    return factories.organization(owner=factories.user("owner@example.com"))


@pytest.fixture
def site(org: Any) -> Site:
    return factories.site(org, "shop.example.com")


@pytest.fixture
def api(org: Any, site: Site) -> Client:
    _, raw = factories.api_key(org)
    return bearer(raw)


def _guests(api: Client) -> list[dict[str, Any]]:
    answer = api.get(BASE, {"site_id": "shop.example.com"})
    assert answer.status_code == 200, answer.content
    return list(answer.json()["guests"])


def test_invite_list_and_remove_as_plausibles_clients(
    api: Client, org: Any, site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    viewer = factories.member(org, Role.VIEWER, "vera@example.com")
    assert _guests(api) == [
        {"email": "owner@example.com", "role": "owner", "accepted": True, "status": "accepted"},
        {"email": "vera@example.com", "role": "viewer", "accepted": True, "status": "accepted"},
    ]
    # Plausible's documented example: PUT {site_id, email, role}.
    with django_capture_on_commit_callbacks(execute=True):
        invited = send(
            api,
            "put",
            BASE,
            {"site_id": "shop.example.com", "email": "Alice@Example.com", "role": "editor"},
        )
    assert invited.status_code == 200, invited.content
    assert invited.json() == {
        "email": "alice@example.com",
        "role": "editor",
        "accepted": False,
        "status": "invited",
    }
    invitation = Invitation.objects.get(organization=org, email="alice@example.com")
    assert invitation.role == Role.ADMIN  # Plausible's editor is Trail's admin
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    again = send(
        api,
        "put",
        BASE,
        {"site_id": "shop.example.com", "email": "alice@example.com", "role": "viewer"},
    )
    assert again.json()["role"] == "editor"  # found as it is, not changed (as Plausible)
    assert Invitation.objects.filter(organization=org).count() == 1
    member = send(
        api,
        "put",
        BASE,
        {"site_id": "shop.example.com", "email": "vera@example.com", "role": "editor"},
    )
    assert member.json() == {
        "email": "vera@example.com",
        "role": "viewer",
        "accepted": True,
        "status": "accepted",
    }
    assert [g["email"] for g in _guests(api)] == [
        "owner@example.com",
        "vera@example.com",
        "alice@example.com",
    ]

    revoked = api.delete(f"{BASE}/alice@example.com?site_id=shop.example.com")
    assert (revoked.status_code, revoked.json()) == (200, {"deleted": True})
    assert not Invitation.objects.filter(organization=org).exists()
    removed = send(api, "delete", f"{BASE}/{quote('VERA@example.com')}", {"site_id": site.domain})
    assert removed.json() == {"deleted": True}
    assert not Membership.objects.filter(organization=org, user=viewer).exists()
    nobody = api.delete(f"{BASE}/nobody@example.com?site_id=shop.example.com")
    assert nobody.json() == {"deleted": True}  # as Plausible
    assert [g["email"] for g in _guests(api)] == ["owner@example.com"]


def test_expired_invitations_are_not_guests(api: Client, org: Any) -> None:
    send(
        api,
        "put",
        BASE,
        {"site_id": "shop.example.com", "email": "late@example.com", "role": "viewer"},
    )
    Invitation.objects.filter(email="late@example.com").update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert [g["email"] for g in _guests(api)] == ["owner@example.com"]
    fresh = send(
        api,
        "put",
        BASE,
        {"site_id": "shop.example.com", "email": "late@example.com", "role": "viewer"},
    )
    assert fresh.json()["status"] == "invited"
    assert Invitation.objects.filter(email="late@example.com").count() == 2
    api.delete(f"{BASE}/late@example.com?site_id=shop.example.com")
    assert not Invitation.objects.filter(email="late@example.com").exists()


def test_the_last_owner_is_not_removed(api: Client, org: Any) -> None:
    answer = api.delete(f"{BASE}/owner@example.com?site_id=shop.example.com")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("user: ")
    assert Membership.objects.filter(organization=org, role=Role.OWNER).count() == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"email": "a@example.com", "role": "viewer"}, "site_id: required"),
        ({"site_id": "shop.example.com", "role": "viewer"}, "email: "),
        ({"site_id": "shop.example.com", "email": "a@example.com"}, "role: "),
        ({"site_id": "shop.example.com", "email": "a@example.com", "role": "owner"}, "role: "),
        ({"site_id": "shop.example.com", "email": "a@example.com", "role": "admin"}, "role: "),
        ({"site_id": "shop.example.com", "email": "a@example.com", "role": ["viewer"]}, "role: "),
        ({"site_id": "shop.example.com", "email": "not-an-email", "role": "viewer"}, "email: "),
        ({"site_id": "shop.example.com", "email": "<script>@x", "role": "viewer"}, "email: "),
        (
            {"site_id": "shop.example.com", "email": "a" * 300 + "@x.com", "role": "viewer"},
            "email: ",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: Client, org: Any, body: dict[str, Any], error: str
) -> None:
    answer = send(api, "put", BASE, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(error)
    assert not Invitation.objects.filter(organization=org).exists()


def test_another_tenants_site_is_not_found(api: Client) -> None:
    other_org = factories.organization(owner=factories.user("them@example.com"))
    factories.site(other_org, "theirs.example.com")
    for domain in ("theirs.example.com", "nowhere.example.com"):
        assert api.get(BASE, {"site_id": domain}).status_code == 404
        body = {"site_id": domain, "email": "x@example.com", "role": "viewer"}
        assert send(api, "put", BASE, body).status_code == 404
        gone = api.delete(f"{BASE}/them@example.com?site_id={domain}")
        assert gone.status_code == 404
    assert not Invitation.objects.exists()
    assert Membership.objects.filter(organization=other_org).count() == 1


def test_scopes_are_the_members_ones(org: Any, site: Site) -> None:
    body = {"site_id": site.domain, "email": "x@example.com", "role": "viewer"}
    _, sites_manage = factories.api_key(org, scopes=(Scope.SITES_MANAGE,))
    sites_key = bearer(sites_manage)
    listed = sites_key.get(BASE, {"site_id": site.domain})
    assert listed.status_code == 403
    assert "members:read" in listed.json()["error"]
    assert send(sites_key, "put", BASE, body).status_code == 403
    _, read = factories.api_key(org, scopes=(Scope.MEMBERS_READ,))
    reader = bearer(read)
    assert reader.get(BASE, {"site_id": site.domain}).status_code == 200
    refused = send(reader, "put", BASE, body)
    assert refused.status_code == 403
    assert "members:manage" in refused.json()["error"]
    assert reader.delete(f"{BASE}/owner@example.com?site_id={site.domain}").status_code == 403
    assert not Invitation.objects.exists()


def test_a_key_acts_with_its_makers_role_now(org: Any, site: Site) -> None:
    _, raw = factories.api_key(org)
    owner = org.memberships.get(role=Role.OWNER)
    admin = factories.member(org, Role.ADMIN, "ada@example.com")
    key = bearer(raw)
    # The maker is the owner: works. Then the maker is only a viewer: refused.
    ok = send(
        key, "put", BASE, {"site_id": site.domain, "email": "b@example.com", "role": "viewer"}
    )
    assert ok.status_code == 200
    Membership.objects.filter(pk=owner.pk).update(role=Role.VIEWER)
    Membership.objects.filter(user=admin).update(role=Role.OWNER)
    refused = send(
        key, "put", BASE, {"site_id": site.domain, "email": "c@example.com", "role": "viewer"}
    )
    assert refused.status_code == 403
    assert not Invitation.objects.filter(email="c@example.com").exists()


def test_a_signed_in_viewer_may_list_but_not_invite(org: Any, site: Site) -> None:
    viewer = factories.member(org, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert client.get(BASE, {"site_id": site.domain}).status_code == 200
    body = {"site_id": site.domain, "email": "x@example.com", "role": "viewer"}
    assert send(client, "put", BASE, body).status_code == 403
    assert client.delete(f"{BASE}/owner@example.com?site_id={site.domain}").status_code == 403
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"site_id": "shop.example.com", "email": "\\ud800@example.com", "role": "viewer"}',
        b'{"site_id": "shop.example.com", "email": "a@example.com", "role": "viewer", "\\udc00": 1}',
        b'{"site_id": "shop.example.com", "role": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_hostile_bodies_are_a_400(api: Client, org: Any, raw: bytes) -> None:
    answer = api.put(BASE, raw, content_type="application/json")
    assert answer.status_code == 400, answer.content[:300]
    assert set(answer.json()) == {"error"}
    assert not Invitation.objects.filter(organization=org).exists()


def test_a_hostile_email_in_the_path_removes_nobody(api: Client, org: Any) -> None:
    factories.member(org, Role.VIEWER, "vera@example.com")
    for email in ("%00", "vera%40example.com%0A", "%25", "' OR 1=1 --", "*@example.com"):
        answer = api.delete(f"{BASE}/{email}?site_id=shop.example.com")
        assert answer.status_code in (200, 400), answer.content
    assert Membership.objects.filter(organization=org).count() == 2
